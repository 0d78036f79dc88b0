package tracer

import (
	"sync"
	"sync/atomic"
)

// DefaultMaxEvents bounds the events a Recorder keeps in memory when
// Config.MaxEvents is 0: 16 Mi events, 512 MiB at 32 bytes an event.
const DefaultMaxEvents = 16 << 20

// A thread's first chunk holds firstChunkEvents events (32 KiB), and each
// next one twice as many up to chunkEvents (64 Ki events, 2 MiB): a run of
// a thousand short threads takes 32 MiB, not 2 GiB of the budget, and a
// long thread allocates once every 65536 events.
const (
	firstChunkEvents = 1 << 10
	chunkEvents      = 64 << 10
	// slabEvents bounds the slabs (4 MiB) that a recorder with
	// Config.HugePages carves its chunks from (carve).
	slabEvents = 128 << 10
)

// Config configures a Recorder.
type Config struct {
	// MaxEvents bounds the number of events kept; beyond it events are
	// counted as dropped and the trace is cut at the first lost event.
	// 0 means DefaultMaxEvents.
	MaxEvents int
	// Disabled makes every Buffer discard its events at the cost of one
	// branch; tables are still kept.
	Disabled bool
	// HugePages asks for huge pages for the buffers' chunks (hugepage.go;
	// the small ones carved from slabs: carve): fewer page faults, at the
	// cost of a madvise call when a chunk or a slab is taken and, where
	// the kernel compacts memory for it, a stall at its first touch. For recorders whose Emit calls are
	// not what is measured: a virtual-time run, a real program's events
	// read by giltrace; not a real-time VM run, whose guest threads emit.
	HugePages bool
	// Sequential says that the buffers are never used concurrently, only
	// one after another (a virtual-time run: its threads are coroutines
	// that take turns): the Recorder then logs which thread emitted each
	// event, and Finish gathers the events in that order when it is the
	// trace's order, instead of merging the buffers (order.go).
	Sequential bool
}

// Recorder collects the tables and per-thread buffers of one run.
//
// Its table methods (Intern, AddProcess, AddLock, AddFrame, Stack,
// NewThread) may be called concurrently. Buffers are each used by one
// goroutine. Finish is called once, after every Buffer is done.
type Recorder struct {
	mu      sync.Mutex
	strings []string
	strIdx  map[string]StringID
	procs   []Process
	threads []Thread
	locks   []Lock
	frames  []Frame
	frIdx   map[Frame]FrameID
	stacks  []Stack
	stIdx   map[Stack]StackID
	bufs    []*Buffer
	bufSlab []Buffer // under mu: where NewThread takes a sequential recorder's next buffers from, 1, 1, 2, 4, ... up to 64 at a time

	budget   atomic.Int64 // events that may still be allocated to chunks
	cutAt    atomic.Int64 // the earliest time an event was dropped, -1 none (CutAt)
	disabled bool
	huge     bool // Config.HugePages
	slabMu   sync.Mutex
	slab     []Event   // under slabMu: what carve has left of its current slab
	slabbed  int       // under slabMu: the events of every slab taken
	arrays   [][]Event // under slabMu: the slabs and chunks taken (given back by recycle)
	streamed bool      // a Stream reads the buffers as they fill (set before any thread)
	order    orderLog  // Config.Sequential: the thread of each event kept, in emission order
}

// NewRecorder returns an empty Recorder.
func NewRecorder(cfg Config) *Recorder {
	r := &Recorder{
		strings:  []string{""},
		strIdx:   map[string]StringID{"": 0},
		frIdx:    map[Frame]FrameID{},
		stacks:   []Stack{{}},
		stIdx:    map[Stack]StackID{},
		disabled: cfg.Disabled,
		huge:     cfg.HugePages,
		order:    orderLog{on: cfg.Sequential},
	}
	max := cfg.MaxEvents
	if max <= 0 {
		max = DefaultMaxEvents
	}
	r.budget.Store(int64(max))
	r.cutAt.Store(-1)
	return r
}

