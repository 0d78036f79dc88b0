package cpython

import (
	"slices"
	"time"
)

// sampleTick is how often the sampler reads each process's GIL holder. A
// thread that never lets the GIL go before it ends (a worker of a few
// milliseconds) has no frame left and (3.12) no thread state at its one
// release: these readings are all that says what it ran and who it is.
// Read every 2 ms by the goroutine reading the ring buffers, under the
// machine's lock (held for tens of milliseconds while the start-up's
// events are prepared), 3 ms threads were missed in most runs.
const sampleTick = 500 * time.Microsecond

// sampleEvery is how often the stack of a thread holding the GIL for long
// is read.
const sampleEvery = 10 * time.Millisecond

// A thread's stack is read at the first reading that finds it holding the
// GIL, then every sampleEvery while the hold goes on. A reading that
// finds the holder of the last one holding it again is a new hold when
// the GIL's count of changes of holder (switch_number) moved: the GIL went
// to another thread and back between the two. A hold that no reading
// finds runs in its release's stack, which is where the work ran only
// when the release came within a few instructions of it (a drop request);
// a hold that ends in a blocking call runs there, often in another
// function than the work (QA: two threads each looping over compute(),
// 2 ms of Python, then wait_io(), a time.sleep: 0.45 s of running time on
// the sleep's line, 0.10 s on compute's, when reads began a switch
// interval and 2 ms into a hold; 0.23-0.31 s against 0.10-0.17 s with
// reads at each new holder every 1.1 ms (a time.Ticker's pace: pacer);
// 0.34-0.38 s against 0.03-0.06 s at 0.5 ms with switch_number, and
// beside go test ./cmd/giltrace 0.31-0.52 s against 0.01-0.11 s, where
// the build before gave 0.22-0.51 s against 0.04-0.19 s). Holds shorter
// than a tick are found in proportion to their length.

// freshSamples is how many readings of a thread state's first hold of the
// GIL read its stack, however short the hold: a thread's first reading
// may find it still in Thread._bootstrap_inner, before its target.
const freshSamples = 3

// sampler reads, every sampleTick, each traced process's GIL state
// (last_holder, locked and switch_number in one read of its memory, and
// the holder's thread-state id). It reads the holder's
// Python stack and thread name when the holder is a thread state whose
// stack it has read fewer than freshSamples times (a new thread), and at
// the first reading that finds a thread holding the GIL, then every
// sampleEvery while the hold goes on. Each reading is a
// holder_sample event at the end of its reads, for the machine to match
// against its own holder (machine.sample). It runs in a goroutine of its
// own with its own file handles and code cache, without the machine's
// lock, so that it keeps its pace while the machine is busy.
type sampler struct {
	in    *interp
	fa    frameArgs
	depth int
	mem   memReader
	procs map[int]*sampled
}

// sampled is the sampler's state for one process.
type sampled struct {
	// The GIL's holder and count of changes of holder as last read, and
	// when the holder's stack was last read (0: not during this hold).
	seenTS, seenSwitch uint64
	seenLast           int64
	// fresh: by thread state id, the stacks read (freshHolder).
	fresh map[uint64]int

	codes   map[uint64]*code
	nsOther bool
	nsRead  bool
}

func newSampler(in *interp, fa frameArgs, depth int, mem memReader) *sampler {
	return &sampler{in: in, fa: fa, depth: depth, mem: mem, procs: map[int]*sampled{}}
}

