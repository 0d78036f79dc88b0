package pprof

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/giltrace/giltrace/tracer"
	"github.com/google/pprof/profile"
)

// stateHandoff is the state label of blame charged to nobody: the part of a
// wait between a release and the next acquire, while no thread held the
// lock (the waiter had not yet woken up and taken it).
const stateHandoff = tracer.NumStates

// Names of the synthetic frames.
const (
	frameNoGuest  = "[no guest frame]" // a thread outside every guest function
	frameNoHolder = "[no holder]"      // blame while nobody held the lock
	threadNone    = "(none)"           // the thread label of blame while nobody held the lock
)

// key is what samples are aggregated by: one sample per distinct key. The
// sample's process is the thread's, or the waiter's for NoThread.
type key struct {
	thread tracer.ThreadID // the thread charged; NoThread for no holder
	state  int32           // a tracer.State, or stateHandoff
	stack  tracer.StackID
	lock   tracer.LockID   // a guest lock, else NoLock
	waiter tracer.ThreadID // blame: the waiting thread; else NoThread
	io     tracer.StringID // wall: the I/O kind in StateIO; else 0
}

// hash is a cheap hash of k for the builder's cache.
func (k key) hash() uint32 {
	h := uint32(k.thread)*0x9e3779b1 ^ uint32(k.stack)*0x85ebca6b ^ uint32(k.waiter)*0xc2b2ae35 ^
		uint32(k.lock)*0x27d4eb2f ^ uint32(k.io)*0x165667b1 ^ uint32(k.state)
	return h ^ h>>15
}

func (b *builder) compareKeys(x, y key) int {
	return cmp.Or(
		cmp.Compare(b.keyProc(x), b.keyProc(y)),
		cmp.Compare(x.thread, y.thread),
		cmp.Compare(x.state, y.state),
		cmp.Compare(x.stack, y.stack),
		cmp.Compare(x.lock, y.lock),
		cmp.Compare(x.waiter, y.waiter),
		cmp.Compare(x.io, y.io),
	)
}

// keyProc is the process of a sample: its thread's, or for blame with no
// holder the waiter's.
func (b *builder) keyProc(k key) tracer.ProcID {
	if k.thread == tracer.NoThread {
		return b.proc(k.waiter)
	}
	return b.proc(k.thread)
}

// value is a sample's values: a count and nanoseconds.
type value struct{ count, ns int64 }

// cacheSize is the number of slots of the builder's cache: enough for
// the keys that recur while walking a few waits.
const cacheSize = 1024

// builder aggregates samples of one profile and then lays them out with
// their locations, functions and mapping.
type builder struct {
	t     *tracer.Trace
	index map[key]int // into keys and vals
	keys  []key
	vals  []value
	// cache maps key.hash() to a recent key and its index+1, sparing the
	// map's hashing for most spans (a blame walk repeats a few keys).
	cache [cacheSize]struct {
		k key
		i int
	}

	mapping   *profile.Mapping
	funcs     map[funcKey]*profile.Function
	frameLocs map[tracer.FrameID]*profile.Location
	stackLocs map[tracer.StackID][]*profile.Location
	synthetic map[string]*profile.Location
	p         *profile.Profile
}

type funcKey struct{ name, file string }

func newBuilder(t *tracer.Trace) *builder {
	return &builder{t: t, index: make(map[key]int)}
}

// add adds count and ns to the sample of k.
func (b *builder) add(k key, count, ns int64) {
	c := &b.cache[k.hash()%cacheSize]
	if c.i == 0 || c.k != k {
		i, ok := b.index[k]
		if !ok {
			i = len(b.keys)
			b.index[k] = i
			b.keys = append(b.keys, k)
			b.vals = append(b.vals, value{})
		}
		c.k, c.i = k, i+1
	}
	v := &b.vals[c.i-1]
	v.count += count
	v.ns += ns
}

// proc is the process of thread id (0 if out of range).
func (b *builder) proc(id tracer.ThreadID) tracer.ProcID {
	if int(id) < len(b.t.Threads) {
		return b.t.Threads[id].Proc
	}
	return 0
}

