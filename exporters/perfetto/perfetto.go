// Package perfetto writes a trace in Perfetto's native protobuf trace
// format (a perfetto.protos.Trace of TracePackets with TrackEvents), the
// compact output for large runs: ui.perfetto.dev and trace_processor read
// it directly, at a fraction of the Chrome JSON's size (docs/outputs.md
// gives the figures).
//
// # Layout
//
// The same as exporters/chrome's:
//
//   - A process track per VM process (its pid and name).
//   - Per guest thread a thread track (its tid and name) with the guest
//     calls as nested slices, and under it a child track "state" with a
//     slice per state span (running, gil-wait, io, native,
//     native-holding, lock-wait) and an instant per drop request it made.
//     A slice of no length (a call begun at the last moment of a trace
//     cut off mid-write) is left out, as exporters/chrome leaves it out.
//   - Per process with a GIL a track "GIL" with a slice per hold, named
//     after the holding thread.
//   - A flow arrow per handoff (GIL and guest locks): from the state slice
//     that ended with the release to the one that began with the acquire.
//   - A track "Warnings", only when the run has some (WithWarnings: a
//     busy machine, a real program's tracing cost), with an instant at
//     time 0 per warning, named "Warning: " and its text.
//
// # Encoding
//
// Written by hand with protowire, field numbers from Perfetto's
// protos/perfetto/trace (trace_packet.proto, track_event/track_event.proto,
// track_event/track_descriptor.proto, clock_snapshot.proto,
// interned_data/interned_data.proto). What keeps it small:
//
//   - Each block of records (a thread's state slices, a thread's call
//     slices, the GIL holds, the drop requests) is a packet sequence of its
//     own (trusted_packet_sequence_id 1, 2, ...), written in time order.
//     Readers merge the sequences by timestamp, as they merge the
//     sequences of a multi-threaded program's Perfetto SDK, so the writer
//     does not (it did: the merge was about half of its time).
//   - Timestamps are deltas: each sequence's first packet defines its
//     incremental clock (id 64, sequence-scoped, ClockSnapshot.is_incremental)
//     against BOOTTIME at the trace's time 0, and TracePacketDefaults makes
//     it the clock of the sequence's packets; each packet's timestamp is
//     then the nanoseconds since the previous one of its sequence, a varint
//     of one to four bytes.
//   - Slice and instant names are interned (InternedData.event_names,
//     TrackEvent.name_iid), each sent once per sequence, with the packet
//     that first uses it.
//   - Track uuids are small integers, and each sequence's first packet
//     makes its block's track the default of its events
//     (TrackEventDefaults.track_uuid), so that an event names its track
//     only when it is another (a drop request's); slice ends carry no
//     name.
//   - A sequence's first packet clears its incremental state, and the
//     event packets after it do not carry SEQ_NEEDS_INCREMENTAL_STATE:
//     that flag only tells trace_processor to skip a packet whose
//     sequence has lost its state (a ring buffer that overwrote its
//     start), which a file written whole never has; without it,
//     trace_processor reads a packet with the sequence's state as it is
//     (proto_trace_reader.cc). Two bytes a packet, a tenth of the file.
package perfetto

import (
	"bufio"
	"cmp"
	"context"
	"fmt"
	"io"
	"iter"
	"slices"
	"sort"

	"github.com/giltrace/giltrace/tracer"
	"google.golang.org/protobuf/encoding/protowire"
)