// read reads the processes pids at mono (CLOCK_MONOTONIC) and returns
// their holder_sample events.
func (s *sampler) read(pids []int, mono int64) []rawEvent {
	l := s.in.layout
	if l.gilPath == nil || s.in.NoGIL {
		return nil
	}
	var out []rawEvent
	for _, pid := range pids {
		sp, ok := s.procs[pid]
		if !ok {
			sp = &sampled{fresh: map[uint64]int{}, codes: map[uint64]*code{}}
			s.procs[pid] = sp
		}
		ts, switches, ok := s.mem.holder(pid)
		if !ok {
			sp.seenTS = 0
			continue
		}
		mem := s.mem.memory(pid)
		id, fresh := s.freshHolder(sp, mem, ts)
		switch {
		case ts != sp.seenTS || switches != sp.seenSwitch:
			// A new hold, also when the holder read last held it then: the
			// GIL went to another thread and back in between.
			sp.seenTS, sp.seenSwitch, sp.seenLast = ts, switches, 0
		case fresh:
		case sp.seenLast != 0 && mono-sp.seenLast < int64(sampleEvery):
			continue
		}
		sp.seenLast = mono
		frame, ok := innermostFrame(mem, l, ts)
		if !ok || frame == 0 {
			continue
		}
		raw, _ := readFrames(mem, l, s.fa, frame, s.depth+1)
		if len(raw) == 0 {
			continue
		}
		codes := make([]*code, len(raw))
		for i, f := range raw {
			codes[i] = s.code(pid, sp, mem, f.code)
		}
		e := rawEvent{tgid: pid, event: evSample, frames: raw, codes: codes, resolved: true}
		if fresh {
			sp.fresh[id]++
			e.name, e.nameTID = s.threadName(pid, sp, mem, ts)
		}
		// The hit is at the end of the reads, and says when they began:
		// the machine takes the stack only if the thread it shows holding
		// the GIL then held it since before they began (no other thread
		// can have run, or reused the thread state, in between).
		e.mono = max(monoNow(), mono)
		e.args = []arg{{name: "ts", vals: []uint64{ts}}, {name: "since", vals: []uint64{uint64(e.mono - mono)}}}
		out = append(out, e)
	}
	if len(s.procs) > len(pids) {
		// Processes no longer traced (exited): their state, file and
		// caches go.
		for pid := range s.procs {
			if !slices.Contains(pids, pid) {
				delete(s.procs, pid)
				s.mem.forget(pid)
			}
		}
	}
	return out
}

// freshHolder reports whether thread state ts (holding the GIL now) is one
// whose stack has been read fewer than freshSamples times, by its id
// (unique in the process, where its address is not: 3.12 reuses a freed
// thread state at once).
func (s *sampler) freshHolder(sp *sampled, mem *memory, ts uint64) (uint64, bool) {
	l := s.in.layout
	if l.tstateID < 0 {
		return 0, false
	}
	id, ok := mem.u64(ts + uint64(l.tstateID))
	if !ok {
		return 0, false
	}
	return id, sp.fresh[id] < freshSamples
}

// threadName reads the Python name of the thread whose thread state ts
// holds the GIL now, and the thread's ID: its Thread's _native_id, set by
// the thread itself in the _bootstrap_inner whose frame gives the Thread.
// Not in another PID namespace, where _native_id is an ID there.
func (s *sampler) threadName(pid int, sp *sampled, mem *memory, ts uint64) (string, int) {
	l := s.in.layout
	if l.objErr != nil || sp.otherNS(pid) {
		return "", 0
	}
	obj := bootstrapThread(mem, l, func(addr uint64) *code { return s.code(pid, sp, mem, addr) }, ts)
	if obj == 0 {
		return "", 0
	}
	name, tid, ok := threadObject(mem, l, obj)
	if !ok || name == "" {
		return "", 0
	}
	return name, int(tid)
}

// code is code object addr of process pid, cached as machine.checkedCode
// caches it: checked against the object at addr at each use.
func (s *sampler) code(pid int, sp *sampled, mem *memory, addr uint64) *code {
	l := s.in.layout
	if c, ok := sp.codes[addr]; ok {
		if _, id, ok := codeHeader(mem, l, addr); !ok || id == c.id {
			return c
		}
		delete(sp.codes, addr)
	}
	if want, ok := s.mem.codeType(pid); ok {
		if typ, ok := mem.u64(addr + 8); ok && typ != want {
			return nil
		}
	}
	c, ok := readCode(mem, l, addr)
	if !ok {
		return nil
	}
	sp.codes[addr] = c
	return c
}

// otherNS reports whether process pid is in another PID namespace than
// giltrace, read once.
func (sp *sampled) otherNS(pid int) bool {
	if !sp.nsRead {
		sp.nsRead, sp.nsOther = true, otherPIDNamespace(pid)
	}
	return sp.nsOther
}