// guestLock is l if it is a guest lock, else NoLock.
func (b *builder) guestLock(l tracer.LockID) tracer.LockID {
	if int(l) < len(b.t.Locks) && !b.t.Locks[l].GIL {
		return l
	}
	return tracer.NoLock
}

// waits charges every wait to the waiter's stack.
func (b *builder) waits(s *tracer.Spans) {
	for i := range s.Waits {
		w := &s.Waits[i]
		if w.End <= w.Start {
			continue
		}
		k := key{thread: w.Thread, state: int32(tracer.StateGILWait), stack: w.Stack,
			lock: b.guestLock(w.Lock), waiter: tracer.NoThread}
		if k.lock != tracer.NoLock {
			k.state = int32(tracer.StateLockWait)
		}
		var n int64
		if w.Contended {
			n = 1 // an uncontended wait (runnable before taking a free GIL) has a delay but no contention
		}
		b.add(k, n, w.End-w.Start)
	}
}

// BlamePartsPerEvent bounds the work of the blame profile: while the
// waits' blame has at most this many parts per event of the trace (plus
// MinBlameParts), every part is charged with its waiter (label waiter).
// Beyond, when many threads queue for one lock at once and the parts grow
// with the square of the threads, the parts held by a thread are charged
// once per holder and stack with the summed waiting behind them
// (tracer.Spans.Waited), without the waiter label, so that the profile
// costs time and memory linear in the events; the parts nobody held
// (handoffs) keep their waiter.
const (
	BlamePartsPerEvent = 8
	MinBlameParts      = 1 << 16
)

// blame charges every part of every wait to the holder's stack.
func (b *builder) blame(s *tracer.Spans) {
	parts := 0
	for i := range s.Waits {
		parts += s.BlameParts(&s.Waits[i])
	}
	if parts > BlamePartsPerEvent*len(s.Trace.Events)+MinBlameParts {
		b.blameByHolder(s)
		return
	}
	for i := range s.Waits {
		w := &s.Waits[i]
		lock := b.guestLock(w.Lock)
		for bl := range s.BlameOf(w) {
			if bl.End <= bl.Start {
				continue
			}
			k := key{thread: bl.Holder, state: int32(bl.State), stack: bl.Stack, lock: lock, waiter: w.Thread}
			if bl.Holder == tracer.NoThread {
				k.state, k.stack = stateHandoff, tracer.NoStack
			}
			b.add(k, 1, bl.End-bl.Start)
		}
	}
}

// blameByHolder charges the held parts of all waits to the holders'
// stacks without the waiter, and the unheld part of each wait to nobody
// with its waiter: linear in the timelines and the waits.
func (b *builder) blameByHolder(s *tracer.Spans) {
	for l := range s.Trace.Locks {
		id := tracer.LockID(l)
		lock := b.guestLock(id)
		for bl, waited := range s.Waited(id) {
			if bl.Holder == tracer.NoThread || waited <= 0 {
				continue
			}
			b.add(key{thread: bl.Holder, state: int32(bl.State), stack: bl.Stack, lock: lock, waiter: tracer.NoThread}, 1, waited)
		}
	}
	for i := range s.Waits {
		w := &s.Waits[i]
		if unheld := w.End - w.Start - s.Held(w); unheld > 0 {
			b.add(key{thread: tracer.NoThread, state: stateHandoff, stack: tracer.NoStack, lock: b.guestLock(w.Lock), waiter: w.Thread}, 1, unheld)
		}
	}
}

// wall charges every state span to its thread's stack.
func (b *builder) wall(s *tracer.Spans) {
	for i := range s.States {
		sp := &s.States[i]
		if sp.End <= sp.Start {
			continue
		}
		k := key{thread: sp.Thread, state: int32(sp.State), stack: sp.Stack,
			lock: b.guestLock(sp.Lock), waiter: tracer.NoThread, io: sp.IOKind}
		b.add(k, 1, sp.End-sp.Start)
	}
}