// Field numbers of perfetto.protos messages used here.
const (
	fTracePacket = 1 // Trace.packet

	fPktTimestamp      = 8
	fPktSequenceID     = 10 // trusted_packet_sequence_id
	fPktTrackEvent     = 11
	fPktInternedData   = 12
	fPktSequenceFlags  = 13
	fPktTimestampClock = 58
	fPktDefaults       = 59 // trace_packet_defaults
	fPktTrackDesc      = 60 // track_descriptor
	fPktClockSnapshot  = 6

	fDefaultsClock       = 58 // TracePacketDefaults.timestamp_clock_id
	fDefaultsTrackEvent  = 11 // TracePacketDefaults.track_event_defaults
	fTEDefaultsTrackUUID = 11 // TrackEventDefaults.track_uuid

	fSnapClocks  = 1 // ClockSnapshot.clocks
	fSnapPrimary = 2 // primary_trace_clock
	fClockID     = 1
	fClockTS     = 2
	fClockIncr   = 3

	fTEType       = 9
	fTENameIID    = 10
	fTETrackUUID  = 11
	fTEFlowIDs    = 47 // fixed64
	fTETermFlowID = 48 // fixed64

	fInternedEventNames = 2
	fNameIID            = 1
	fNameName           = 2

	fTDUUID    = 1
	fTDName    = 2
	fTDProcess = 3
	fTDThread  = 4
	fTDParent  = 5

	fProcPID  = 1
	fProcName = 6

	fThreadPID  = 1
	fThreadTID  = 2
	fThreadName = 5
)

// TrackEvent.Type, ClockSnapshot clocks and TracePacket.SequenceFlags.
const (
	typeSliceBegin = 1
	typeSliceEnd   = 2
	typeInstant    = 3

	clockBoottime    = 6
	clockIncremental = 64

	seqIncrementalStateCleared = 1
	seqNeedsIncrementalState   = 2 // not written: see the package comment
)

// LargeRun is the number of events past which giltrace prefers this
// format to Chrome JSON (record's default outputs, view's Perfetto button):
// Chrome JSON takes about 195 bytes an event (300 MB for 1.5 M events,
// slow in any viewer), this format under 30.
const LargeRun = 1_000_000

// Exporter writes Perfetto's protobuf trace format to a writer. Each
// Export writes one whole trace; calls must not be concurrent.
type Exporter struct {
	w        io.Writer
	warnings []string
}

// WithWarnings makes e write the run's warnings (exporters/report.Warnings:
// a busy machine, a real program's tracing cost) on a track of their own,
// and returns e.
func (e *Exporter) WithWarnings(warnings []string) *Exporter {
	e.warnings = warnings
	return e
}

// New returns an exporter writing to w.
func New(w io.Writer) *Exporter { return &Exporter{w: w} }

// Export writes the trace of the spans s (tracer.Derive of a trace).
//
//  1. Track descriptors: processes, threads, their state tracks, GILs.
//  2. Per block of records (a thread's states, a thread's calls, the GIL
//     holds, the drop requests), a packet sequence of its own: a packet
//     that starts it, then one packet per record, in the block's order
//     (time order), timestamps as deltas, names interned.
//
// Readers order the packets of different sequences by their timestamps
// (trace_processor sorts a whole file's events by time, then by position
// in the file), so the blocks need not be merged. If a block is out of
// order (an invalid trace), every record is merged by time into one
// sequence instead.
func (e *Exporter) Export(ctx context.Context, s *tracer.Spans) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(e.w, 1<<16)
	p := &packer{bw: bw, names: map[string]uint32{}, out: make([]byte, 0, 72<<10)}
	l := newLayout(s.Trace)
	l.describe(p)
	warnings := e.warnings
	if len(warnings) > 0 {
		p.track(l.warnings, 0, "Warnings", 0, nil)
	}
	g := newGen(s, l, p)
	sorted := g.check() // interns every name, in records' order
	p.flows = newFlows(s)
	seq := uint32(0)
	if sorted {
		buf := make([]record, 256)
		i := 0
		for _, src := range g.sources() {
			if src.kind == srcStates {
				if err := g.states(ctx, &src, &seq); err != nil {
					return err
				}
				continue
			}
			for n, first := g.fill(&src, buf), true; n > 0; n, first = g.fill(&src, buf), false {
				if i++; i%16 == 0 {
					if err := ctx.Err(); err != nil {
						return err
					}
					if p.err != nil {
						break
					}
				}
				if first {
					seq++
					p.reset(seq, src.track)
				}
				for k := range buf[:n] {
					p.event(&buf[k])
				}
			}
		}
	} else {
		recs := records(s, l, p)
		seq = 1
		p.reset(seq, 0)
		i := 0
		for r := range inOrder(recs) {
			if i++; i%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			p.event(&r)
		}
	}
	if len(warnings) > 0 {
		// What distorts the run's figures (a busy machine, a real
		// program's tracing cost): instants at time 0 on a track of
		// their own, first in the UI.
		names := make([]uint32, len(warnings))
		for i, w := range warnings {
			names[i] = p.intern("Warning: " + w) // before the sequence's start, which sizes what it sent
		}
		p.reset(seq+1, l.warnings)
		for _, name := range names {
			r := record{t: 0, track: l.warnings, name: name, span: -1, typ: typeInstant}
			p.event(&r)
		}
	}
	if p.flush(); p.err != nil {
		return fmt.Errorf("writing the Perfetto trace: %w", p.err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing the Perfetto trace: %w", err)
	}
	return nil
}

