package tracer

import (
	"slices"
	"unsafe"
)

// The order log of a sequential recorder (Config.Sequential). A virtual-time
// run's threads take turns, and emit their events nearly in the trace's
// order: a thread acts on shared state only at its turn, at the earliest
// time of all. Merging the per-thread buffers (mergeEvents) then cost a
// heap step per few events, 10-15 % of a contended run's CPU, for an order
// that the run already had. So the recorder logs the thread of each event
// it keeps, in emission order, and Finish takes the events in that order
// (gather), moving the few that come out of place (simultaneous events of
// several threads, emitted in another order than Less's; a thread that
// ran ahead on work of its own) back to their place, or, if their place
// is far back, setting them aside and merging them in at the end. When
// too many are set aside (threads that ran far ahead of each other:
// free-threaded ones, processes), the buffers are merged as before. The
// trace is the same either way: no two events of a recorder are equal by
// Less (a thread's times strictly increase), so there is one order.

// orderLog is the thread of each event kept, in emission order: full
// chunks, then the current one. Its chunks are stored in event arrays
// (eight entries an event), taken as a buffer's chunks are
// (Recorder.array, from firstChunkEvents to chunkEvents events), so
// that they are recycled with them and, in virtual time, are laid out
// and advised huge pages as they are. Arrays of their own (64 KiB,
// allocated between a run's 2 MiB chunks) had cost the chunks beside
// them their huge pages: 10 % more CPU for a run of 1.9 M events.
type orderLog struct {
	on     bool
	chunks [][]uint32 // full
	cur    []uint32   // the current chunk, its first n entries used
	n      int
	events int // the events of the arrays taken so far
}

// grow takes a new chunk (Buffer.emit, when the current one is full): as
// many events as all before it, within [firstChunkEvents, chunkEvents].
func (o *orderLog) grow(r *Recorder) {
	if o.n > 0 {
		o.chunks = append(o.chunks, o.cur[:o.n])
	}
	n := min(max(o.events, firstChunkEvents), chunkEvents)
	o.events += n
	ev := r.array(n)
	o.cur = unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(ev))), n*int(unsafe.Sizeof(Event{})/4))
	o.n = 0
}

// len is the number of events logged.
func (o *orderLog) len() int {
	n := o.n
	for _, c := range o.chunks {
		n += len(c)
	}
	return n
}

// gather writes into out, of countEvents(seqs) events, the events of
// seqs (each thread's chunks, indexed by thread) in the logged order, put
// right where needed (Less, as mergeEvents' output), and reports whether
// it did; it does not when the events are far from that order (then out
// is to be merged into), or without a log.
func (o *orderLog) gather(out []Event, seqs [][][]Event) bool {
	if !o.on || len(out) != o.len() {
		return false // not every event logged: not a sequential run
	}
	// Each thread's current chunk, the index of its next event there,
	// and the chunk's index (moving on writes no pointer: no write
	// barrier but at a new chunk).
	type cursor struct {
		ev         []Event
		pos, chunk int
	}
	cur := make([]cursor, len(seqs))
	for i, seq := range seqs {
		if c := nextChunk(seq, 0); c < len(seq) {
			cur[i] = cursor{ev: seq[c], chunk: c}
		} else {
			cur[i].chunk = c
		}
	}
	// Moving an event back into its place costs its distance: up to
	// gatherWindow events back it is moved, else set aside (late) and
	// merged in at the end. Beyond maxLate of those (threads that ran far
	// ahead of each other), the buffers are merged instead.
	var late []Event
	maxLate := len(out)/8 + 64
	var last *Event
	i, prev := 0, ^uint32(0)
	for ci := range len(o.chunks) + 1 {
		ids := o.cur[:o.n]
		if ci < len(o.chunks) {
			ids = o.chunks[ci]
		}
		for k := 0; k < len(ids); k++ {
			th := ids[k]
			if int(th) >= len(cur) {
				return false
			}
			c := &cur[th]
			if c.pos == len(c.ev) {
				seq := seqs[th]
				if c.chunk = nextChunk(seq, c.chunk+1); c.chunk >= len(seq) {
					return false
				}
				c.ev, c.pos = seq[c.chunk], 0
			}
			e := &c.ev[c.pos]
			if last == nil || !Less(e, last) {
				if th != prev {
					out[i] = *e
					last = &out[i]
					c.pos++
					i++
					prev = th
					continue
				}
				// The rest of a run of th's events in the log, in order
				// as its first two are (a thread's times strictly
				// increase): copied at once, as a GIL holder's hundreds of
				// events between two switches. (Looking for a run at every
				// event cost threads that take turns every event 30 %.)
				n := 1
				for k+n < len(ids) && ids[k+n] == th && c.pos+n < len(c.ev) {
					n++
				}
				copy(out[i:i+n], c.ev[c.pos:c.pos+n])
				c.pos += n
				i += n
				k += n - 1
				last = &out[i-1]
				continue
			}
			// Out of order: its place among those before, if near.
			j := i - 1
			for j > 0 && i-j < gatherWindow && Less(e, &out[j-1]) {
				j--
			}
			c.pos++
			if j > 0 && Less(e, &out[j-1]) {
				if len(late) == maxLate {
					return false
				}
				late = append(late, *e)
				continue
			}
			copy(out[j+1:i+1], out[j:i])
			out[j] = *e
			last = &out[i]
			i++
		}
	}
	if i+len(late) != len(out) {
		return false
	}
	mergeLate(out, i, late)
	return true
}

// gatherWindow is how far back gather moves an event that comes out of
// order; one from further back is set aside and merged in at the end.
// Threads that start together set aside one each: with 1 024 of them,
// thread k's start (at time 0) came after the GIL's events of the k
// before it (times 1 to k, the lock's times strictly increase), and
// moving each back cost the run's whole budget of moves: its trace was
// merged instead, a third of the run's CPU (docs/performance.md,
// "Eighteenth pass").
const gatherWindow = 64

// mergeLate merges late, events set aside, into out, whose first n
// events are in order and whose length is n+len(late): late sorted,
// then the two merged from their ends, in place.
func mergeLate(out []Event, n int, late []Event) {
	if len(late) == 0 {
		return
	}
	slices.SortFunc(late, func(a, b Event) int {
		switch {
		case Less(&a, &b):
			return -1
		case Less(&b, &a):
			return 1
		}
		return 0 // an event with itself: no two events of a recorder are equal by Less
	})
	// From the latest late event back: the events of out[:j] after it
	// move up by k in one copy. (One event at a time, each compared,
	// cost 1 024 threads' run 2.6 % of its instructions: their starts,
	// set aside, belong at the front.) Its place, the first of out[:j]
	// that it comes before, is found by steps back from j that double
	// (late events spread through the trace move short blocks), then a
	// binary search between the last two.
	j := n
	for k := len(late); k > 0; k-- {
		e := &late[k-1]
		lo, hi := 0, j
		for d := 1; ; d *= 2 {
			m := hi - d
			if m < 0 {
				break
			}
			if !Less(e, &out[m]) {
				lo = m + 1
				break
			}
			hi = m
		}
		for lo < hi {
			m := int(uint(lo+hi) >> 1)
			if Less(e, &out[m]) {
				hi = m
			} else {
				lo = m + 1
			}
		}
		copy(out[lo+k:j+k], out[lo:j])
		out[lo+k-1] = *e
		j = lo
	}
}

// recycle empties the log; its chunks are the recorder's arrays, which
// Recorder.recycle gives back.
func (o *orderLog) recycle() {
	o.chunks, o.cur, o.n, o.events = nil, nil, 0, 0
}