// CutAt is the earliest time of an event dropped at the bound so far, -1
// if none: the trace ends there (Finish), so an event after it is never
// kept. A simulation may stop once nothing before it can happen.
func (r *Recorder) CutAt() int64 { return r.cutAt.Load() }

// noteCut lowers CutAt to t.
func (r *Recorder) noteCut(t int64) {
	for {
		c := r.cutAt.Load()
		if c >= 0 && c <= t || r.cutAt.CompareAndSwap(c, t) {
			return
		}
	}
}

// Intern returns the StringID of s, adding it to the table if needed.
func (r *Recorder) Intern(s string) StringID {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id, ok := r.strIdx[s]; ok {
		return id
	}
	id := StringID(len(r.strings))
	r.strings = append(r.strings, s)
	r.strIdx[s] = id
	return id
}

// AddProcess adds a VM process with no GIL yet; see AddLock.
func (r *Recorder) AddProcess(name string, pid int) ProcID {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.procs = append(r.procs, Process{Name: name, PID: pid, GIL: NoLock})
	return ProcID(len(r.procs) - 1)
}

// AddLock adds a lock of process p. A lock with gil set becomes p's GIL.
func (r *Recorder) AddLock(name string, p ProcID, gil bool) LockID {
	r.mu.Lock()
	defer r.mu.Unlock()
	id := LockID(len(r.locks))
	r.locks = append(r.locks, Lock{Name: name, Proc: p, GIL: gil})
	if gil {
		r.procs[p].GIL = id
	}
	return id
}

// AddFrame returns the FrameID of f, adding it if needed.
func (r *Recorder) AddFrame(f Frame) FrameID {
	r.mu.Lock()
	defer r.mu.Unlock()
	if id, ok := r.frIdx[f]; ok {
		return id
	}
	id := FrameID(len(r.frames))
	r.frames = append(r.frames, f)
	r.frIdx[f] = id
	return id
}

// Stack returns the stack made of parent with frame f on top, interning
// it. Callers on a hot path should cache the result per (parent, f).
func (r *Recorder) Stack(parent StackID, f FrameID) StackID {
	k := Stack{Parent: parent, Frame: f}
	r.mu.Lock()
	defer r.mu.Unlock()
	if id, ok := r.stIdx[k]; ok {
		return id
	}
	id := StackID(len(r.stacks))
	r.stacks = append(r.stacks, k)
	r.stIdx[k] = id
	return id
}

// NewThread adds a thread of process p and returns its Buffer.
func (r *Recorder) NewThread(name string, p ProcID) *Buffer {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b *Buffer
	if r.order.on {
		// A sequential recorder's threads take turns: their buffers can
		// share cache lines. Others' emit at once, each from its own
		// core, and keep a buffer each (its own lines).
		if len(r.bufSlab) == 0 {
			r.bufSlab = make([]Buffer, min(max(len(r.bufs), 1), 64))
		}
		b = &r.bufSlab[0]
		r.bufSlab = r.bufSlab[1:]
	} else {
		b = new(Buffer)
	}
	b.on, b.publish, b.log, b.thread, b.last, b.r = !r.disabled, r.streamed, r.order.on, ThreadID(len(r.threads)), -1, r
	b.dropAt.Store(-1)
	r.threads = append(r.threads, Thread{Name: name, Proc: p})
	r.bufs = append(r.bufs, b)
	return b
}