// layout assigns track uuids: processes first, then per thread its
// thread track and its state track, then the GILs.
type layout struct {
	t      *tracer.Trace
	proc   []uint32 // per process
	thread []uint32 // per thread: calls
	state  []uint32 // per thread: states, drop requests
	gil    []uint32 // per process: 0 without a GIL
	tid    []int    // per thread
	// warnings is the track of the run's warnings (WithWarnings), after
	// every other, used only when there are some.
	warnings uint32
	gilProc  map[tracer.LockID]tracer.ProcID
}

// gilsOf lists the processes whose GIL track shows their GIL's holds, in
// order: each with a GIL, the last of those naming the same lock (an
// invalid trace) for it.
func (l *layout) gilsOf() []int {
	var prs []int
	for pr, track := range l.gil {
		if track != 0 && l.gilProc[l.t.Procs[pr].GIL] == tracer.ProcID(pr) {
			prs = append(prs, pr)
		}
	}
	return prs
}

func newLayout(t *tracer.Trace) *layout {
	l := &layout{t: t, proc: make([]uint32, len(t.Procs)), thread: make([]uint32, len(t.Threads)),
		state: make([]uint32, len(t.Threads)), gil: make([]uint32, len(t.Procs)),
		gilProc: map[tracer.LockID]tracer.ProcID{}}
	uuid := uint32(1)
	for i := range t.Procs {
		l.proc[i] = uuid
		uuid++
	}
	// The tids of exporters/chrome's trace.json (tracer.TrackTIDs), which
	// gives each GIL track one too.
	l.tid, _ = tracer.TrackTIDs(t)
	for i := range t.Threads {
		l.thread[i], l.state[i] = uuid, uuid+1
		uuid += 2
	}
	for i, pr := range t.Procs {
		if pr.GIL != tracer.NoLock {
			l.gil[i] = uuid
			l.gilProc[pr.GIL] = tracer.ProcID(i)
			uuid++
		}
	}
	l.warnings = uuid
	return l
}

// describe writes the track descriptors.
func (l *layout) describe(p *packer) {
	for i, pr := range l.t.Procs {
		var proc []byte
		proc = protowire.AppendTag(proc, fProcPID, protowire.VarintType)
		proc = protowire.AppendVarint(proc, uint64(pr.PID))
		proc = appendString(proc, fProcName, pr.Name)
		p.track(l.proc[i], 0, "", fTDProcess, proc)
		if l.gil[i] != 0 {
			p.track(l.gil[i], l.proc[i], "GIL", 0, nil)
		}
	}
	for i, th := range l.t.Threads {
		pid := l.t.Procs[th.Proc].PID
		var thr []byte
		thr = protowire.AppendTag(thr, fThreadPID, protowire.VarintType)
		thr = protowire.AppendVarint(thr, uint64(pid))
		thr = protowire.AppendTag(thr, fThreadTID, protowire.VarintType)
		thr = protowire.AppendVarint(thr, uint64(l.tid[i]))
		thr = appendString(thr, fThreadName, th.Name)
		p.track(l.thread[i], 0, "", fTDThread, thr)
		p.track(l.state[i], l.thread[i], "state", 0, nil)
	}
}

func appendString(b []byte, field protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, field, protowire.BytesType)
	return protowire.AppendString(b, s)
}

