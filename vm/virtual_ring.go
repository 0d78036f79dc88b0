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
	next, prev []int32  // by thread index: its neighbours in the order; prev -1 if not in the ring
	key        []uint64 // by thread index: its key while in the ring
	head       []int32  // by bucket: its member of lowest key, -1 if none
	tail       []int32  // by bucket: its member of highest key, if it has one
	full       []uint64 // bit b: bucket b has a member
	shift      uint     // a key's bucket: its phase >> shift
	n          int      // members
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
	r.next = grow(r.next, threads)
	r.prev = grow(r.prev, threads)
	r.key = grow(r.key, threads)
	r.head = grow(r.head, nb)
	r.tail = grow(r.tail, nb)
	r.full = grow(r.full, (nb+63)/64)
	for i := range r.prev {
		r.prev[i] = -1
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
func (r *ring) has(i int32) bool { return r.prev[i] >= 0 }

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
	for r.key[i] < k {
		if i = r.next[i]; i == h || r.bucket(r.key[i]) != b {
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
func (r *ring) insert(i int32, k uint64) {
	b := r.bucket(k)
	r.key[i] = k
	r.n++
	h := r.head[b]
	switch {
	case r.n == 1:
		r.next[i], r.prev[i] = i, i
	case h >= 0 && k > r.key[r.tail[b]]:
		p := r.tail[b]
		s := r.next[p]
		r.next[p], r.prev[i], r.next[i], r.prev[s] = i, p, s, i
	default:
		s := r.from(k) // the member after it: k is no other's key (IDs differ)
		p := r.prev[s]
		r.next[p], r.prev[i], r.next[i], r.prev[s] = i, p, s, i
	}
	if h < 0 {
		r.head[b], r.tail[b] = i, i
		r.full[b>>6] |= 1 << (b & 63)
	} else if k < r.key[h] {
		r.head[b] = i
	} else if k > r.key[r.tail[b]] {
		r.tail[b] = i
	}
}

// remove takes thread index i out of the ring, if it is in it.
func (r *ring) remove(i int32) {
	if !r.has(i) {
		return
	}
	b := r.bucket(r.key[i])
	nx, p := r.next[i], r.prev[i]
	if r.head[b] == i {
		if nx != i && r.bucket(r.key[nx]) == b {
			r.head[b] = nx
		} else {
			r.head[b] = -1
			r.full[b>>6] &^= 1 << (b & 63)
		}
	} else if r.tail[b] == i {
		r.tail[b] = p // a member of b before i: b's head is not i
	}
	r.next[p], r.prev[nx] = nx, p
	r.prev[i] = -1
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
		nx := r.next[i]
		b := r.bucket(r.key[i])
		r.head[b] = -1
		r.full[b>>6] = 0
		r.prev[i] = -1
		i = nx
	}
	r.n = 0
}
