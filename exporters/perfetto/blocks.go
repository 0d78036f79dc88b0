package perfetto

import (
	"context"
	"math"

	"github.com/giltrace/giltrace/tracer"
)

// check interns the names in records' order and reports whether every
// block's records are in order: each record after the previous one of its
// block by time, or at its time if it is no slice end or the previous one
// is one. It makes no records: a state or hold slice's begin comes before
// its end (a later time), so only each begin against the previous end
// needs a look; a thread's calls are walked as fill makes them, those of
// no length left out as fill leaves them out.
func (g *gen) check() bool {
	s, sorted := g.s, true
	for lo := 0; lo < len(s.States); { // each thread's states
		prevEnd := int64(math.MinInt64)
		th := s.States[lo].Thread
		for ; lo < len(s.States) && s.States[lo].Thread == th; lo++ {
			sp := &s.States[lo]
			if sp.End <= sp.Start {
				continue
			}
			if sp.Start < prevEnd {
				sorted = false
			}
			prevEnd = sp.End
		}
	}
	for lo := 0; lo < len(s.Calls); { // each thread's calls
		th := s.Calls[lo].Thread
		open := g.open[:0]
		prevT, prevEnd, first := int64(0), false, true
		for ; ; lo++ {
			depth := 0 // close the calls the next one does not nest in; all at the end
			last := lo == len(s.Calls) || s.Calls[lo].Thread != th
			if !last {
				depth = s.Calls[lo].Depth
			}
			for k := len(open); k > 0 && open[k-1].depth >= depth; k-- {
				t := open[k-1].end // a slice end
				if !first && (t < prevT || t == prevT && !prevEnd) {
					sorted = false
				}
				prevT, prevEnd, first = t, true, false
				open = open[:k-1]
			}
			if last {
				break
			}
			c := &s.Calls[lo]
			if c.End <= c.Start { // left out (fill)
				continue
			}
			if g.callNames[c.Stack] == 0 {
				g.callNames[c.Stack] = g.p.intern(s.Trace.Frames[s.Trace.Stacks[c.Stack].Frame].Func)
			}
			if !first && c.Start < prevT { // a begin
				sorted = false
			}
			prevT, prevEnd, first = c.Start, false, false
			open = append(open, openCall{end: c.End, depth: c.Depth})
		}
		g.open = open[:0]
	}
	for _, pr := range g.l.gilsOf() { // each GIL's holds
		prevEnd := int64(math.MinInt64)
		for _, hi := range s.LockHolds(s.Trace.Procs[pr].GIL) {
			h := &s.Holds[hi]
			if h.End <= h.Start {
				continue
			}
			if g.holdNames[h.Thread] == 0 {
				g.holdNames[h.Thread] = g.p.intern(s.Trace.Threads[h.Thread].Name)
			}
			if h.Start < prevEnd {
				sorted = false
			}
			prevEnd = h.End
		}
	}
	g.drop = g.p.intern("drop request") // last, drops or not
	for i := 1; i < len(s.DropRequests); i++ {
		if s.DropRequests[i].Time < s.DropRequests[i-1].Time {
			sorted = false
		}
	}
	return sorted
}

// source is a block of records in the making: kind says which, i and hi
// are its range in the spans it reads (s.States, s.Calls for one thread,
// holds for one GIL), end a slice end to give before the next span, open
// the calls begun and not ended.
type source struct {
	kind   uint8
	hasEnd bool
	track  uint32 // the track of its records, 0 for the drop requests (each on its requester's)
	i, hi  int
	holds  []int32 // a GIL's holds, indexes into s.Holds (Spans.LockHolds)
	end    record
	open   []openCall
}

// openCall is a call begun and not yet ended.
type openCall struct {
	end   int64
	depth int
}

// Kinds of sources, in records' order.
const (
	srcStates = iota
	srcCalls
	srcHolds
	srcDrops
)

// gen makes the records of blocks, with the names interned as records
// interns them: the state names first, then each call's and each hold's
// name at its first use, the drop requests' last.
type gen struct {
	s          *tracer.Spans
	l          *layout
	p          *packer
	stateNames [tracer.NumStates]uint32
	callNames  []uint32 // by stack; 0 until interned
	holdNames  []uint32 // by thread; 0 until interned
	drop       uint32
	open       []openCall // check's scratch
}

func newGen(s *tracer.Spans, l *layout, p *packer) *gen {
	g := &gen{s: s, l: l, p: p, callNames: make([]uint32, len(s.Trace.Stacks)), holdNames: make([]uint32, len(s.Trace.Threads))}
	for st := range tracer.NumStates {
		g.stateNames[st] = p.intern(tracer.State(st).String())
	}
	return g
}

