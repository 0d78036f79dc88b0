package vm

import "math/bits"

// ring is a lazy lock's armed waiters in the ring's order (their keys,
// ringKey: phase, then thread ID), cyclically: a circular doubly linked
// list over the run's thread indices (vclock.threads), with an index of
// buckets by phase that finds where a key belongs.
//
// It replaced a sorted array (2026-12-05) that a waiter's arrival and
// departure moved by memmove (half the array each) after a binary search:
// with 64 contended threads each switch searched it five times and moved
// 1.5 KB, 15 % of the run (docs/performance.md, "Eighteenth pass"). Here
// a departure unlinks its waiter; an arrival and a walk's start look in
// their phase's bucket, which holds a few waiters at most: the waiters'
// phases (where each one's wait began, mod a timed wait) of contended
// threads come about a wake-up latency apart (10 us by default: a switch
// is a timed wait and a wake-up latency long), and a bucket is a timed
// wait split into 16 per thread of the run, at least 64 and at most
// maxRingBuckets buckets (4.9 us at 5 ms with 64 threads).
type ring struct {
	nodes []ringNode // by thread index
	head  []int32    // by bucket: its member of lowest key, -1 if none
	tail  []int32    // by bucket: its member of highest key, if it has one
	full  []uint64   // bit b: bucket b has a member
	shift uint       // a key's bucket: its phase >> shift
	n     int        // members
}

// ringNode is a thread's place in the ring: its key while in the ring,
// and its neighbours in the order (prev -1 if not in the ring). One
// array of them, not one per field: a link reads and writes one
// neighbour's 16 bytes, in one bounds check.
type ringNode struct {
	key        uint64
	next, prev int32
}

// maxRingBuckets bounds a ring's buckets (16 KB of heads): with more than
// 256 threads a bucket holds more of them.
const maxRingBuckets = 4096

// init makes r an empty ring for a run of threads threads and timed waits
// of period (at most maxRingPeriod), keeping what it has allocated.
func (r *ring) init(threads int, period int64) {
	want := min(max(64, 16*threads), maxRingBuckets)
	r.shift = 0
	for (period-1)>>r.shift >= int64(want) {
		r.shift++
	}
	nb := int((period-1)>>r.shift) + 1
	r.nodes = grow(r.nodes, threads)
	r.head = grow(r.head, nb)
	r.tail = grow(r.tail, nb)
	r.full = grow(r.full, (nb+63)/64)
	for i := range r.nodes {
		r.nodes[i].prev = -1
	}
	for i := range r.head {
		r.head[i] = -1
	}
	clear(r.full)
	r.n = 0
}

// grow is s resliced (or made) to length n.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// bucket is key k's bucket.
func (r *ring) bucket(k uint64) int { return int(k >> 32 >> r.shift) }

// has reports whether thread index i is in the ring.
func (r *ring) has(i int32) bool { return r.nodes[i].prev >= 0 }

// from is the member at which a walk from key k begins: the first whose
// key is not lower than k, or, if none is, the one of lowest key (the
// order is cyclic); -1 if the ring is empty.
func (r *ring) from(k uint64) int32 {
	if r.n == 0 {
		return -1
	}
	b := r.bucket(k)
	h := r.head[b]
	if h < 0 {
		return r.head[r.nextFull(b)]
	}
	// Bucket b's members come one after another from h, by key; the
	// first member after them is the next bucket's head (h itself if
	// they are all).
	i := h
	for r.nodes[i].key < k {
		if i = r.nodes[i].next; i == h || r.bucket(r.nodes[i].key) != b {
			break
		}
	}
	return i
}

// nextFull is the first bucket after b, cyclically, that has a member
// (b itself if no other has); the ring is not empty.
func (r *ring) nextFull(b int) int {
	b++
	for range len(r.full) + 1 {
		w := b >> 6
		if w >= len(r.full) {
			b, w = 0, 0
		}
		if m := r.full[w] >> (b & 63); m != 0 {
			return b + bits.TrailingZeros64(m)
		}
		b = (w + 1) << 6
	}
	panic("vm: nextFull of an empty ring")
}

// insert puts thread index i, not in the ring, in it with key k. A key
// above its bucket's highest goes right after that member, without a
// walk: waiters that arrive in the order of their keys (threads that
// start together, their phases equal, in the order of their IDs) walked
// their whole bucket each, 64 threads' starts 5 % of a short run's
// instructions.
func (r *ring) insert(i int32, k uint64) { r.insertNear(i, k, -1) }

// insertNear is insert, told a member s that may come right after k (-1
// if none): if it does, i goes before it without a look at the buckets.
// A contended GIL's new waiter begins its wait a few microseconds after
// the expiry that asked for the drop, and goes right before the waiter
// whose expiry comes next (lock.minV): its phase's bucket is mostly
// empty, and the look for the member after it went through the bitmap to
// the next full one.
func (r *ring) insertNear(i int32, k uint64, s int32) {
	// The slices in locals: a store through one would otherwise make the
	// compiler load them from r again.
	nodes, head, tail := r.nodes, r.head, r.tail
	b := r.bucket(k)
	h := head[b]
	r.n++
	ni := &nodes[i]
	ni.key = k
	if r.n == 1 {
		ni.next, ni.prev = i, i
		head[b], tail[b] = i, i
		r.full[b>>6] |= 1 << (b & 63)
		return
	}
	switch {
	case s >= 0 && nodes[s].prev >= 0 && before(k, nodes[nodes[s].prev].key, nodes[s].key):
	case h >= 0 && k > nodes[tail[b]].key:
		s = nodes[tail[b]].next
	default:
		s = r.from(k) // the member after it: k is no other's key (IDs differ)
	}
	ns := &nodes[s]
	p := ns.prev
	nodes[p].next = i
	ni.prev, ni.next = p, s
	ns.prev = i
	switch {
	case h < 0:
		head[b], tail[b] = i, i
		r.full[b>>6] |= 1 << (b & 63)
	case k < nodes[h].key:
		head[b] = i
	case k > nodes[tail[b]].key:
		tail[b] = i
	}
}

// before reports whether key k, no member's, comes right before the
// member of key ks whose predecessor's key is kp: between the two,
// cyclically.
func before(k, kp, ks uint64) bool {
	if kp < ks {
		return kp < k && k < ks
	}
	return k > kp || k < ks // the member is the lowest (or the only) one
}

// remove takes thread index i out of the ring, if it is in it.
func (r *ring) remove(i int32) {
	nodes, head := r.nodes, r.head
	ni := &nodes[i]
	if ni.prev < 0 {
		return
	}
	b := r.bucket(ni.key)
	nx, p := ni.next, ni.prev
	if head[b] == i {
		if nx != i && r.bucket(nodes[nx].key) == b {
			head[b] = nx
		} else {
			head[b] = -1
			r.full[b>>6] &^= 1 << (b & 63)
		}
	} else if r.tail[b] == i {
		r.tail[b] = p // a member of b before i: b's head is not i
	}
	nodes[p].next = nx
	nodes[nx].prev = p
	ni.prev = -1
	r.n--
}

// empty takes every member out, at a cost of the members, not the
// buckets.
func (r *ring) empty() {
	if r.n == 0 {
		return
	}
	i := r.head[r.nextFull(0)]
	for range r.n {
		nx := r.nodes[i].next
		b := r.bucket(r.nodes[i].key)
		r.head[b] = -1
		r.full[b>>6] = 0
		r.nodes[i].prev = -1
		i = nx
	}
	r.n = 0
}
