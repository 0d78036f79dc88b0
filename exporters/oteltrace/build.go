package oteltrace

import (
	"cmp"
	"slices"

	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/giltrace/giltrace/tracer"
)

// spec is a span to create: times are nanoseconds since the run's start.
type spec struct {
	ref, parent ref
	name        string
	start, end  int64
	attrs       []attribute.KeyValue
	links       []trace.Link
	events      []event
}

type event struct {
	name  string
	time  int64
	attrs []attribute.KeyValue
}

// builder turns the planned spans into specs.
type builder struct {
	s    *tracer.Spans
	t    *tracer.Trace
	p    *plan
	opts Options
	tid  trace.TraceID
	idx  []threadIndex

	events       map[ref][]event
	foldedEvents map[ref]int
	nFoldedEv    int
	how          map[holdKey]tracer.Acquire
}

type holdKey struct {
	thread tracer.ThreadID
	lock   tracer.LockID
	start  int64
}

func newBuilder(s *tracer.Spans, p *plan, opts Options) *builder {
	b := &builder{
		s: s, t: s.Trace, p: p, opts: opts,
		tid:          traceIDFor(s.Trace),
		idx:          newThreadIndexes(s),
		events:       map[ref][]event{},
		foldedEvents: map[ref]int{},
		how:          make(map[holdKey]tracer.Acquire, len(s.Holds)),
	}
	for _, h := range s.Holds {
		b.how[holdKey{h.Thread, h.Lock, h.Start}] = h.How
	}
	b.placeEvents()
	return b
}

// count is the number of spans build emits.
func (b *builder) count() int {
	n := 1 + len(b.s.Threads)
	for _, k := range b.p.keptCall {
		if k {
			n++
		}
	}
	for _, k := range b.p.keptWait {
		if k {
			n++
		}
	}
	return n
}

