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
	te.events = slices.Grow(te.events, n)
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
		te.events = append(te.events, e)
		te.time, te.stack = e.Time, e.Stack
	}
	rd.nevents += n
	return rd.nevents
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
	lists := make([][]Event, 0, len(rd.thr))
	for i := range rd.thr {
		lists = append(lists, rd.thr[i].events)
	}
	rd.t.Events = mergeEvents(lists)
	rd.thr = nil
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
