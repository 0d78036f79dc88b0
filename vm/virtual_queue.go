package vm

import "github.com/giltrace/giltrace/tracer"

// before reports whether queued thread u comes before thread v at time t:
// earlier, or at the same time with a lower thread ID (simultaneous events
// are taken in thread order, whoever is running).
func (u *vthread) before(t int64, v *vthread) bool {
	return u.at < t || u.at == t && u.id < v.id
}

// vqueue is the queued threads: a binary min-heap by (at, thread ID), each
// thread at most once (its qi), so that queueing a thread again moves it
// and nothing allocates. Its entries hold their keys and the thread's
// index, no pointer: comparing two reads no thread, and moving one has no
// write barrier for the garbage collector (while it marked, the barriers
// of the pointers' swaps were a tenth of a legacy GIL's simulation,
// docs/performance.md, "Seventeenth pass").
type vqueue struct {
	e  []qentry
	vs []*vthread // the run's threads (vclock.threads), by index
}

// qentry is a queued thread's entry: its time and ID (v.at, v.id), and
// its index in the run's threads.
type qentry struct {
	at int64
	id tracer.ThreadID
	v  int32
}

// len is the number of queued threads.
func (q *vqueue) len() int { return len(q.e) }

// first is the earliest queued thread; the queue is not empty.
func (q *vqueue) first() *vthread { return q.vs[q.e[0].v] }

// firstAt is the earliest queued entry's time; the queue is not empty.
func (q *vqueue) firstAt() int64 { return q.e[0].at }

// get is the thread of the queue's i-th entry (in heap order).
func (q *vqueue) get(i int) *vthread { return q.vs[q.e[i].v] }

func (q *vqueue) less(i, j int) bool {
	a, b := &q.e[i], &q.e[j]
	return a.at < b.at || a.at == b.at && a.id < b.id
}

func (q *vqueue) swap(i, j int) {
	e := q.e
	e[i], e[j] = e[j], e[i]
	q.vs[e[i].v].qi, q.vs[e[j].v].qi = i, j
}

// set queues v at time at, or moves it there.
func (q *vqueue) set(v *vthread, at int64) {
	v.at = at
	if v.qi < 0 {
		v.qi = len(q.e)
		q.e = append(q.e, qentry{at: at, id: v.id, v: v.index})
	} else {
		q.e[v.qi].at = at
	}
	if !q.up(v.qi) {
		q.down(v.qi)
	}
}

// popMin removes and returns the earliest thread, or nil.
func (q *vqueue) popMin() *vthread {
	n := len(q.e) - 1
	if n < 0 {
		return nil
	}
	v := q.vs[q.e[0].v]
	q.e[0] = q.e[n]
	q.e = q.e[:n]
	if n > 0 {
		q.vs[q.e[0].v].qi = 0
		q.down(0)
	}
	v.qi = -1
	return v
}

// remove takes v, queued, out of the queue.
func (q *vqueue) remove(v *vthread) {
	i, n := v.qi, len(q.e)-1
	if i != n {
		q.e[i] = q.e[n]
		q.vs[q.e[i].v].qi = i
	}
	q.e = q.e[:n]
	if i < n && !q.up(i) {
		q.down(i)
	}
	v.qi, v.at = -1, never
}

func (q *vqueue) up(i int) bool {
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

func (q *vqueue) down(i int) {
	n := len(q.e)
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
