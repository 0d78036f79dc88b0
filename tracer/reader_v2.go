package tracer

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// The version 2 parts of the reader (docs/trace-format.md, "Version 2"):
// per-thread event records, sync records, the end record's cut, and the
// prefix of a cut-off file.

// threadEvents decodes a version 2 events record: a thread, a count, and
// that many events of the thread, each encoded against the thread's
// previous event. It returns the index (in file order) of the event being
// decoded when it stopped.
func (rd *reader) threadEvents(d *decoder) int {
	th := d.u32()
	n := d.count(2) // an event takes at least 2 bytes: time delta and header
	if d.err != nil {
		return rd.nevents
	}
	if uint64(th) >= uint64(len(rd.t.Threads)) {
		d.fail(fmt.Errorf("thread %d not in the table of %d threads", th, len(rd.t.Threads)))
		return rd.nevents
	}
	for len(rd.thr) <= int(th) {
		rd.thr = append(rd.thr, threadEvents{})
	}
	te := &rd.thr[th]
	evs := rd.room(te, n)
	// The chunk keeps the events decoded, also those before an error
	// (a salvaged read keeps them).
	defer func() { te.chunks[len(te.chunks)-1] = evs }()
	nstacks := uint64(len(rd.t.Stacks))
	for k := range n {
		delta := d.uvarint()
		if d.err == nil && d.i >= len(d.b) {
			d.fail(errors.New("record ends inside an event, expected its header byte"))
		}
		if d.err != nil {
			return rd.nevents + k
		}
		h := d.b[d.i]
		d.i++
		e := Event{Kind: Kind(h & evKindMask), Thread: ThreadID(th)}
		switch {
		case !e.Kind.Valid():
			d.fail(fmt.Errorf("invalid event kind %d in header byte %#02x", h&evKindMask, h))
		case h&evSameThread == 0:
			d.fail(fmt.Errorf("header byte %#02x lacks the same-thread bit, which version 2 always sets", h))
		case delta > math.MaxInt64-uint64(te.time):
			d.fail(fmt.Errorf("time delta %d overflows the time", delta))
		case te.time+int64(delta) > MaxTime:
			d.fail(timeBeyond(te.time + int64(delta)))
		}
		if d.err != nil {
			return rd.nevents + k
		}
		e.Time = te.time + int64(delta)
		e.Stack = te.stack
		if h&evSameStack == 0 {
			s := d.uvarint()
			if s >= nstacks {
				d.fail(fmt.Errorf("stack %d not in the table of %d stacks", s, nstacks))
				return rd.nevents + k
			}
			e.Stack = StackID(s)
		}
		if h&evArgZero == 0 {
			e.Arg = d.arg(e.Kind, h)
		} else if h&evArgRaw != 0 {
			d.fail(errors.New("header has both the arg-zero and the arg-raw flag"))
		}
		if d.err != nil {
			return rd.nevents + k
		}
		evs = append(evs, e)
		te.time, te.stack = e.Time, e.Stack
	}
	rd.nevents += n
	return rd.nevents
}

// maxChunk bounds the chunks a thread's events are read into: 64 Ki
// events, 2 MiB.
const maxChunk = 64 << 10

// room returns the thread's last chunk with room for n more events,
// starting a chunk if it has not, cut from the reader's slab (carve):
// twice the size wanted for the one before, up to maxChunk, and at least
// n (the first, n: a file of many threads of an event or two takes no
// more than their events). The events are never moved: grown as one
// slice, copied at each growth, a thread's events were copied about four
// times over (half of reading a streamed trace's time, and a third of its
// peak memory, was copying them).
func (rd *reader) room(te *threadEvents, n int) []Event {
	if k := len(te.chunks); k > 0 {
		if last := te.chunks[k-1]; cap(last)-len(last) >= n {
			return last
		}
	}
	te.want = max(n, min(2*te.want, maxChunk))
	te.chunks = append(te.chunks, rd.carve(te.want, n))
	return te.chunks[len(te.chunks)-1]
}