// record is one packet to write: a slice begin or end, or an instant.
// Records are ordered by order, with their index in the list they are
// made in (their order of generation).
type record struct {
	t     int64
	track uint32
	name  uint32 // interned name (begin, instant)
	span  int32  // the state span this begins, for its flows; -1 for none
	typ   uint8
}

// order sorts records by time; at one time ends come before begins and
// instants, so that a slice ending where the next begins never overlaps
// it; otherwise the order of generation (nesting) is kept: recs[i] before
// recs[j] if i < j.
func order(recs []record, i, j int) int {
	a, b := &recs[i], &recs[j]
	if c := cmp.Compare(a.t, b.t); c != 0 {
		return c
	}
	if ae, be := a.typ == typeSliceEnd, b.typ == typeSliceEnd; ae != be {
		if ae {
			return -1
		}
		return 1
	}
	return cmp.Compare(i, j)
}

// flows are the flow ids leaving and entering each state span (by index
// in Spans.States): a handoff's flow leaves the releaser's span that holds
// the release and enters the acquirer's that holds the acquire. The ids of
// a span are those leaving it first, each kind in the order of the
// handoffs.
//
// Where many spans have flows (threads handing the GIL to each other),
// they are indexed densely: the ids of span i are ids[start[i]:start[i+1]].
// Where few do, a per-span index would cost more than the flows (a 4-byte
// word per span, 6.4 MB of fresh memory for 1.6 M spans, a fifth of the
// exporter's time on a run whose threads never handed the GIL to another),
// so only the spans that have flows are listed, in order (spans), each
// entry's id beside it; of then moves a cursor forward, as the exporter
// asks for the spans in order, and searches otherwise.
type flows struct {
	start []int32 // dense: per state span, and one more
	spans []int32 // sparse: the span of each of ids, in order
	ids   []flowID
	cur   int // sparse: where the previous of ended
}

type flowID struct {
	id uint64
	in bool // entering the span (else leaving it)
}

// of returns the flow ids of state span i.
func (f *flows) of(i int32) []flowID {
	if f.start != nil {
		if int(i)+1 >= len(f.start) {
			return nil
		}
		return f.ids[f.start[i]:f.start[i+1]]
	}
	k := f.cur
	if k > 0 && f.spans[k-1] >= i { // behind the cursor: search
		k = sort.Search(k, func(j int) bool { return f.spans[j] >= i })
	}
	for k < len(f.spans) && f.spans[k] < i {
		k++
	}
	j := k
	for j < len(f.spans) && f.spans[j] == i {
		j++
	}
	f.cur = j
	return f.ids[k:j]
}

// denseFlows is the share of the state spans (flows per span) from which
// flows are indexed densely.
const denseFlows = 1.0 / 8

func newFlows(s *tracer.Spans) *flows { return makeFlows(s, -1) }