// build calls emit for the root, then for each thread its span, its kept
// calls and its kept waits, stopping at the first error.
func (b *builder) build(emit func(*spec) error) error {
	if err := emit(b.root()); err != nil {
		return err
	}
	for th := range b.s.Threads {
		if err := emit(b.thread(tracer.ThreadID(th))); err != nil {
			return err
		}
		lo, hi := b.p.calls[th][0], b.p.calls[th][1]
		for i := lo; i < hi; i++ {
			if b.p.keptCall[i] {
				if err := emit(b.call(i)); err != nil {
					return err
				}
			}
		}
		for _, i := range b.p.waits[th] {
			if err := emit(b.wait(i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// placeEvents puts each drop request on the requester's wait span (or its
// innermost call, or its thread), and each forced switch on the releasing
// thread's innermost call or thread.
func (b *builder) placeEvents() {
	for _, d := range b.s.DropRequests {
		if int(d.Thread) >= len(b.s.Threads) {
			continue
		}
		r, ok := b.p.waitAt(d.Thread, d.Time)
		if !ok {
			r = b.p.spanAt(d.Thread, d.Time)
		}
		b.addEvent(r, event{name: "gil.drop_request", time: d.Time, attrs: []attribute.KeyValue{
			keyHolderID.Int(int(d.Holder)),
			keyHolderName.String(b.threadName(d.Holder)),
			keyLock.String(b.lockName(d.Lock)),
		}})
	}
	for _, h := range b.s.Handoffs {
		if h.Why != tracer.ReleaseDropRequest || int(h.From) >= len(b.s.Threads) {
			continue
		}
		b.addEvent(b.p.spanAt(h.From, h.Released), event{name: "gil.forced_switch", time: h.Released, attrs: []attribute.KeyValue{
			keyToID.Int(int(h.To)),
			keyToName.String(b.threadName(h.To)),
			keyHandoff.Int64(h.Acquired - h.Released),
			keyHow.String(h.How.String()),
			keyLock.String(b.lockName(h.Lock)),
		}})
	}
}

func (b *builder) addEvent(r ref, ev event) {
	if len(b.events[r]) >= maxEvents {
		b.foldedEvents[r]++
		b.nFoldedEv++
		return
	}
	b.events[r] = append(b.events[r], ev)
}

// folded are the folding counts of span r, when it has any.
func (b *builder) folded(r ref) []attribute.KeyValue {
	var kv []attribute.KeyValue
	if n := b.p.foldedCalls[r]; n > 0 {
		kv = append(kv, keyFoldedCalls.Int(n))
	}
	if n := b.p.foldedWaits[r]; n > 0 {
		kv = append(kv, keyFoldedWaits.Int(n))
	}
	if n := b.foldedEvents[r]; n > 0 {
		kv = append(kv, keyFoldedEvents.Int(n))
	}
	return kv
}

func (b *builder) root() *spec {
	m := &b.t.Meta
	var names []string
	var pids []int64
	for _, p := range b.t.Procs {
		names = append(names, p.Name)
		pids = append(pids, int64(p.PID))
	}
	var total rollup
	for th := range b.s.Threads {
		ts := &b.s.Threads[th]
		total.add(b.idx[th].rollup(ts.Start, ts.End))
	}
	attrs := []attribute.KeyValue{
		keyWorkload.String(m.Workload),
		keyWorkloadFile.String(m.WorkloadFile),
		keyGILMode.String(string(m.GILMode)),
		keySwitchInterval.Int64(int64(m.SwitchInterval)),
		keyProcesses.Int(len(b.t.Procs)),
		keyProcessNames.StringSlice(names),
		keyProcessPIDs.Int64Slice(pids),
		keyThreads.Int(len(b.t.Threads)),
		keyCores.Int(m.Cores),
		keyGOMAXPROCS.Int(m.GOMAXPROCS),
		keyVersion.String(m.Version),
		keyEventsDropped.Int64(int64(b.t.Dropped)),
		keyTruncated.Bool(b.t.Truncated),
		keyThreshold.Int64(int64(b.opts.WaitThreshold)),
		keyBudget.Int(b.opts.SpanBudget),
		keyFoldedCalls.Int(b.p.totalFoldedCalls),
		keyFoldedWaits.Int(b.p.totalFoldedWaits),
		keyFoldedEvents.Int(b.nFoldedEv),
	}
	if m.GILMode == tracer.GILLegacy {
		// The legacy GIL's tick count; other modes have none (QA: sent
		// for every run, 100 for a cpython-mode one, as docs/otel.md
		// said it was not).
		attrs = append(attrs, keyCheckInterval.Int(m.CheckInterval))
	}
	// Where the run comes from: a simulated run is dated 1970 in Jaeger,
	// and these tell it apart (QA).
	attrs = append(attrs, keyClock.String(cmp.Or(m.Extra["clock"], "real")))
	if seed, ok := m.Extra["seed"]; ok && m.Extra["clock"] == "virtual" {
		attrs = append(attrs, keySeed.String(seed))
	}
	if src := m.Extra["source"]; src != "" {
		attrs = append(attrs, keySource.String(src))
	}
	attrs = append(attrs, total.attrs()...)
	var events []event
	if ws := b.opts.Warnings; len(ws) > 0 {
		attrs = append(attrs, keyWarnings.StringSlice(ws))
		for _, w := range ws {
			events = append(events, event{name: "giltrace.warning", time: 0, attrs: []attribute.KeyValue{keyMessage.String("Warning: " + w)}})
		}
	}
	return &spec{ref: rootRef, name: "run " + m.Workload, start: 0, end: b.t.Duration(), attrs: attrs, events: events}
}

func (b *builder) thread(th tracer.ThreadID) *spec {
	ts := &b.s.Threads[th]
	r := ref{kindThread, int(th)}
	attrs := b.threadAttrs(th)
	if p := b.t.Threads[th].Proc; int(p) < len(b.t.Procs) {
		attrs = append(attrs, semconv.ProcessPID(b.t.Procs[p].PID), keyProcessName.String(b.t.Procs[p].Name))
	}
	attrs = append(attrs, keyEnded.Bool(ts.Ended))
	attrs = append(attrs, b.idx[th].rollup(ts.Start, ts.End).attrs()...)
	attrs = append(attrs, b.folded(r)...)
	return &spec{ref: r, parent: rootRef, name: "thread " + b.threadName(th), start: ts.Start, end: ts.End, attrs: attrs, events: b.events[r]}
}

func (b *builder) call(i int) *spec {
	c := &b.s.Calls[i]
	r := ref{kindCall, i}
	f := b.frame(c.Stack)
	attrs := append(b.codeAttrs(f), b.threadAttrs(c.Thread)...)
	attrs = append(attrs, keyDepth.Int(c.Depth))
	attrs = append(attrs, b.idx[c.Thread].rollup(c.Start, c.End).attrs()...)
	attrs = append(attrs, b.folded(r)...)
	name := f.Func
	if name == "" {
		name = "call"
	}
	return &spec{ref: r, parent: b.p.callParent(i), name: name, start: c.Start, end: c.End, attrs: attrs, events: b.events[r]}
}

func (b *builder) wait(i int) *spec {
	w := &b.s.Waits[i]
	r := ref{kindWait, i}
	gil := isGIL(b.t, w.Lock)
	name := "gil wait"
	if !gil {
		name = "lock wait " + b.lockName(w.Lock)
	}
	links, unheld, foldedLinks := b.blameLinks(w)
	attrs := append(b.threadAttrs(w.Thread), b.codeAttrs(b.frame(w.Stack))...)
	attrs = append(attrs,
		keyLock.String(b.lockName(w.Lock)),
		keyIsGIL.Bool(gil),
		keyAcquired.Bool(w.Acquired),
		keyUnheld.Int64(unheld),
	)
	if u := b.t.UnheldOf(w.Lock); u != tracer.UnheldHandoff && unheld > 0 {
		// Not a handoff's latency: a holder the trace does not show.
		attrs = append(attrs, keyUnheldAs.String(u.String()))
	}
	if how, ok := b.how[holdKey{w.Thread, w.Lock, w.End}]; ok && w.Acquired {
		attrs = append(attrs, keyHow.String(how.String()))
	}
	attrs = append(attrs, b.idx[w.Thread].rollup(w.Start, w.End).attrs()...)
	if foldedLinks > 0 {
		attrs = append(attrs, keyFoldedLinks.Int(foldedLinks))
	}
	attrs = append(attrs, b.folded(r)...)
	return &spec{ref: r, parent: b.p.waitParent(i), name: name, start: w.Start, end: w.End, attrs: attrs, links: links, events: b.events[r]}
}

// blameLinks links a wait to the spans of the threads that held its lock
// meanwhile: one link per distinct span, the ones that held it longest
// first, at most maxLinks. It also returns the time nobody held the lock
// (the handoff latency) and how many links were left out.
func (b *builder) blameLinks(w *tracer.Wait) ([]trace.Link, int64, int) {
	type target struct {
		r                     ref
		holder                tracer.ThreadID
		held, native, segs, n int64
	}
	var targets []*target
	byRef := map[ref]*target{}
	var unheld int64
	walked := 0
	for seg := range b.s.BlameOf(w) {
		if walked++; walked > maxBlameParts {
			// Many threads queued at once: the rest of the wait is not
			// walked (its holders are not linked), so that the export
			// stays linear in the events; unheld stays exact.
			unheld = w.End - w.Start - b.s.Held(w)
			break
		}
		d := seg.End - seg.Start
		if seg.Holder == tracer.NoThread || int(seg.Holder) >= len(b.s.Threads) {
			unheld += d
			continue
		}
		r := b.p.spanAt(seg.Holder, seg.Start)
		tg := byRef[r]
		if tg == nil {
			tg = &target{r: r, holder: seg.Holder, n: int64(len(targets))}
			byRef[r] = tg
			targets = append(targets, tg)
		}
		tg.held += d
		tg.segs++
		if seg.State == tracer.StateNativeHolding {
			tg.native += d
		}
	}
	slices.SortFunc(targets, func(a, c *target) int { return cmp.Or(cmp.Compare(c.held, a.held), cmp.Compare(a.n, c.n)) })
	folded := max(len(targets)-maxLinks, 0)
	targets = targets[:len(targets)-folded]
	links := make([]trace.Link, 0, len(targets))
	for _, tg := range targets {
		attrs := append(b.threadAttrs(tg.holder), keyHeld.Int64(tg.held), keySegments.Int64(tg.segs))
		if tg.native > 0 {
			attrs = append(attrs, keyNativeHolding.Int64(tg.native))
		}
		links = append(links, trace.Link{SpanContext: spanContext(b.tid, tg.r), Attributes: attrs})
	}
	return links, unheld, folded
}

func (b *builder) threadAttrs(th tracer.ThreadID) []attribute.KeyValue {
	return []attribute.KeyValue{semconv.ThreadID(int(th)), semconv.ThreadName(b.threadName(th))}
}

func (b *builder) codeAttrs(f tracer.Frame) []attribute.KeyValue {
	if f.Func == "" {
		return nil
	}
	kv := []attribute.KeyValue{semconv.CodeFunctionName(f.Func), semconv.CodeFilePath(f.File)}
	if f.Line > 0 {
		kv = append(kv, semconv.CodeLineNumber(f.Line))
	}
	return kv
}

func (b *builder) threadName(th tracer.ThreadID) string {
	if int(th) < len(b.t.Threads) {
		return b.t.Threads[th].Name
	}
	return ""
}

func (b *builder) lockName(l tracer.LockID) string {
	if int(l) < len(b.t.Locks) {
		return b.t.Locks[l].Name
	}
	return ""
}

// frame is the innermost frame of stack s, or the zero Frame.
func (b *builder) frame(s tracer.StackID) tracer.Frame {
	if s == tracer.NoStack || int(s) >= len(b.t.Stacks) {
		return tracer.Frame{}
	}
	f := b.t.Stacks[s].Frame
	if int(f) >= len(b.t.Frames) {
		return tracer.Frame{}
	}
	return b.t.Frames[f]
}
