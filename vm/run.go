package vm

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/giltrace/giltrace/internal/cpus"
	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm/workload"
)

// Options override a workload's settings for one run. Zero values keep the
// workload's (or the defaults).
type Options struct {
	Mode           tracer.GILMode // GIL mode; "" keeps the workload's
	SwitchInterval time.Duration  // cpython mode's switch interval
	CheckInterval  int            // legacy mode's check interval, in instructions
	Threads        int            // every thread group's count, but a group that starts others (StartsOthers) keeps its own
	Processes      int            // VM processes, each running every group without a process
	MaxEvents      int            // bound on recorded events (tracer.Config.MaxEvents)
	LoopsPerMS     float64        // real time: interpreter calibration, 0 measures it with Calibrate; virtual time: the compute rate, 0 is VirtualLoopsPerMS
	Clock          Clock          // a custom clock for tests (time and parking); nil selects by ClockMode
	Version        string         // the giltrace version, recorded in the trace

	// OneProcess runs the threads of every process in one process, with
	// one GIL: what a program of processes would do with threads instead.
	// Each thread still starts and joins only the threads of the process it
	// belongs to in the workload.
	OneProcess bool

	// ClockMode selects real or virtual time; "" keeps the workload's
	// (real by default). See docs/vm.md, "Virtual time".
	ClockMode workload.ClockMode
	// Cores is the number of simulated cores in virtual time; 0 keeps the
	// workload's, else one core per thread (no thread ever waits for a
	// core). Real time runs on this machine's cores and rejects it.
	Cores int
	// Seed, if set, replaces the workload's seed: I/O jitter and the
	// waiter a release wakes.
	Seed *int64
	// WakeLatency is virtual time's wake-up latency; 0 is
	// DefaultWakeLatency.
	WakeLatency time.Duration
	// TimerLatency is how late virtual time's GIL timed waits expire; 0
	// is DefaultTimerLatency, negative none (the switch interval exactly).
	TimerLatency time.Duration
}

// ErrInterrupted is returned, wrapped, by Run when its context was done
// before every thread finished. The trace returned with it is valid. It is
// tracer.ErrInterrupted, which every source returns.
var ErrInterrupted = tracer.ErrInterrupted

// process is a VM process: an interpreter instance with its own GIL,
// eval breaker and guest locks.
type process struct {
	id      tracer.ProcID
	breaker breaker
	gil     gil
	gilLock *lock   // nil in free-threaded mode
	locks   []*lock // guest locks, by program lock index
	// joinLocks[g] are the join locks of the threads of group g, if some
	// thread joins the group (join.go).
	joinLocks [][]*joinLock
	// gates[g] are the start gates of the threads of group g, if a start
	// operation starts the group (start.go).
	gates [][]*startGate

	// The process exits when its last thread that is not a daemon ends
	// (exit): its daemon threads stop then. ctx is its threads' context
	// (the run's, cancelled at the exit in real time); live counts the
	// threads that are not daemons and have not ended.
	ctx     context.Context
	cancel  context.CancelCauseFunc
	threads []*thread
	live    atomic.Int32
	exited  atomic.Bool
}

// settings are a run's resolved settings.
type settings struct {
	mode      tracer.GILMode
	interval  time.Duration
	check     int
	processes int
	one       bool  // Options.OneProcess
	counts    []int // threads of each group, in each process it runs in
	threads   int   // threads in all processes
	virtual   bool
	cores     int   // simulated cores (virtual time)
	seed      int64 // the workload's seed or the override
	latency   time.Duration
	timer     time.Duration // TimerLatency, resolved
}