// makeFlows indexes the flows of s: densely if dense is 1, sparsely if 0,
// by their number if -1 (denseFlows).
func makeFlows(s *tracer.Spans, dense int) *flows {
	// first[th] is the index in s.States of thread th's first span: the
	// spans are by thread, then time.
	first := make([]int, len(s.Trace.Threads)+1)
	for id := range s.Trace.Threads {
		first[id+1] = first[id] + len(s.ThreadStates(tracer.ThreadID(id)))
	}
	// The span of thread th at time at: the first whose end is past at,
	// if it has begun by then. Where a thread's spans end in order (every
	// valid trace) the search gallops from the thread's previous answer
	// (cur); else it is sort.Search's, as it was.
	cur := make([]int, len(s.Trace.Threads))
	inOrder := make([]bool, len(s.Trace.Threads))
	for id := range s.Trace.Threads {
		ss := s.ThreadStates(tracer.ThreadID(id))
		inOrder[id] = true
		for i := 1; i < len(ss); i++ {
			if ss[i].End < ss[i-1].End {
				inOrder[id] = false
				break
			}
		}
	}
	spanAt := func(th tracer.ThreadID, at int64) int32 {
		ss := s.ThreadStates(th)
		var i int
		switch {
		case !inOrder[th]:
			i = sort.Search(len(ss), func(i int) bool { return ss[i].End > at })
		case cur[th] > 0 && ss[cur[th]-1].End > at:
			i = sort.Search(cur[th], func(i int) bool { return ss[i].End > at })
		default: // the answer is at cur[th] or after
			i = cur[th]
			step := 1
			for i+step <= len(ss) && ss[i+step-1].End <= at {
				i += step
				step *= 2
			}
			lo := i
			i += sort.Search(min(step, len(ss)-lo), func(k int) bool { return ss[lo+k].End > at })
		}
		if inOrder[th] {
			cur[th] = i
		}
		if i == len(ss) || ss[i].Start > at {
			return -1
		}
		return int32(first[th] + i)
	}
	// One flow at most per handoff between two threads, counted first: a
	// run whose threads re-take the GIL themselves has none (FILE: 5 MB
	// for 320 000 handoffs, each a thread's own).
	n := 0
	for _, h := range s.Handoffs {
		if h.From != tracer.NoThread && h.From != h.To {
			n++
		}
	}
	fs := make([]flow, 0, n)
	for i, h := range s.Handoffs {
		if h.From == tracer.NoThread || h.From == h.To {
			continue
		}
		from, to := spanAt(h.From, h.Released-1), spanAt(h.To, h.Acquired)
		if from < 0 || to < 0 {
			continue // a thread that ended there: no slice to bind to
		}
		fs = append(fs, flow{from, to, uint64(i + 1)})
	}
	if dense == 1 || dense < 0 && float64(2*len(fs)) >= denseFlows*float64(len(s.States)) {
		return denseIndex(fs, len(s.States))
	}
	// Sparse: the entries leaving, then those entering, each in the order
	// of the handoffs, sorted stably by span.
	type entry struct {
		span int32
		id   flowID
	}
	es := make([]entry, 0, 2*len(fs))
	for _, fl := range fs {
		es = append(es, entry{fl.from, flowID{id: fl.id}})
	}
	for _, fl := range fs {
		es = append(es, entry{fl.to, flowID{id: fl.id, in: true}})
	}
	slices.SortStableFunc(es, func(a, b entry) int { return cmp.Compare(a.span, b.span) })
	f := &flows{spans: make([]int32, len(es)), ids: make([]flowID, len(es))}
	for k, e := range es {
		f.spans[k], f.ids[k] = e.span, e.id
	}
	return f
}

// flow is a handoff's flow: the spans it leaves and enters, its id.
type flow struct {
	from, to int32
	id       uint64
}

// denseIndex indexes the flows fs of n state spans densely.
func denseIndex(fs []flow, n int) *flows {
	f := &flows{start: make([]int32, n+1)}
	for _, fl := range fs {
		f.start[fl.from+1]++
		f.start[fl.to+1]++
	}
	for i := 1; i < len(f.start); i++ {
		f.start[i] += f.start[i-1]
	}
	f.ids = make([]flowID, len(fs)*2)
	// start[i] is the cursor of span i's block while the flows are
	// placed, so that no copy of it is needed (a 4-byte word per state
	// span); each cursor ends at the next block's start, shifted back
	// after.
	for _, fl := range fs { // leaving, in the order of the handoffs
		f.ids[f.start[fl.from]] = flowID{id: fl.id}
		f.start[fl.from]++
	}
	for _, fl := range fs { // then entering
		f.ids[f.start[fl.to]] = flowID{id: fl.id, in: true}
		f.start[fl.to]++
	}
	copy(f.start[1:], f.start[:len(f.start)-1])
	f.start[0] = 0
	return f
}