// Buffer holds the events of one thread. It is not safe for concurrent
// use: each VM thread owns its Buffer.
//
// Its events are also readable, while the thread runs, by a Stream: each
// event is written into the current chunk's storage and then, when the
// Recorder streams, published by an atomic store of the chunk's count, so
// the streaming goroutine reads the published events without a lock. The
// Recorder's lock is taken only to hand over a full chunk, whose events
// are then all readable.
type Buffer struct {
	on      bool
	publish bool // the Recorder streams: publish each event
	log     bool // the Recorder logs the order of its events (Config.Sequential)
	thread  ThreadID
	last    int64
	stack   StackID // the stack of the last event emitted (LastStack)
	cur     []Event // the current chunk's events; its storage is c.ev
	c       *chunk  // the current chunk
	chunks  []*chunk
	// first and firstOf hold the first chunk and the list of chunks while
	// it is the only one: two allocations a thread fewer, most threads of
	// a short run taking one chunk (BenchmarkVirtualFixedCost).
	first   chunk
	firstOf [1]*chunk
	r       *Recorder
	dropped uint64
	dropAt  atomic.Int64 // time of the first dropped event, or -1
	quiet   atomic.Int64 // no event before it from now on (Quiet), 0 none
}

// chunk is the storage of a run of a thread's events: ev holds its whole
// capacity. A chunk that is not its buffer's last is full; of the last,
// the first n events are published (when streaming).
type chunk struct {
	ev []Event
	n  atomic.Int64
}

// events returns the events of b's chunk i, once b is done.
func (b *Buffer) events(i int) []Event {
	if i == len(b.chunks)-1 {
		return b.cur
	}
	return b.chunks[i].ev
}

// sequence is b's events chunk by chunk, once b is done: its sequence for
// layOut.
func (b *Buffer) sequence() [][]Event { return b.sequenceIn(make([][]Event, len(b.chunks))) }

// sequenceIn is sequence, written in seq (of len(b.chunks)): Finish gives
// every buffer its part of one array.
func (b *Buffer) sequenceIn(seq [][]Event) [][]Event {
	for i := range b.chunks {
		seq[i] = b.events(i)
	}
	return seq
}

// Thread is the buffer's thread.
func (b *Buffer) Thread() ThreadID { return b.thread }

// Emit records an event at time t (ns since the run's start) and returns
// the time recorded: t, or one more than the thread's previous event if t
// is not later, so that a thread's times strictly increase. When tracing is
// disabled it costs one branch and returns t.
func (b *Buffer) Emit(t int64, k Kind, s StackID, arg uint64) int64 {
	if !b.on {
		return t
	}
	return b.emit(t, k, s, arg)
}

// Cut cuts the recording off at t, as an event dropped at t would: the
// trace keeps no event at or after t (Finish), and a Stream's sync times
// stay before it. For a recording that cannot go on consistently past t
// (the real-CPython source's provisional recording, LiveSource). The
// earliest of several cuts holds.
func (b *Buffer) Cut(t int64) {
	if at := b.dropAt.Load(); at < 0 || t < at {
		b.dropAt.Store(t)
		b.r.noteCut(t)
	}
}

// Quiet promises that the buffer's thread emits no event before t from
// now on (a LiveSource's thread blocked in a call whose begin it has
// emitted, whose end comes after every event its source has handled): a
// Stream's sync times may then pass the thread's last event, up to t,
// where they would stay a flush behind (writeSync). A later promise of an
// earlier time changes nothing.
func (b *Buffer) Quiet(t int64) {
	if t > b.quiet.Load() {
		b.quiet.Store(t)
	}
}

// LastTime is the time of the last event emitted, -1 before the first.
func (b *Buffer) LastTime() int64 { return b.last }

// LastStack is the stack of the last event emitted (NoStack before the
// first): a thread that moves on to another line without an event of its
// own records a KindLine when it differs.
func (b *Buffer) LastStack() StackID { return b.stack }

func (b *Buffer) emit(t int64, k Kind, s StackID, arg uint64) int64 {
	if t <= b.last {
		t = b.last + 1
	}
	b.last, b.stack = t, s
	n := len(b.cur)
	if n == cap(b.cur) {
		return b.emitFull(t, k, s, arg)
	}
	// The event written in place, field by field: an append built it on
	// the stack first and copied it.
	b.cur = b.cur[:n+1]
	e := &b.cur[n]
	e.Time, e.Arg, e.Thread, e.Stack, e.Kind = t, arg, b.thread, s, k
	if b.log { // orderLog.grow's caller, by hand: a call was 2 % of a virtual run
		o := &b.r.order
		if o.n == len(o.cur) {
			o.grow(b.r)
		}
		o.cur[o.n] = uint32(b.thread)
		o.n++
	}
	if b.publish {
		b.c.n.Store(int64(n + 1)) // to the Stream
	}
	return t
}