// carve returns an empty chunk with room for want events, or for at least
// need when the reader's slab has less left, cut from the slab. Slabs are
// as large as all the slabs before them (the first 8 Ki events), up to
// slabEvents, and from 2 MiB on advised huge pages (hugepage.go), as the
// Recorder's are. Fault for fault, a streamed trace's events in 4 KiB
// pages made reading it five times as slow as a whole one (a fault costs
// about 12 us on a virtual machine; docs/performance.md).
func (rd *reader) carve(want, need int) []Event {
	if len(rd.slab) < need {
		rd.slab = make([]Event, max(need, min(max(rd.slabbed, 8<<10), slabEvents)))
		rd.slabbed += len(rd.slab)
		hugeCovering(rd.slab)
	}
	n := min(want, len(rd.slab))
	c := rd.slab[:0:n]
	rd.slab = rd.slab[n:]
	return c
}

// sync reads a sync record: the time before which the file holds every
// event. Sync times increase.
func (rd *reader) sync(d *decoder) {
	v := d.uvarint()
	switch {
	case d.err != nil:
	case v > math.MaxInt64:
		d.fail(fmt.Errorf("sync time %d overflows the time", v))
	case len(rd.syncs) > 0 && int64(v) <= rd.syncs[len(rd.syncs)-1]:
		d.fail(fmt.Errorf("sync time %d is not after the previous one, %d", v, rd.syncs[len(rd.syncs)-1]))
	default:
		rd.syncs = append(rd.syncs, int64(v))
	}
}

// end2 reads a version 2 end record: dropped, the number of events in the
// file, then optionally flags (truncated, cut) and the cut time.
func (rd *reader) end2(d *decoder) {
	rd.t.Dropped = d.uvarint()
	n := d.uvarint()
	if d.err == nil && n != uint64(rd.nevents) {
		d.fail(fmt.Errorf("the end record counts %d events, the file holds %d", n, rd.nevents))
	}
	if d.i < len(d.b) {
		switch f := d.uvarint(); {
		case f&^(endTruncated|endCut) != 0:
			d.fail(fmt.Errorf("unknown flags %#x in the end record", f))
		case f == 0:
			d.fail(errors.New("flags 0 in the end record, expected them left out"))
		default:
			rd.t.Truncated = f&endTruncated != 0
			if f&endCut != 0 {
				c := d.uvarint()
				if c > math.MaxInt64 {
					d.fail(fmt.Errorf("cut time %d overflows the time", c))
				}
				rd.cut = int64(c)
			}
		}
	}
	rd.ended = true
}

// merge merges the threads' events by time (as Recorder.Finish does) into
// the trace, and applies the end record's cut: events at or after it count
// as dropped. A thread's events are in time order by construction (each
// is a non-negative delta after the previous one).
func (rd *reader) merge() {
	seqs := make([][][]Event, 0, len(rd.thr))
	for i := range rd.thr {
		seqs = append(seqs, rd.thr[i].chunks)
	}
	rd.t.Events = mergeEvents(seqs)
	rd.thr, rd.slab = nil, nil
	if rd.cut >= 0 {
		n := rd.before(rd.cut)
		rd.t.Dropped += uint64(len(rd.t.Events) - n)
		rd.t.Events = rd.t.Events[:n]
	}
}

func cmpTime(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// before is the number of merged events with a time before t.
func (rd *reader) before(t int64) int {
	n, _ := slices.BinarySearchFunc(rd.t.Events, t, func(e Event, t int64) int { return cmpTime(e.Time, t) })
	return n
}

// maxPrefixTries bounds the sync times a cut-off file is tried at.
const maxPrefixTries = 16

// prefix cuts the trace of a cut-off (or damaged) version 2 file to its
// trustworthy part and returns its event count: the events before the last
// sync time, when that is a valid trace. If it is not (a thread emitted,
// after the sync, an event it had timed before it), earlier sync times are
// tried; if none gives a valid trace, or the file has no sync record (it
// was cut in the run's first flush), no event is kept: nothing vouches for
// a prefix in which every thread's events are all there.
func (rd *reader) prefix() (int, error) {
	all := rd.t.Events
	var verr error
	for i := len(rd.syncs) - 1; i >= 0 && i >= len(rd.syncs)-maxPrefixTries; i-- {
		rd.t.Events = all[:rd.before(rd.syncs[i])]
		if verr = rd.t.CheckValid(); verr == nil {
			return len(rd.t.Events), nil
		}
	}
	rd.t.Events = all[:0]
	if err := rd.t.CheckValid(); err != nil {
		return 0, errors.Join(verr, err)
	}
	return 0, nil
}