// records lists every slice and instant of s, in the order of their
// making (not of time).
func records(s *tracer.Spans, l *layout, p *packer) []record {
	t := s.Trace
	recs := make([]record, 0, 2*len(s.States)+2*len(s.Calls)+2*len(s.Holds)+len(s.DropRequests))
	var states [tracer.NumStates]uint32
	for st := range tracer.NumStates {
		states[st] = p.intern(tracer.State(st).String())
	}
	for i, sp := range s.States {
		if sp.End <= sp.Start {
			continue
		}
		track := l.state[sp.Thread]
		recs = append(recs,
			record{t: sp.Start, track: track, name: states[sp.State], span: int32(i), typ: typeSliceBegin},
			record{t: sp.End, track: track, span: -1, typ: typeSliceEnd})
	}
	recs = appendCalls(recs, s, l, p)
	for _, pr := range l.gilsOf() {
		for _, hi := range s.LockHolds(t.Procs[pr].GIL) {
			h := &s.Holds[hi]
			if h.End <= h.Start {
				continue
			}
			recs = append(recs,
				record{t: h.Start, track: l.gil[pr], name: p.intern(t.Threads[h.Thread].Name), span: -1, typ: typeSliceBegin},
				record{t: h.End, track: l.gil[pr], span: -1, typ: typeSliceEnd})
		}
	}
	drop := p.intern("drop request")
	for _, d := range s.DropRequests {
		recs = append(recs, record{t: d.Time, track: l.state[d.Thread], name: drop, span: -1, typ: typeInstant})
	}
	return recs
}

// appendCalls appends the call slices of every thread: begins in order of
// start, each end before the next begin it does not enclose, inner ends
// before outer ones. A call of no length is left out, as gen.fill leaves
// it out.
func appendCalls(recs []record, s *tracer.Spans, l *layout, p *packer) []record {
	t := s.Trace
	names := map[tracer.StackID]uint32{}
	var open []tracer.CallSpan
	closeTo := func(depth int) {
		for len(open) > 0 && open[len(open)-1].Depth >= depth {
			c := open[len(open)-1]
			recs = append(recs, record{t: c.End, track: l.thread[c.Thread], span: -1, typ: typeSliceEnd})
			open = open[:len(open)-1]
		}
	}
	for i, c := range s.Calls {
		if i > 0 && c.Thread != s.Calls[i-1].Thread {
			closeTo(0)
		}
		closeTo(c.Depth)
		if c.End <= c.Start {
			continue // no length: left out (gen.fill)
		}
		name, ok := names[c.Stack]
		if !ok {
			f := t.Frames[t.Stacks[c.Stack].Frame]
			name = p.intern(f.Func)
			names[c.Stack] = name
		}
		recs = append(recs, record{t: c.Start, track: l.thread[c.Thread], name: name, span: -1, typ: typeSliceBegin})
		open = append(open, c)
	}
	closeTo(0)
	return recs
}

// inOrder yields recs sorted by order, without sorting them: they are
// made as a few runs each already in order (each thread's states, each
// thread's calls, each GIL's holds, the drop requests), which it finds and
// merges with a heap of the runs' next records. As order is total (the
// indexes differ), that is the order any sort gives; a run out of order (an
// invalid trace) only makes more runs.
func inOrder(recs []record) iter.Seq[record] {
	return func(yield func(record) bool) {
		// heads[k] is the next record of a run, ends[k] the end of that run;
		// heads is a binary min-heap by order.
		var heads, ends []int
		for i := range recs {
			if i == 0 || order(recs, i-1, i) > 0 {
				if i > 0 {
					ends = append(ends, i)
				}
				heads = append(heads, i)
			}
		}
		if len(recs) > 0 {
			ends = append(ends, len(recs))
		}
		less := func(a, b int) bool { return order(recs, heads[a], heads[b]) < 0 }
		down := func(k int) {
			for {
				c := 2*k + 1
				if c >= len(heads) {
					return
				}
				if c+1 < len(heads) && less(c+1, c) {
					c++
				}
				if !less(c, k) {
					return
				}
				heads[k], heads[c] = heads[c], heads[k]
				ends[k], ends[c] = ends[c], ends[k]
				k = c
			}
		}
		for k := len(heads)/2 - 1; k >= 0; k-- {
			down(k)
		}
		for len(heads) > 0 {
			if !yield(recs[heads[0]]) {
				return
			}
			if heads[0]++; heads[0] == ends[0] { // the run is done
				last := len(heads) - 1
				heads[0], ends[0] = heads[last], ends[last]
				heads, ends = heads[:last], ends[:last]
			}
			down(0)
		}
	}
}