func resolve(w *workload.Workload, o Options) (settings, error) {
	s := settings{mode: w.GIL.Mode, interval: w.GIL.SwitchInterval, check: w.GIL.CheckInterval, processes: w.Processes}
	if o.Mode != "" {
		s.mode = o.Mode
	}
	if o.SwitchInterval != 0 {
		s.interval = o.SwitchInterval
	}
	if o.CheckInterval != 0 {
		s.check = o.CheckInterval
	}
	if o.Processes != 0 {
		s.processes = o.Processes
	}
	s.one = o.OneProcess
	if s.mode == "" {
		s.mode = tracer.GILCPython
	}
	if s.interval == 0 {
		s.interval = workload.DefaultSwitchInterval
	}
	if s.check == 0 {
		s.check = workload.DefaultCheckInterval
	}
	s.processes = max(s.processes, 1)
	if err := s.resolveClock(w, o); err != nil {
		return s, err
	}
	switch {
	case !s.mode.Valid():
		return s, fmt.Errorf("unknown GIL mode %q (want %s, %s or %s)", s.mode, tracer.GILCPython, tracer.GILLegacy, tracer.GILNone)
	case s.interval < 0:
		return s, fmt.Errorf("switch interval %v is negative", s.interval)
	case s.check < 0:
		return s, fmt.Errorf("check interval %d is negative", s.check)
	case s.processes > workload.MaxProcesses:
		return s, fmt.Errorf("%d processes: %w", s.processes, ErrTooManyProcesses)
	case o.Threads < 0:
		return s, fmt.Errorf("%d threads: must be positive", o.Threads)
	}
	total := 0
	for _, g := range w.Threads {
		n := max(g.Count, 1)
		if o.Threads > 0 && !w.StartsOthers(g) {
			// A group that starts others keeps its count: each of its
			// threads would start them again, which check refuses (QA).
			n = o.Threads
		}
		s.counts = append(s.counts, n)
		if g.Process > s.processes {
			return s, fmt.Errorf("thread group %q belongs to process %d, but the run has %d: run it with %d or more processes", g.Name, g.Process, s.processes, g.Process)
		}
		if g.Process != 0 {
			total += n
		} else {
			total += n * s.processes
		}
	}
	if total == 0 {
		return s, errors.New("no threads to run")
	}
	if total > workload.MaxThreads {
		procs := "processes"
		if s.processes == 1 {
			procs = "process"
		}
		return s, fmt.Errorf("%d threads in %d %s: %w", total, s.processes, procs, ErrTooManyThreads)
	}
	s.threads = total
	if s.virtual && s.cores == 0 {
		s.cores = total // a core per thread: none ever waits for one
	}
	return s, nil
}

// resolveClock settles real or virtual time, the simulated cores and the
// seed.
func (s *settings) resolveClock(w *workload.Workload, o Options) error {
	mode := w.Clock
	if o.ClockMode != "" {
		mode = o.ClockMode
	}
	s.seed = w.Seed
	if o.Seed != nil {
		s.seed = *o.Seed
	}
	s.cores = w.Cores
	if o.Cores != 0 {
		s.cores = o.Cores
	}
	s.latency = o.WakeLatency
	if s.latency == 0 {
		s.latency = DefaultWakeLatency
	}
	s.timer = o.TimerLatency
	switch {
	case s.timer == 0:
		s.timer = DefaultTimerLatency
	case s.timer < 0:
		s.timer = 0
	}
	switch {
	case mode != "" && !mode.Valid():
		return fmt.Errorf("unknown clock %q (want %s or %s)", mode, workload.ClockReal, workload.ClockVirtual)
	case s.cores < 0 || s.cores > workload.MaxCores:
		return fmt.Errorf("%d cores: expected 1 to %d", s.cores, workload.MaxCores)
	case s.latency < 0 || s.latency > workload.MaxDuration:
		return fmt.Errorf("wake-up latency %v out of range [0, %v]", s.latency, workload.MaxDuration)
	case s.timer > workload.MaxDuration:
		return fmt.Errorf("timer latency %v out of range [0, %v]", s.timer, workload.MaxDuration)
	}
	s.virtual = mode == workload.ClockVirtual
	if s.virtual && o.Clock != nil {
		return errors.New("virtual time and a custom Clock exclude each other")
	}
	if !s.virtual && o.Cores != 0 {
		return fmt.Errorf("%d cores: simulated cores need virtual time (a real run uses this machine's)", o.Cores)
	}
	if !s.virtual && w.Cores != 0 {
		// Checked here, not when the file is loaded: --clock virtual may
		// make the run virtual.
		where := ""
		if w.File != "" && w.CoresLine > 0 {
			where = fmt.Sprintf("%s:%d: ", w.File, w.CoresLine)
		}
		return fmt.Errorf("%scores: %d: simulated cores need virtual time (a real run uses this machine's cores): add clock: virtual, record with --clock virtual, or remove cores", where, w.Cores)
	}
	if s.virtual {
		if _, err := virtualRate(o.LoopsPerMS); err != nil {
			return err
		}
	}
	return nil
}

