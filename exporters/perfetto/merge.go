package perfetto

import (
	"iter"
	"math"

	"github.com/giltrace/giltrace/tracer"
)

// ordered yields the records of every slice and instant of s (those of
// records) in time order. They are not kept: each block of records (a
// thread's states, a thread's calls, the holds, the drop requests) is
// made a few dozen records at a time (source.fill) and the blocks are
// merged with a tree of losers, each record ordered by its index in
// records for order (within a block they come in that order, and the
// blocks in records' order: a record's block stands for its index). That
// needs each block in order: a first pass checks it (and interns the
// names, in records' order); if one is not (an invalid trace), the
// records are made and merged by inOrder. Export does the same, reading
// the merger without a call of yield per record.
func ordered(s *tracer.Spans, l *layout, p *packer) iter.Seq[record] {
	m := merge(s, l, p)
	if m == nil {
		return inOrder(records(s, l, p))
	}
	return func(yield func(record) bool) {
		for r, ok := m.next(); ok && yield(r); r, ok = m.next() {
		}
	}
}

// merge returns the merger of the records of s (ordered), or nil if a
// block is not in order.
func merge(s *tracer.Spans, l *layout, p *packer) *merger {
	g := newGen(s, l, p)
	if !g.check() {
		return nil
	}
	return newMerger(g)
}

// check interns the names in records' order and reports whether every
// block's records are in order: each record after the previous one of its
// block by time, or at its time if it is no slice end or the previous one
// is one. It makes no records: a state or hold slice's begin comes before
// its end (a later time), so only each begin against the previous end
// needs a look; a thread's calls are walked as fill makes them.
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
	prevEnd := int64(math.MinInt64)
	for i := range s.Holds {
		h := &s.Holds[i]
		if g.l.gilTrack(h.Lock) == 0 || h.End <= h.Start {
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
	g.drop = g.p.intern("drop request") // last, drops or not
	for i := 1; i < len(s.DropRequests); i++ {
		if s.DropRequests[i].Time < s.DropRequests[i-1].Time {
			sorted = false
		}
	}
	return sorted
}

// source is a block of records in the making: kind says which, i and hi
// are its range in the spans it reads (s.States, s.Calls for one thread),
// end a slice end to give before the next span, open the calls begun and
// not ended.
type source struct {
	kind   uint8
	hasEnd bool
	track  uint32
	i, hi  int
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
		srcs = append(srcs, source{kind: srcStates, i: lo, hi: hi})
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
	srcs = append(srcs, source{kind: srcHolds, hi: len(s.Holds)}, source{kind: srcDrops, hi: len(s.DropRequests)})
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
			h := &s.Holds[src.i]
			track := l.gilTrack(h.Lock)
			if track == 0 || h.End <= h.Start {
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

// merger merges the blocks of a gen, each block's records made a buffer
// at a time, with a tree of losers: tree[0] is the block whose next record
// comes first, tree[j] for 0 < j < len(tree) the loser of the match at
// node j (the leaf of block b is node len(tree)+b).
type merger struct {
	g      *gen
	srcs   []source
	buf    []record // per block, size records
	size   int
	pos, n []int32 // per block: its next record's place in its buffer, how many are there
	keys   []mergeKey
	tree   []int32
}

// mergeKey orders a block by its next record: its time, then ends before
// begins and instants, then the block's index (the records' order); a
// block that is done is last.
type mergeKey struct {
	t int64
	k uint64
}

const notEnd = 1 << 62

var doneKey = mergeKey{math.MaxInt64, math.MaxUint64}

func (a mergeKey) less(b mergeKey) bool {
	return a.t < b.t || a.t == b.t && a.k < b.k
}

func newMerger(g *gen) *merger {
	srcs := g.sources()
	nb := len(srcs)
	size := min(64, max(1, (64<<10)/max(nb, 1)))
	m := &merger{g: g, srcs: srcs, size: size, buf: make([]record, nb*size),
		pos: make([]int32, nb), n: make([]int32, nb), keys: make([]mergeKey, nb), tree: make([]int32, nb)}
	for b := range srcs {
		m.load(b)
	}
	if nb == 0 {
		return m
	}
	// The winner of each node, leaves (nb..2nb-1) included, bottom up.
	win := make([]int32, 2*nb)
	for b := range nb {
		win[nb+b] = int32(b)
	}
	for j := nb - 1; j > 0; j-- {
		a, b := win[2*j], win[2*j+1]
		if m.keys[b].less(m.keys[a]) {
			a, b = b, a
		}
		win[j], m.tree[j] = a, b
	}
	m.tree[0] = win[1]
	if nb == 1 {
		m.tree[0] = 0
	}
	return m
}

// load makes block b's next record its key, filling its buffer if need be.
func (m *merger) load(b int) {
	if m.pos[b] == m.n[b] {
		m.pos[b], m.n[b] = 0, int32(m.g.fill(&m.srcs[b], m.buf[b*m.size:(b+1)*m.size]))
		if m.n[b] == 0 {
			m.keys[b] = doneKey
			return
		}
	}
	r := &m.buf[b*m.size+int(m.pos[b])]
	k := uint64(b)
	if r.typ != typeSliceEnd {
		k |= notEnd
	}
	m.keys[b] = mergeKey{r.t, k}
}

// next returns the next record in order, false once all are given.
func (m *merger) next() (record, bool) {
	if len(m.tree) == 0 {
		return record{}, false
	}
	w := int(m.tree[0])
	if m.keys[w] == doneKey {
		return record{}, false
	}
	r := m.buf[w*m.size+int(m.pos[w])]
	m.pos[w]++
	m.load(w)
	// Replay block w's matches up to the root.
	key := m.keys[w]
	for j := (w + len(m.tree)) / 2; j > 0; j /= 2 {
		if o := m.tree[j]; m.keys[o].less(key) {
			m.tree[j], w, key = int32(w), int(o), m.keys[o]
		}
	}
	m.tree[0] = int32(w)
	return r, true
}