// profile lays out the aggregated samples, sorted by key.
func (b *builder) profile(k Kind) *profile.Profile {
	b.p = b.header(k)
	b.mapping = b.p.Mapping[0]
	b.funcs = make(map[funcKey]*profile.Function)
	b.frameLocs = make(map[tracer.FrameID]*profile.Location)
	b.stackLocs = make(map[tracer.StackID][]*profile.Location)
	b.synthetic = make(map[string]*profile.Location)

	order := make([]int, len(b.keys))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(x, y int) int { return b.compareKeys(b.keys[x], b.keys[y]) })
	b.p.Sample = make([]*profile.Sample, 0, len(order))
	for _, i := range order {
		sk, v := b.keys[i], b.vals[i]
		smp := &profile.Sample{Location: b.locations(sk), Label: b.labels(sk)}
		if k == KindWall {
			smp.Value = []int64{v.ns}
		} else {
			smp.Value = []int64{v.count, v.ns}
		}
		b.p.Sample = append(b.p.Sample, smp)
	}
	b.mapping.Limit = uint64(len(b.p.Location)) + 1
	return b.p
}

// header is the profile without samples: types, mapping, metadata.
func (b *builder) header(k Kind) *profile.Profile {
	p := &profile.Profile{
		DurationNanos: b.t.Duration(),
		Period:        1,
		Comments:      b.comments(k),
	}
	if !b.t.Meta.Start.IsZero() {
		p.TimeNanos = b.t.Meta.Start.UnixNano()
	}
	if k == KindWall {
		p.SampleType = []*profile.ValueType{{Type: "wall", Unit: "nanoseconds"}}
		p.PeriodType = &profile.ValueType{Type: "wall", Unit: "nanoseconds"}
	} else {
		p.SampleType = []*profile.ValueType{{Type: "contentions", Unit: "count"}, {Type: "delay", Unit: "nanoseconds"}}
		p.PeriodType = &profile.ValueType{Type: "contentions", Unit: "count"}
		p.DefaultSampleType = "delay"
	}
	file := b.t.Meta.WorkloadFile
	if file == "" {
		file = b.t.Meta.Workload
	}
	p.Mapping = []*profile.Mapping{{
		ID: 1, Start: 1, File: file,
		HasFunctions: true, HasFilenames: true, HasLineNumbers: true,
	}}
	return p
}

var kindComments = [...]string{
	KindWait:  "giltrace GIL-wait profile: each wait for a lock charged to the waiting thread's stack",
	KindBlame: "giltrace blame profile: each wait for a lock charged to the stack of the thread holding it meanwhile (label waiter: the waiting thread)",
	KindWall:  "giltrace wall profile: every thread's time in every state",
}

// comments is the run's metadata, one "key: value" per line, in a fixed order.
func (b *builder) comments(k Kind) []string {
	m := &b.t.Meta
	c := []string{kindComments[k]}
	add := func(name string, v any) { c = append(c, fmt.Sprintf("%s: %v", name, v)) }
	add("workload", m.Workload)
	add("workload file", m.WorkloadFile)
	add("gil mode", m.GILMode)
	switch m.GILMode {
	case "cpython":
		add("switch interval", m.SwitchInterval)
	case "legacy":
		add("check interval", m.CheckInterval)
	}
	add("cores", m.Cores)
	add("gomaxprocs", m.GOMAXPROCS)
	add("loops per ms", m.LoopsPerMS)
	if !m.Start.IsZero() {
		add("start", m.Start.UTC().Format(time.RFC3339Nano))
	}
	add("duration", time.Duration(b.t.Duration()))
	add("threads", len(b.t.Threads))
	add("processes", len(b.t.Procs))
	add("events", len(b.t.Events))
	if b.t.Dropped > 0 {
		add("dropped events", b.t.Dropped)
	}
	if b.t.Truncated {
		add("truncated", true)
	}
	add("version", m.Version)
	extra := make([]string, 0, len(m.Extra))
	for name := range m.Extra {
		extra = append(extra, name)
	}
	slices.Sort(extra)
	for _, name := range extra {
		add(name, m.Extra[name])
	}
	return c
}