// threadReserve is the events a thread's buffer takes from the bound at its
// first event and the next chunk: tracer.Buffer grows by chunks of 64 Ki
// events, so a bound below 64 Ki x threads cuts the trace at its start.
const threadReserve = 2 * 64 << 10

// maxEvents is the recorder's bound: as asked, or the tracer's default
// raised to leave every thread room for its buffer, up to twice the
// default (32 Mi events, 1 GiB, and as much again to merge them at the
// end): 1024 threads x 128 Ki was 128 Mi events, 4 GiB, and a run that
// filled it died out of memory in the final merge instead of being cut
// at the bound with a warning.
func maxEvents(asked int, s settings) int {
	if asked > 0 {
		return asked
	}
	return max(tracer.DefaultMaxEvents, min(s.threads*threadReserve, maxEventsCap))
}

// EventBound is the recorder's bound of events Run takes for w with o:
// o.MaxEvents if set, else the tracer's default raised so that every
// thread has room for its buffer.
func EventBound(w *workload.Workload, o Options) (int, error) {
	s, err := resolve(w, o)
	if err != nil {
		return 0, fmt.Errorf("running workload %s: %w", w.Name, err)
	}
	return maxEvents(o.MaxEvents, s), nil
}

// maxEventsCap bounds maxEvents' raise.
const maxEventsCap = 2 * tracer.DefaultMaxEvents

// Run runs w and returns its trace. Every thread of every process is a
// goroutine running the interpreter; they contend for their process's GIL
// as the mode says, and record every state change.
//
// When ctx is done, every thread stops at its next eval breaker check or as
// soon as its I/O, native call or wait is cut short, releases its locks
// (tracer.ReleaseInterrupt) and ends; Run then returns the trace recorded so
// far, which is valid, with an error wrapping ErrInterrupted.
//
// Run is tracer.Record of NewSource(w, o), with the recorder's event bound
// raised so that every thread has room for its buffer (see Options.MaxEvents).
func Run(ctx context.Context, w *workload.Workload, o Options) (*tracer.Trace, error) {
	src, err := NewSource(w, o)
	if err != nil {
		return nil, err
	}
	// Huge pages for the buffers in virtual time only: in real time the
	// guest threads take the chunks, and the madvise call (and any
	// compaction at the first touch) would be in the timing measured.
	return tracer.Record(ctx, src, tracer.Config{MaxEvents: maxEvents(o.MaxEvents, src.s), HugePages: src.s.virtual, Sequential: src.s.virtual && !unordered, Disabled: unrecorded})
}

// unrecorded (benchmarks) runs with the recorder disabled: what the
// simulation costs without its events (BenchmarkVirtualThreads).
var unrecorded bool

// Source is the VM as a tracer.Source: a workload with the options of one
// run. Each call of Record runs it once.
type Source struct {
	w *workload.Workload
	o Options
	s settings
}

// NewSource checks w and o and returns the source that runs them.
func NewSource(w *workload.Workload, o Options) (*Source, error) {
	if w == nil {
		return nil, errors.New("running a workload: no workload")
	}
	s, err := resolve(w, o)
	if err != nil {
		return nil, fmt.Errorf("running workload %s: %w", w.Name, err)
	}
	return &Source{w: w, o: o, s: s}, nil
}