// emitFull is emit's event at time t when the current chunk is full: in
// a new chunk, or dropped at the bound. Not inlined, so that emit, run
// at every event, keeps a small frame.
//
//go:noinline
func (b *Buffer) emitFull(t int64, k Kind, s StackID, arg uint64) int64 {
	if !b.grow() {
		if b.dropAt.Load() < 0 {
			b.dropAt.Store(t)
			b.r.noteCut(t)
		}
		b.dropped++
		return t
	}
	b.last = t - 1 // emit again, into the new chunk
	return b.emit(t, k, s, arg)
}

// grow hands the full chunk over and takes a new one from the budget.
func (b *Buffer) grow() bool {
	if b.dropAt.Load() >= 0 {
		return false // once dropping, the thread's trace stays cut
	}
	n := int64(min(max(2*cap(b.cur), firstChunkEvents), chunkEvents))
	left := b.r.budget.Add(-n)
	if left < 0 {
		n += left
		if n <= 0 {
			return false
		}
	}
	ev := b.r.array(int(n))
	var c *chunk
	if b.chunks == nil && b.first.ev == nil {
		c = &b.first
		c.ev = ev
	} else {
		c = &chunk{ev: ev}
	}
	b.r.mu.Lock()
	if b.chunks == nil {
		b.chunks = b.firstOf[:0]
	}
	b.chunks = append(b.chunks, c)
	b.r.mu.Unlock()
	b.c, b.cur = c, c.ev[:0]
	return true
}

// array returns the storage of a chunk of n events: carved from a slab
// (small ones, with huge pages), else its own array, recycled or fresh
// (advised huge pages if asked); the recorder keeps it until recycle.
func (r *Recorder) array(n int) []Event {
	if r.huge && n < chunkEvents {
		return r.carve(n)
	}
	ev, reused := takeEvents(n)
	if r.huge && !reused {
		hugeCovering(ev)
	}
	r.slabMu.Lock()
	r.arrays = append(r.arrays, ev)
	r.slabMu.Unlock()
	return ev
}

// carve returns a zeroed chunk of n events, less than chunkEvents, cut
// from the recorder's current slab, taking a new slab, advised huge pages,
// when it has no room: the small first chunks of a run's threads (32 KiB
// to 1 MiB, too small to advise on their own) were two thirds of a virtual
// run's page faults, one each 4 KiB (docs/performance.md). Full-size
// chunks are allocated and advised on their own (grow): carved, a long
// thread's 2 MiB chunks between short threads' small ones left most of
// each slab unused (review: slabs of 1.97x the events at the event bound).
// Left unused now: the current slab's rest, and the rest of a slab too
// small for the next small chunk, at most 1 MiB of a 4 MiB slab. A slab
// lives as long as its chunks, which all live as long as the recorder's
// run. Under its own mutex, not mu: zeroing a slab does not hold up the
// tables.
func (r *Recorder) carve(n int) []Event {
	r.slabMu.Lock()
	defer r.slabMu.Unlock()
	if len(r.slab) < n {
		// As large as all the slabs before it, up to slabEvents: a short
		// run takes about what its chunks need, a long one 4 MiB slabs.
		var reused bool
		r.slab, reused = takeEvents(max(n, min(r.slabbed, slabEvents)))
		r.slabbed += len(r.slab)
		if !reused {
			hugeCovering(r.slab)
		}
		r.arrays = append(r.arrays, r.slab)
	}
	ev := r.slab[:n:n]
	r.slab = r.slab[n:]
	return ev
}

// Empty reports whether no event has been recorded yet.
func (r *Recorder) Empty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, b := range r.bufs {
		if b.last >= 0 || b.dropped > 0 {
			return false
		}
	}
	return true
}

