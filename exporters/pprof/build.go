package pprof

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/giltrace/giltrace/tracer"
	"github.com/google/pprof/profile"
)

// stateHandoff is the state of blame charged to nobody: the part of a wait
// during which no thread is shown holding the lock. Its label is its
// tracer.Unheld: "handoff" (between a release and the next acquire, while
// the waiter had not yet woken up and taken it), "join" or
// "unknown-holder" (a holder the trace does not show).
const stateHandoff = tracer.NumStates

// Names of the synthetic frames. Blame while no holder is shown is charged
// to the frame of its tracer.Unheld: "[no holder]" (a handoff), "[the
// joined thread]" (a real program's join lock) or "[holder not observed]"
// (a guest lock of a real program recorded without its lock holds).
const (
	frameNoGuest = "[no guest frame]"    // a thread outside every guest function
	threadNone   = tracer.NoHolderThread // the thread label of blame while no holder is shown
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

// hash is a cheap hash of k for the builder's table.
func (k key) hash() uint32 {
	h := uint32(k.thread)*0x9e3779b1 ^ uint32(k.stack)*0x85ebca6b ^ uint32(k.waiter)*0xc2b2ae35 ^
		uint32(k.lock)*0x27d4eb2f ^ uint32(k.io)*0x165667b1 ^ uint32(k.state)
	h ^= h >> 15
	h *= 0x2c1b3c6d
	return h ^ h>>12
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

// keyIndex numbers keys in the order they are added: an open-addressing
// hash table (linear probing by key.hash()) of index+1 into keys, 0 for an
// empty slot, its size a power of two at least twice the keys. A blame
// profile adds a key for every part of every wait or timeline segment: a
// map's hashing of the key was most of the time. In front of the table,
// each thread's few most recent keys (recent): a thread's spans cycle
// through a handful of keys (running, waiting, its I/O), and comparing
// them costs a third of hashing and probing (the wall profile of a run of
// 1.9 M events: 41 ms, most of it in the table, before).
type keyIndex struct {
	keys   []key
	slots  []int32
	recent [][recentKeys]int32 // per thread: index+1 of its recent keys, newest first
}

// recentKeys is how many recent keys keyIndex keeps per thread.
const recentKeys = 4

// index returns the number of k, adding it if it is new.
func (x *keyIndex) index(k key) (i int, added bool) {
	var r *[recentKeys]int32
	if t := int(k.thread); t >= 0 && t < maxRecentThreads {
		if t >= len(x.recent) {
			x.recent = append(x.recent, make([][recentKeys]int32, t+1-len(x.recent))...)
		}
		r = &x.recent[t]
		for j, e := range r {
			if e != 0 && x.keys[e-1] == k {
				if j > 0 { // newest first
					copy(r[1:j+1], r[:j])
					r[0] = e
				}
				return int(e - 1), false
			}
		}
	}
	i, added = x.lookup(k)
	if r != nil {
		copy(r[1:], r[:recentKeys-1])
		r[0] = int32(i) + 1
	}
	return i, added
}

// maxRecentThreads bounds the threads keyIndex keeps recent keys for.
const maxRecentThreads = 1 << 16

// lookup is index's hash table.
func (x *keyIndex) lookup(k key) (i int, added bool) {
	if x.slots == nil {
		x.slots = make([]int32, 64)
	}
	mask := uint32(len(x.slots) - 1)
	h := k.hash() & mask
	for {
		s := x.slots[h]
		if s == 0 {
			x.slots[h] = int32(len(x.keys)) + 1
			x.keys = append(x.keys, k)
			if 2*len(x.keys) > len(x.slots) {
				x.grow()
			}
			return len(x.keys) - 1, true
		}
		if x.keys[s-1] == k {
			return int(s - 1), false
		}
		h = (h + 1) & mask
	}
}

// grow doubles the table and puts the keys back.
func (x *keyIndex) grow() {
	x.slots = make([]int32, 2*len(x.slots))
	mask := uint32(len(x.slots) - 1)
	for j, k := range x.keys {
		h := k.hash() & mask
		for x.slots[h] != 0 {
			h = (h + 1) & mask
		}
		x.slots[h] = int32(j) + 1
	}
}

// builder aggregates samples of one profile and then lays them out with
// their locations, functions and mapping.
type builder struct {
	t    *tracer.Trace
	keys keyIndex
	vals []value // per key

	mapping   *profile.Mapping
	funcs     map[funcKey]*profile.Function
	frameLocs map[tracer.FrameID]*profile.Location
	stackLocs map[tracer.StackID][]*profile.Location
	synthetic map[string]*profile.Location
	p         *profile.Profile
}

type funcKey struct{ name, file string }

func newBuilder(t *tracer.Trace) *builder {
	return &builder{t: t}
}

// add adds count and ns to the sample of k.
func (b *builder) add(k key, count, ns int64) {
	i, added := b.keys.index(k)
	if added {
		b.vals = append(b.vals, value{})
	}
	v := &b.vals[i]
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
// (tracer.Spans.WaitedSums), without the waiter label, so that the profile
// costs time and memory linear in the events; the parts nobody held
// (handoffs) keep their waiter.
const (
	BlamePartsPerEvent = 8
	MinBlameParts      = 1 << 16
)

// blame charges every part of every wait to the holder's stack: the
// locks' timelines swept once (tracer.Spans.BlameSums), and the waits of a
// lock that cannot be swept (an invalid trace's) walked one by one.
func (b *builder) blame(s *tracer.Spans) {
	if s.TotalBlameParts() > blameLimit(s) {
		b.blameByHolder(s)
		return
	}
	sums, swept := s.BlameSums()
	for i := range sums {
		x := &sums[i]
		k := key{thread: x.Holder, state: int32(x.State), stack: x.Stack, lock: b.guestLock(x.Lock), waiter: x.Waiter}
		if x.Holder == tracer.NoThread {
			k.state, k.stack = stateHandoff, tracer.NoStack
		}
		b.add(k, x.Parts, x.Waited)
	}
	for i := range s.Waits {
		w := &s.Waits[i]
		if int(w.Lock) < len(swept) && swept[w.Lock] {
			continue
		}
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

// blameLimit is the most parts the blame profile charges with their
// waiter (BlamePartsPerEvent).
func blameLimit(s *tracer.Spans) int {
	return BlamePartsPerEvent*len(s.Trace.Events) + MinBlameParts
}

// PlanBlame tells s that its blame profile will be made, before the
// outputs that read s.WaitedSums (the diagnosis, the flame graph) start:
// WaitedSums then comes from the blame profile's sweep of the locks'
// timelines instead of a sweep of its own (tracer.Spans.PlanBlameSums).
func PlanBlame(s *tracer.Spans) { s.PlanBlameSums(blameLimit(s)) }

// blameByHolder charges the held parts of all waits to the holders'
// stacks without the waiter, and the unheld part of each wait to nobody
// with its waiter: linear in the timelines and the waits.
func (b *builder) blameByHolder(s *tracer.Spans) {
	for _, ws := range s.WaitedSums() { // Waited, summed by holder key
		b.add(key{thread: ws.Holder, state: int32(ws.State), stack: ws.Stack, lock: b.guestLock(ws.Lock), waiter: tracer.NoThread}, int64(ws.Segments), ws.Waited)
	}
	unheld := func(w *tracer.Wait, held int64) {
		if d := w.End - w.Start - held; d > 0 {
			b.add(key{thread: tracer.NoThread, state: stateHandoff, stack: tracer.NoStack, lock: b.guestLock(w.Lock), waiter: w.Thread}, 1, d)
		}
	}
	for l := range s.Trace.Locks {
		for wi, held := range s.HeldEach(tracer.LockID(l)) {
			unheld(&s.Waits[wi], held)
		}
	}
	for i := range s.Waits { // waits for no lock of the trace: nobody held it
		if w := &s.Waits[i]; int(w.Lock) >= len(s.Trace.Locks) {
			unheld(w, 0)
		}
	}
}

// wall charges every state span to its thread's stack (their sums, shared
// with the other outputs: tracer.Spans.StateSums).
func (b *builder) wall(s *tracer.Spans) {
	for _, x := range s.StateSums() {
		k := key{thread: x.Thread, state: int32(x.State), stack: x.Stack,
			lock: b.guestLock(x.Lock()), waiter: tracer.NoThread, io: x.IOKind()}
		b.add(k, int64(x.Spans), x.NS)
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

	keys := b.keys.keys
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(x, y int) int { return b.compareKeys(keys[x], keys[y]) })
	b.p.Sample = make([]*profile.Sample, 0, len(order))
	for _, i := range order {
		sk, v := keys[i], b.vals[i]
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
	given := map[string]string{} // the keys above Extra's, and their values
	add := func(name string, v any) {
		given[name] = fmt.Sprint(v)
		c = append(c, fmt.Sprintf("%s: %v", name, v))
	}
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
	if m.Extra["source"] != "cpython" {
		// The VM's own (QA: a real program's profile said "loops per ms:
		// 0" and giltrace's GOMAXPROCS, which say nothing of it).
		add("gomaxprocs", m.GOMAXPROCS)
		add("loops per ms", m.LoopsPerMS)
	}
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
		// A virtual run's Extra repeats the cores, and every run's the
		// processes (QA: both listed twice): said once, unless they differ.
		if v, ok := given[name]; ok && v == m.Extra[name] {
			continue
		}
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
		l["state"] = []string{b.t.UnheldOf(k.lock).String()}
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
		return []*profile.Location{b.syntheticLoc(b.t.UnheldOf(k.lock).Frame())}
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
	// No SystemName: pprof takes a function whose SystemName is its Name
	// as not demangled yet, and its default demangling drops what is
	// between < and > (Python's <module>, <listcomp>, <lambda> had no name
	// in -top and -list).
	fn := &profile.Function{
		ID:        uint64(len(b.p.Function)) + 1,
		Name:      name,
		Filename:  file,
		StartLine: int64(line),
	}
	b.funcs[k] = fn
	b.p.Function = append(b.p.Function, fn)
	return fn
}