// Record runs the workload, recording into rec; see Run.
func (src *Source) Record(ctx context.Context, rec *tracer.Recorder) (tracer.Meta, error) {
	w, o, s := src.w, src.o, src.s
	lpm := o.LoopsPerMS
	switch {
	case s.virtual:
		lpm, _ = virtualRate(lpm) // checked by NewSource
	case lpm <= 0:
		lpm = Calibrate()
	}
	prog, err := compile(w, rec, lpm, true)
	if err != nil {
		return tracer.Meta{}, fmt.Errorf("compiling workload %s: %w", w.Name, err)
	}
	clock := o.Clock
	start := time.Now()
	// A run whose threads all wait until a notify that none is left to
	// give stops with the cause (noticeWaits).
	ctx, stopRun := context.WithCancelCause(ctx)
	defer stopRun(nil)
	var vc *vclock
	switch {
	case s.virtual:
		// Virtual time 0 is the Unix epoch, so that the trace's bytes do
		// not depend on when it ran.
		start = time.Unix(0, 0).UTC()
		vc = newVClock(ctx, s.cores, lpm, s.latency)
		vc.timer = int64(s.timer)
		vc.rec = rec
		clock = vc
	case clock == nil:
		clock = &realClock{start: start} // time 0 of the events is Meta.Start
	}
	var stopped atomic.Bool
	r := &runner{w: w, s: s, version: o.Version, rec: rec, prog: prog, clock: clock, ctx: ctx, stopped: &stopped, gomaxprocs: runtime.GOMAXPROCS(0)}
	threads, procs, err := r.build()
	if err != nil {
		return tracer.Meta{}, fmt.Errorf("running workload %s: %w", w.Name, err)
	}
	if len(prog.notices) > 0 {
		stop := stopRun
		if vc != nil {
			// Seen at the scheduler's next pop, not when the context's
			// callback runs (newVClock).
			stop = func(err error) { stopRun(err); vc.cancelled.Store(true) }
		}
		waits := newNoticeWaits(threads, stop)
		for _, th := range threads {
			th.noticeWaits = waits
		}
	}
	// In real time, context callbacks stop the threads: a process's
	// daemon threads at its exit (or every thread at the run's stop), the
	// eval breaker for those computing, a wake-up for those parked
	// (Waker.Park sees the context), each registered once the process has
	// all its threads (a run already stopped calls it at once). In
	// virtual time the clock stops them itself, at its next pop or check
	// (vclock.exit, stop; breaker).
	stop := func() bool { return false }
	if vc == nil {
		for _, p := range procs {
			context.AfterFunc(p.ctx, func() {
				p.breaker.set(bitStop)
				for _, th := range p.threads {
					th.wake.Signal()
				}
			})
		}
		stop = context.AfterFunc(ctx, func() {
			for _, p := range procs {
				p.breaker.set(bitStop)
			}
			// A parked thread sees the stop when woken (Waker.Park).
			for _, th := range threads {
				th.wake.Signal()
			}
		})
	}
	cpu0 := processCPU()
	if vc != nil {
		vc.add(procs, threads)
		vc.run()
	} else {
		var wg sync.WaitGroup
		gomaxprocs, done := raiseProcs(len(threads) + 1)
		r.gomaxprocs = gomaxprocs
		defer done()
		for _, th := range threads {
			// On Linux each guest thread is a goroutine that sleeps only in
			// the kernel (a futex: Waker), on the operating-system thread it
			// runs on, with a processor for each (raiseProcs): a thread the
			// GIL wakes is scheduled by the kernel, as CPython's are, not
			// run by Go's scheduler on the waker's processor, so on a loaded
			// machine handoffs slow down as CPython's do. It is locked to
			// that thread, as a CPython thread is one pthread
			// (lockGuestThread; docs/vm.md, "Threads").
			wg.Go(func() {
				defer lockGuestThread()()
				th.run()
			})
		}
		wg.Wait()
	}
	stop()
	meta := r.meta(start, lpm)
	if vc != nil {
		r.virtualMeta(&meta, vc, threads)
		if vc.cut {
			// The dropped count is of the events simulated before the
			// stop, not of all the run would have made.
			meta.Extra["stopped_at_bound"] = "true"
		}
		if vc.err != nil {
			meta.Extra["interrupted"] = "true"
			// Why, for every output that says the trace is partial (QA:
			// compare predicted from a deadlocked run without a word).
			meta.Extra["interrupted_by"] = vc.err.Error()
			return meta, fmt.Errorf("running workload %s in virtual time: stopped at %v: %w: %w", w.Name, time.Duration(vc.stopAt), ErrInterrupted, vc.err)
		}
	} else if cpu1 := processCPU(); o.Clock == nil && cpu0 >= 0 && cpu1 >= cpu0 {
		meta.Extra["cpu_ns"] = strconv.FormatInt(cpu1-cpu0, 10) // CPU obtained in real time (diagnosis.ExtraCPU)
	}
	if stopped.Load() && (vc == nil || !vc.cut) { // stopped at the cut: every kept event was made
		meta.Extra["interrupted"] = "true"
		return meta, fmt.Errorf("running workload %s: %w: %w", w.Name, ErrInterrupted, context.Cause(ctx))
	}
	return meta, nil
}