// labels are the sample's string labels.
func (b *builder) labels(k key) map[string][]string {
	l := map[string][]string{
		"thread":  {b.threadName(k.thread)},
		"process": {b.procName(b.keyProc(k))},
	}
	if k.state == stateHandoff {
		l["state"] = []string{"handoff"}
	} else {
		l["state"] = []string{tracer.State(k.state).String()}
	}
	if k.lock != tracer.NoLock {
		l["lock"] = []string{b.t.Locks[k.lock].Name}
	}
	if k.waiter != tracer.NoThread {
		l["waiter"] = []string{b.threadName(k.waiter)}
	}
	if k.io != 0 {
		l["io"] = []string{b.t.Str(k.io)}
	}
	return l
}

func (b *builder) threadName(id tracer.ThreadID) string {
	if int(id) < len(b.t.Threads) {
		return b.t.Threads[id].Name
	}
	return threadNone
}

func (b *builder) procName(id tracer.ProcID) string {
	if int(id) < len(b.t.Procs) {
		return b.t.Procs[id].Name
	}
	return ""
}

// locations is the sample's stack, innermost first.
func (b *builder) locations(k key) []*profile.Location {
	switch {
	case k.state == stateHandoff:
		return []*profile.Location{b.syntheticLoc(frameNoHolder)}
	case k.stack == tracer.NoStack || int(k.stack) >= len(b.t.Stacks):
		return []*profile.Location{b.syntheticLoc(frameNoGuest)}
	}
	return b.stack(k.stack)
}

// stack returns the locations of stack s, innermost first, memoised per
// stack so that a shared caller's locations are built once.
func (b *builder) stack(s tracer.StackID) []*profile.Location {
	if s == tracer.NoStack || int(s) >= len(b.t.Stacks) {
		return nil
	}
	if locs, ok := b.stackLocs[s]; ok {
		return locs
	}
	st := b.t.Stacks[s]
	parent := b.stack(st.Parent)
	locs := make([]*profile.Location, 0, len(parent)+1)
	locs = append(locs, b.frameLoc(st.Frame))
	locs = append(locs, parent...)
	b.stackLocs[s] = locs
	return locs
}

func (b *builder) frameLoc(id tracer.FrameID) *profile.Location {
	if loc, ok := b.frameLocs[id]; ok {
		return loc
	}
	var f tracer.Frame
	if int(id) < len(b.t.Frames) {
		f = b.t.Frames[id]
	}
	loc := b.newLoc(b.function(f.Func, f.File, f.Line), f.Line)
	b.frameLocs[id] = loc
	return loc
}

func (b *builder) syntheticLoc(name string) *profile.Location {
	if loc, ok := b.synthetic[name]; ok {
		return loc
	}
	loc := b.newLoc(b.function(name, "", 0), 0)
	b.synthetic[name] = loc
	return loc
}

func (b *builder) newLoc(fn *profile.Function, line int) *profile.Location {
	id := uint64(len(b.p.Location)) + 1
	loc := &profile.Location{
		ID:      id,
		Mapping: b.mapping,
		Address: id, // a unique fake address, inside the mapping
		Line:    []profile.Line{{Function: fn, Line: int64(line)}},
	}
	b.p.Location = append(b.p.Location, loc)
	return loc
}

// function returns the function name in file, created on first use. Its
// StartLine is the lowest line it is seen at.
func (b *builder) function(name, file string, line int) *profile.Function {
	k := funcKey{name, file}
	if fn, ok := b.funcs[k]; ok {
		if line > 0 && (fn.StartLine == 0 || int64(line) < fn.StartLine) {
			fn.StartLine = int64(line)
		}
		return fn
	}
	fn := &profile.Function{
		ID:         uint64(len(b.p.Function)) + 1,
		Name:       name,
		SystemName: name,
		Filename:   file,
		StartLine:  int64(line),
	}
	b.funcs[k] = fn
	b.p.Function = append(b.p.Function, fn)
	return fn
}
