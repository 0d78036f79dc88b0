package vm

// before reports whether queued thread u comes before thread v at time t:
// earlier, or at the same time with a lower thread ID (simultaneous events
// are taken in thread order, whoever is running).
func (u *vthread) before(t int64, v *vthread) bool {
	return u.at < t || u.at == t && u.id < v.id
}

// vqueue is the queued threads: a binary min-heap by (at, thread ID), each
// thread at most once (its qi), so that queueing a thread again moves it
// and nothing allocates.
type vqueue []*vthread

func (q vqueue) less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].id < q[j].id
}

func (q vqueue) swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].qi, q[j].qi = i, j
}

// set queues v at time at, or moves it there.
func (q *vqueue) set(v *vthread, at int64) {
	v.at = at
	if v.qi < 0 {
		v.qi = len(*q)
		*q = append(*q, v)
	}
	if !q.up(v.qi) {
		q.down(v.qi)
	}
}

// popMin removes and returns the earliest thread, or nil.
func (q *vqueue) popMin() *vthread {
	old := *q
	n := len(old) - 1
	if n < 0 {
		return nil
	}
	old.swap(0, n)
	v := old[n]
	old[n] = nil
	*q = old[:n]
	q.down(0)
	v.qi = -1
	return v
}

// remove takes v, queued, out of the queue.
func (q *vqueue) remove(v *vthread) {
	old := *q
	i, n := v.qi, len(old)-1
	if i != n {
		old.swap(i, n)
	}
	old[n] = nil
	*q = old[:n]
	if i < n && !q.up(i) {
		q.down(i)
	}
	v.qi, v.at = -1, never
}

func (q vqueue) up(i int) bool {
	moved := false
	for i > 0 {
		p := (i - 1) / 2
		if !q.less(i, p) {
			break
		}
		q.swap(i, p)
		i, moved = p, true
	}
	return moved
}

func (q vqueue) down(i int) {
	n := len(q)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && q.less(r, l) {
			m = r
		}
		if !q.less(m, i) {
			return
		}
		q.swap(i, m)
		i = m
	}
}