// Finish merges the buffers into a Trace with the given metadata. Every
// Buffer must be done. If events were dropped, the trace is cut at the
// earliest dropped event, so that it is a consistent prefix of the run, and
// every event at or after that time counts in Trace.Dropped.
func (r *Recorder) Finish(meta Meta) *Trace {
	r.mu.Lock()
	defer r.mu.Unlock()
	t := &Trace{
		Meta:    meta,
		Strings: append([]string(nil), r.strings...),
		Procs:   append([]Process(nil), r.procs...),
		Threads: append([]Thread(nil), r.threads...),
		Locks:   append([]Lock(nil), r.locks...),
		Frames:  append([]Frame(nil), r.frames...),
		Stacks:  append([]Stack(nil), r.stacks...),
	}
	cut := int64(-1)
	seqs := make([][][]Event, 0, len(r.bufs))
	chunks := 0
	for _, b := range r.bufs {
		chunks += len(b.chunks)
	}
	all := make([][]Event, chunks) // every buffer's sequence, in one array
	for _, b := range r.bufs {
		t.Dropped += b.dropped
		if at := b.dropAt.Load(); at >= 0 && (cut < 0 || at < cut) {
			cut = at
		}
		n := len(b.chunks)
		seqs = append(seqs, b.sequenceIn(all[:n:n]))
		all = all[n:]
	}
	// A sequential run's events in the order logged, if that is the
	// trace's (order.go), else merged.
	t.Events = layOut(seqs, &r.order)
	if cut >= 0 {
		n := len(t.Events)
		for n > 0 && t.Events[n-1].Time >= cut {
			n--
		}
		t.Dropped += uint64(len(t.Events) - n)
		t.Events = t.Events[:n]
	}
	return t
}

// recycle gives the run's arrays back to the pools (recycle.go) once
// Finish has merged them, unless a Stream read them: it may still hold
// its view of a chunk. The buffers lose their storage, and the recorder
// its events: Record calls it, which owns the recorder (a caller of
// Finish may call it again: testkit's Builder).
func (r *Recorder) recycle() {
	if r.streamed {
		return
	}
	r.slabMu.Lock()
	defer r.slabMu.Unlock()
	for _, b := range r.bufs {
		b.cur, b.c, b.chunks, b.first.ev = nil, nil, nil, nil // no chunk left on the arrays given back
	}
	for _, a := range r.arrays {
		giveEvents(a)
	}
	r.arrays, r.slab = nil, nil
	r.order.recycle()
}

// kindOrder orders events of different threads at the same time: a
// release comes before the acquire it enables.
func kindOrder(k Kind) int {
	switch k {
	case KindLockRelease, KindThreadEnd:
		return 0
	case KindLockAcquire:
		return 2
	}
	return 1
}

// Less is the order of events in a Trace: by time, then releases before
// other kinds before acquires, then by thread.
func Less(a, b *Event) bool {
	if a.Time != b.Time {
		return a.Time < b.Time
	}
	if oa, ob := kindOrder(a.Kind), kindOrder(b.Kind); oa != ob {
		return oa < ob
	}
	return a.Thread < b.Thread
}

// mergeEvents merges sequences of events by Less, each sequence a
// thread's events in its order, held in chunks (consecutive and
// time-ordered). A sequence's events keep their order, whatever Less says
// of two of them. In a valid trace a thread's times increase strictly
// (a Recorder's do), and its chunks could be merged as lists of their
// own; a damaged file's thread may repeat a time, and merged so, the
// reader's chunks of that thread could be interleaved there (a later
// chunk's head, equal to or before an earlier chunk's rest, would go
// first), moving the error that CheckValid reports, and where a salvaged
// read cuts the trace.
//
// It always takes the smallest head of the sequences, the first
// sequence's run of events that come before every other sequence's head
// at once: a thread holding the GIL emits thousands in a row, and in
// virtual time, where threads take turns every few events, each step
// costs a few comparisons of two words on a heap of the heads' keys, with
// no interface call.
func mergeEvents(seqs [][][]Event) []Event { return layOut(seqs, nil) }