// ErrTooManyProcesses: a run of more processes than the VM runs
// (workload.MaxProcesses).
var ErrTooManyProcesses = fmt.Errorf("at most %d processes", workload.MaxProcesses)

// ErrTooManyThreads: a run of more threads in all than a workload may
// have (workload.MaxThreads).
var ErrTooManyThreads = fmt.Errorf("at most %d threads", workload.MaxThreads)

// runner builds the processes and threads of a run.
type runner struct {
	w          *workload.Workload
	s          settings
	rec        *tracer.Recorder
	prog       *program
	clock      Clock
	ctx        context.Context
	stopped    *atomic.Bool
	version    string
	gomaxprocs int // recorded in the trace: GOMAXPROCS before a real-time run raised it
	// frameSlab and localSlab are where the next threads' frames and
	// locals are cut from (carve): allocated for 1, 1, 2, 4, ... up to 64
	// threads at a time, not two arrays a thread.
	frameSlab []frame
	localSlab []int64
	slabbed   int // threads given frames and locals so far
}

func (r *runner) build() ([]*thread, []*process, error) {
	var threads []*thread
	var procs []*process
	var p *process
	for pid := 1; pid <= r.s.processes; pid++ {
		if p == nil || !r.s.one {
			var err error
			if p, err = r.process(pid); err != nil {
				return nil, nil, err
			}
			procs = append(procs, p)
		}
		for gi, grp := range r.w.Threads {
			if !grp.InProcess(pid) {
				continue
			}
			n := r.s.counts[gi]
			for i := 1; i <= n; i++ {
				name := grp.Name
				if n > 1 {
					name = grp.Name + "-" + strconv.Itoa(i)
				}
				th := r.thread(p, name, r.prog.tops[gi], grp.StartAfter)
				th.home = pid
				th.daemon = grp.Daemon
				p.threads = append(p.threads, th)
				if !th.daemon {
					p.live.Add(1)
				}
				if r.prog.joined != nil && r.prog.joined[gi] {
					r.addJoinLock(p, gi, th, name)
				}
				if r.prog.started != nil && r.prog.started[gi] {
					r.addGate(p, gi, th)
				}
				threads = append(threads, th)
			}
		}
	}
	return threads, procs, nil
}

// process makes the VM process pid (1-based): its GIL and guest locks.
func (r *runner) process(pid int) (*process, error) {
	name := r.w.Name
	if r.s.processes > 1 && !r.s.one {
		name = r.w.Name + "-" + strconv.Itoa(pid)
	}
	p := &process{id: r.rec.AddProcess(name, pid)}
	p.breaker.plain = r.s.virtual // coroutines only (breaker)
	p.ctx, p.cancel = context.WithCancelCause(r.ctx)
	id := tracer.NoLock
	if r.s.mode != tracer.GILNone {
		id = r.rec.AddLock("GIL", p.id, true)
	}
	g, err := newGIL(r.s.mode, id, r.clock, &p.breaker, r.s.interval, uint64(r.s.seed)+uint64(pid))
	if err != nil {
		return nil, err
	}
	p.gil = g
	switch g := g.(type) {
	case *cpythonGIL:
		p.gilLock = g.l
	case *legacyGIL:
		p.gilLock = g.l
	}
	for _, ln := range r.prog.locks {
		p.locks = append(p.locks, newLock(r.rec.AddLock(ln, p.id, false), r.clock, uint64(r.s.seed)+uint64(pid)))
	}
	return p, nil
}

func (r *runner) thread(p *process, name string, top *code, after time.Duration) *thread {
	buf := r.rec.NewThread(name, p.id)
	th := &thread{
		id: buf.Thread(), name: name, proc: p, gil: p.gil, buf: buf, rec: r.rec, clock: r.clock, ctx: p.ctx, runCtx: r.ctx,
		prog: r.prog, wake: NewWaker(), seed: r.s.seed,
		nextTick: math.MaxInt64, top: top, startAfter: after, stopped: r.stopped,
	}
	th.frames, th.locals = r.carve()
	if r.s.mode == tracer.GILLegacy {
		th.checkInterval = int64(r.s.check)
		th.nextTick = th.checkInterval
	}
	return th
}