// sources returns the blocks, in records' order, none made yet.
func (g *gen) sources() []source {
	s := g.s
	var srcs []source
	for lo := 0; lo < len(s.States); { // each thread's states: s.States is by thread
		hi := lo + 1
		for hi < len(s.States) && s.States[hi].Thread == s.States[lo].Thread {
			hi++
		}
		srcs = append(srcs, source{kind: srcStates, i: lo, hi: hi, track: g.l.state[s.States[lo].Thread]})
		lo = hi
	}
	for lo := 0; lo < len(s.Calls); { // each thread's calls
		hi := lo + 1
		for hi < len(s.Calls) && s.Calls[hi].Thread == s.Calls[lo].Thread {
			hi++
		}
		srcs = append(srcs, source{kind: srcCalls, i: lo, hi: hi, track: g.l.thread[s.Calls[lo].Thread]})
		lo = hi
	}
	for _, pr := range g.l.gilsOf() { // each GIL's holds
		holds := s.LockHolds(s.Trace.Procs[pr].GIL)
		srcs = append(srcs, source{kind: srcHolds, holds: holds, hi: len(holds), track: g.l.gil[pr]})
	}
	srcs = append(srcs, source{kind: srcDrops, hi: len(s.DropRequests)})
	return srcs
}

// pair puts a slice's begin and end records at buf[*n]; if only the begin
// fits, the end waits in src for the next fill and pair reports false.
func (src *source) pair(buf []record, n *int, begin, end record) bool {
	buf[*n] = begin
	if *n+1 < len(buf) {
		buf[*n+1] = end
		*n += 2
		return true
	}
	src.end, src.hasEnd = end, true
	*n++
	return false
}

// states writes the packets of a thread's state slices, src, as fill and
// event would, without the records in between (most of a trace's
// packets): the sequence begins (*seq and the packer reset) with its first
// slice. It gives up once ctx is done, or the writer failed.
func (g *gen) states(ctx context.Context, src *source, seq *uint32) error {
	s, p := g.s, g.p
	first := true
	for i := src.i; i < src.hi; i++ {
		sp := &s.States[i]
		if sp.End <= sp.Start {
			continue
		}
		if first {
			*seq++
			p.reset(*seq, src.track)
			first = false
		}
		if (i-src.i)%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if p.err != nil {
				return nil
			}
		}
		begin := record{t: sp.Start, track: src.track, name: g.stateNames[sp.State], span: int32(i), typ: typeSliceBegin}
		p.event(&begin)
		end := record{t: sp.End, track: src.track, span: -1, typ: typeSliceEnd}
		if end.track == p.defTrack {
			p.eventShort(&end) // no name, no flows: what event would do
		} else {
			p.event(&end)
		}
	}
	src.i = src.hi
	return nil
}

// fill puts the next records of src in buf, as many as fit, and returns
// how many: 0 once src is done.
func (g *gen) fill(src *source, buf []record) int {
	s, l := g.s, g.l
	n := 0
	if src.hasEnd && n < len(buf) {
		buf[n] = src.end
		n++
		src.hasEnd = false
	}
	switch src.kind {
	case srcStates:
		for ; src.i < src.hi && n < len(buf); src.i++ {
			sp := &s.States[src.i]
			if sp.End <= sp.Start {
				continue
			}
			track := l.state[sp.Thread]
			begin := record{t: sp.Start, track: track, name: g.stateNames[sp.State], span: int32(src.i), typ: typeSliceBegin}
			if !src.pair(buf, &n, begin, record{t: sp.End, track: track, span: -1, typ: typeSliceEnd}) {
				src.i++
				return n
			}
		}
	case srcCalls:
		// Close the calls the next one does not nest in; all at the end.
		for n < len(buf) {
			depth := 0
			if src.i < src.hi {
				depth = s.Calls[src.i].Depth
			}
			if k := len(src.open); k > 0 && src.open[k-1].depth >= depth {
				buf[n] = record{t: src.open[k-1].end, track: src.track, span: -1, typ: typeSliceEnd}
				n++
				src.open = src.open[:k-1]
				continue
			}
			if src.i == src.hi {
				break
			}
			c := &s.Calls[src.i]
			src.i++
			if c.End <= c.Start {
				// A call of no length (begun at a cut trace's last
				// moment) is left out, as trace.json leaves it: written,
				// its end at its begin's time went first once the
				// records were merged by time (order), leaving an end
				// with no open slice and the begin open (QA).
				continue
			}
			name := g.callNames[c.Stack]
			if name == 0 {
				name = g.p.intern(s.Trace.Frames[s.Trace.Stacks[c.Stack].Frame].Func)
				g.callNames[c.Stack] = name
			}
			src.open = append(src.open, openCall{end: c.End, depth: c.Depth})
			buf[n] = record{t: c.Start, track: src.track, name: name, span: -1, typ: typeSliceBegin}
			n++
		}
	case srcHolds:
		for ; src.i < src.hi && n < len(buf); src.i++ {
			h := &s.Holds[src.holds[src.i]]
			track := src.track
			if h.End <= h.Start {
				continue
			}
			name := g.holdNames[h.Thread]
			if name == 0 {
				name = g.p.intern(s.Trace.Threads[h.Thread].Name)
				g.holdNames[h.Thread] = name
			}
			begin := record{t: h.Start, track: track, name: name, span: -1, typ: typeSliceBegin}
			if !src.pair(buf, &n, begin, record{t: h.End, track: track, span: -1, typ: typeSliceEnd}) {
				src.i++
				return n
			}
		}
	case srcDrops:
		for ; src.i < src.hi && n < len(buf); src.i++ {
			r := &s.DropRequests[src.i]
			buf[n] = record{t: r.Time, track: l.state[r.Thread], name: g.drop, span: -1, typ: typeInstant}
			n++
		}
	}
	return n
}