// layOut is the events of seqs in one array, in the trace's order: in
// the order o logged, if it gathers them (a sequential recorder's,
// order.go), else merged (mergeInto). o may be nil.
func layOut(seqs [][][]Event, o *orderLog) []Event {
	out := make([]Event, countEvents(seqs))
	hugeSlice(out)
	defer prefault(out, regionOf(out))() // its pages faulted in on another core meanwhile
	if o != nil && o.gather(out, seqs) {
		return out
	}
	return mergeInto(out, seqs)
}

// countEvents is the number of events of seqs.
func countEvents(seqs [][][]Event) int {
	total := 0
	for _, seq := range seqs {
		for _, l := range seq {
			total += len(l)
		}
	}
	return total
}

// mergeInto is mergeEvents into out, of countEvents(seqs) events.
func mergeInto(out []Event, seqs [][][]Event) []Event {
	h := make(mergeHeap, 0, len(seqs))
	for i, seq := range seqs {
		if c := nextChunk(seq, 0); c < len(seq) {
			h = append(h, mergeHead{t: seq[c][0].Time, k: mergeKey(&seq[c][0]), seq: i, chunk: c})
		}
	}
	o := 0
	for i := len(h)/2 - 1; i >= 0; i-- {
		h.down(i)
	}
	for len(h) > 1 {
		// The second smallest head is h[1] or h[2].
		nt, nk := h[1].t, h[1].k
		if len(h) > 2 && (h[2].t < nt || h[2].t == nt && h[2].k < nk) {
			nt, nk = h[2].t, h[2].k
		}
		top := &h[0]
		seq := seqs[top.seq]
		l := seq[top.chunk][top.pos:]
		n := 1
		for n < len(l) && (l[n].Time < nt || l[n].Time == nt && mergeKey(&l[n]) < nk) {
			n++
		}
		if n == 1 {
			out[o] = l[0]
			o++
		} else {
			o += copy(out[o:], l[:n])
		}
		switch {
		case n < len(l):
			top.pos += n
			top.t, top.k = l[n].Time, mergeKey(&l[n])
		default: // the chunk is done: the sequence goes on in its next one
			if c := nextChunk(seq, top.chunk+1); c < len(seq) {
				top.chunk, top.pos = c, 0
				top.t, top.k = seq[c][0].Time, mergeKey(&seq[c][0])
			} else {
				last := len(h) - 1
				h[0] = h[last]
				h = h[:last]
			}
		}
		h.down(0)
	}
	if len(h) == 1 {
		seq := seqs[h[0].seq]
		o += copy(out[o:], seq[h[0].chunk][h[0].pos:])
		for _, l := range seq[h[0].chunk+1:] {
			o += copy(out[o:], l)
		}
	}
	return out[:o]
}

// nextChunk is the index of seq's first non-empty chunk from c on, or
// len(seq).
func nextChunk(seq [][]Event, c int) int {
	for c < len(seq) && len(seq[c]) == 0 {
		c++
	}
	return c
}

// mergeKey is the order of Less after the time, as one word: kindOrder,
// then the thread.
func mergeKey(e *Event) uint64 {
	return uint64(kindOrder(e.Kind))<<32 | uint64(e.Thread)
}

// mergeHead is the rest of a sequence being merged, from
// seqs[seq][chunk][pos] on, with its first event's key. It holds no
// pointer, so that moving it in the heap needs no write barrier.
type mergeHead struct {
	t     int64  // the first event's time
	k     uint64 // its mergeKey
	seq   int
	chunk int
	pos   int
}

// mergeHeap is a binary min-heap of heads by (t, k).
type mergeHeap []mergeHead

func (h mergeHeap) less(i, j int) bool {
	return h[i].t < h[j].t || h[i].t == h[j].t && h[i].k < h[j].k
}

func (h mergeHeap) down(i int) {
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}