// carve is a new thread's frames (empty, room for the program's deepest
// call) and locals (zeroed). In virtual time both are cut from slabs (the
// threads are coroutines that run one at a time). In real time each
// thread's locals are an array of their own, of whole cache lines: the
// interpreter writes a local at every iteration of a loop, and threads
// that run at once (free-threaded, processes) would otherwise write the
// same line from two cores.
func (r *runner) carve() ([]frame, []int64) {
	nf, nl := r.prog.maxDepth+1, r.prog.maxLocal
	if !r.s.virtual {
		const line = 8 // int64s in a 64-byte cache line; the allocator aligns arrays of them to it
		return make([]frame, 0, nf), make([]int64, (nl+line-1)/line*line)[:nl:nl]
	}
	if len(r.frameSlab) < nf || len(r.localSlab) < nl {
		k := min(max(r.slabbed, 1), 64)
		r.frameSlab, r.localSlab = make([]frame, k*nf), make([]int64, k*nl)
	}
	r.slabbed++
	f, l := r.frameSlab[:0:nf], r.localSlab[:nl:nl]
	r.frameSlab, r.localSlab = r.frameSlab[nf:], r.localSlab[nl:]
	return f, l
}

// usableCores is cpus.Usable (tests: whether a run asks).
var usableCores = cpus.Usable

func (r *runner) meta(start time.Time, lpm float64) tracer.Meta {
	extra := map[string]string{"processes": strconv.Itoa(r.s.processes)}
	if r.s.one && r.s.processes > 1 {
		extra["processes"] = "1"
		extra["one_process_of"] = strconv.Itoa(r.s.processes) // the workload's processes, run as one
	}
	cores := r.s.cores // virtual time: the simulated machine (virtualMeta)
	if !r.s.virtual {
		// This machine's, within the cgroup's limit: files to read, 90 us
		// a run, 8 % of an 8-thread virtual countdown's CPU when virtual
		// runs asked too (docs/performance.md).
		cores = usableCores()
	}
	return tracer.Meta{
		Workload:       r.w.Name,
		WorkloadFile:   r.w.File,
		WorkloadSource: string(r.w.Source),
		GILMode:        r.s.mode,
		SwitchInterval: r.s.interval,
		CheckInterval:  r.s.check,
		Cores:          cores,
		GOMAXPROCS:     r.gomaxprocs,
		LoopsPerMS:     lpm,
		Start:          start,
		Version:        r.version,
		Extra:          extra,
	}
}

// virtualMeta marks a virtual run's metadata: the simulated cores, the
// seed and the model's parameters (docs/vm.md, "Virtual time"), and the
// work its threads did: the CPU time of their instructions and native
// calls, and their I/O (the diagnosis's ExtraWantedCPU and ExtraWantedIO,
// named for what a thread asks of the machine). A thread waiting for a simulated core is recorded as
// running, in native code or in I/O, as a traced program is: these tell
// the work from those waits.
func (r *runner) virtualMeta(m *tracer.Meta, c *vclock, threads []*thread) {
	var cpu, io int64
	for _, th := range threads {
		cpu += th.instrs*c.psPerInstr/1000 + th.nativeNS
		io += th.ioNS
	}
	m.Extra["wanted_cpu_ns"] = strconv.FormatInt(cpu, 10)
	m.Extra["wanted_io_ns"] = strconv.FormatInt(io, 10)
	m.Cores, m.GOMAXPROCS = r.s.cores, r.s.cores
	m.Extra["clock"] = string(workload.ClockVirtual)
	m.Extra["cores"] = strconv.Itoa(r.s.cores)
	m.Extra["seed"] = strconv.FormatInt(r.s.seed, 10)
	m.Extra["instruction_ps"] = strconv.FormatInt(c.psPerInstr, 10)
	m.Extra["wake_latency"] = r.s.latency.String()
	m.Extra["timer_latency"] = r.s.timer.String()
	m.Extra["time_slice"] = time.Duration(c.slice).String()
}

// sortedFunctions is the workload's function names in order, so that frame
// and function indexes do not depend on map order.
func sortedFunctions(w *workload.Workload) []string {
	names := make([]string, 0, len(w.Functions))
	for n := range w.Functions {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// unordered (tests) runs virtual time without the recorder's order log
// (tracer.Config.Sequential): its buffers merged, as in real time.
var unordered bool
