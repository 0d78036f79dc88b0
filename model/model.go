// Package model fits a workload to a recorded run: from the spans of a
// trace (a real CPython program's, or a VM run's) it writes a workload file
// (format v1, docs/workloads.md) that reproduces what each thread did —
// its Python running time, its blocking calls with their kinds, its native
// calls that hold or release the GIL, its holds of shared locks — in the
// order recorded, grouped into functions named after the Python functions
// of the recorded stacks, and compressed into repeats where the run repeats
// itself. GIL waits are not written: they emerge when the model runs, so
// that the model can be replayed under other choices (processes,
// free-threading, more cores, another switch interval) in virtual time.
// It carries the recorded machine's cores (cores: N, with clock: virtual,
// which simulated cores need), so that replayed as it stands it runs on
// the cores the run had: a run its cores held back replays as long.
//
// Durations are the measured ones: time in Python, not the VM's loop
// counts. docs/what-if.md says how the model is built and where it cannot
// know what the program would do (a process pool's pickling cost, a C
// extension's behaviour without a GIL).
//
// Build is deterministic: the same trace and options give the same bytes.
package model

import (
	"cmp"
	"errors"
	"fmt"
	"iter"
	"maps"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/giltrace/giltrace/tracer"
)

// Options tune the model.
type Options struct {
	// Source is the path of the trace, named in the file's header.
	Source string
	// Tolerance is how far apart (relative to the longer) two durations
	// may be for two passages to count as repeats of one another: 0 means
	// 0.25; 1 or more takes any two durations as similar. A model over
	// 256 KiB is built again with wider tolerances (coarser).
	Tolerance float64
	// MaxFunctions bounds the functions written; beyond it, operations are
	// attributed to outer frames of their stacks. 0 means 200.
	MaxFunctions int
	// Cores is written as the workload's cores: setting, the simulated
	// cores of a virtual-time replay: 0 means the recorded machine's
	// (tracer.Meta.Cores, at most MaxCores), and none when the trace does
	// not say (the header then says so). Clock is written as its clock:
	// setting: "" means virtual when cores: is written (a workload's
	// cores: needs virtual time: the model's replay is the recorded run on
	// as many cores), else none.
	Clock string
	Cores int
	// FixedWaits writes every wait for a notification with its recorded
	// length, as models did before notifiers were inferred (findNotifies):
	// for a replay that a wrongly inferred notifier would deadlock.
	FixedWaits bool
}

// defaultTolerance is Options.Tolerance's default.
const defaultTolerance = 0.25

// opKind is what an operation of the model does.
type opKind uint8

const (
	opCompute    opKind = iota + 1 // Python running with the GIL
	opIO                           // blocking call that released the GIL
	opNative                       // native call that released the GIL
	opNativeHold                   // native call that kept the GIL
	opLock                         // a shared lock held around body
	opCall                         // a call of function name
	opRepeat                       // body, times times
	opJoin                         // wait until thread target has ended (Thread.join)
	opStart                        // start thread target (Thread.start)
	opWait                         // a wait for a notification on lock label (Condition.wait, a queue's get)
	opWaitNotify                   // a wait until a notify on lock label (d: its recorded length)
	opNotify                       // a notify on lock label
	opIOUntil                      // a blocking call of I/O kind label that a notify on lock until ends (d: its recorded length)
)

// op is an operation of the model.
type op struct {
	kind   opKind
	d      float64         // nanoseconds, for compute, io and native (a mean after merging)
	label  string          // the I/O kind, the lock's name (a lock's, a wait's), or the callee
	times  int             // opRepeat
	body   []op            // opLock, opRepeat, and a call's callee body before naming
	target tracer.ThreadID // opJoin
	until  string          // opIOUntil: the lock whose notify ends it
}

// leaf is a recorded piece of a thread's life that the model keeps: what
// it did, for how long, in which function and under which shared lock.
type leaf struct {
	target tracer.ThreadID // opJoin
	kind   opKind
	d      int64
	label  string // I/O kind
	fn     tracer.Frame
	hold   int // index of the shared-lock hold it happened under, -1 if none
	lock   string
	until  string // opIOUntil
}

// Build writes the workload modelling the run of spans s.
func Build(s *tracer.Spans, o Options) ([]byte, error) {
	if o.Tolerance <= 0 {
		o.Tolerance = defaultTolerance
	}
	if o.MaxFunctions <= 0 {
		o.MaxFunctions = 200
	}
	t := s.Trace
	if len(t.Threads) == 0 {
		return nil, errors.New("modelling a run: the trace has no threads")
	}
	what := orDefault(o.Source, "a run")
	if len(t.Events) == 0 {
		// A file cut off before its first block of events: its header
		// names the threads, but none did anything to model.
		return nil, fmt.Errorf("modelling %s: %w: the trace holds no events of its %d threads (a run cut off before its first events were written?)", what, ErrNothingToModel, len(t.Threads))
	}
	if d := t.Duration(); d > int64(MaxRunTime) {
		// A model's thread runs at most that long (QA: a run's stretch
		// over the limit was "a bug in giltrace").
		return nil, fmt.Errorf("modelling %s: %w: the run lasted %s, longer than a model may (%s)", what, ErrTooLong, time.Duration(d).Round(time.Second), MaxRunTime)
	}
	if si := t.Meta.SwitchInterval; si > MaxRunTime {
		// A damaged or forged header: the model's GIL could not be
		// written (it was "a bug in giltrace", and near int64's maximum
		// the interval wrapped to 1us).
		return nil, fmt.Errorf("modelling %s: %w: the trace's switch interval is %s, longer than a model's GIL may have (%s)", what, ErrTooLong, si, MaxRunTime)
	}
	if ci := t.Meta.CheckInterval; t.Meta.GILMode == tracer.GILLegacy && ci > MaxCheckInterval {
		return nil, fmt.Errorf("modelling %s: %w: the trace's check interval is %d instructions, more than a model's GIL may have (%d)", what, ErrTooLong, ci, MaxCheckInterval)
	}
	if n := len(t.Threads); n > MaxThreads {
		// Each thread is a group of its own: a program that started
		// threads one after another past the limit has no model.
		return nil, fmt.Errorf("modelling %s: %w: the run had %d threads over its life, and a model has one thread group per thread, at most %d (a workload's limit)", what, ErrTooManyThreads, n, MaxThreads)
	}
	procs := modelledProcs(t, nil) // every process, until the threads built say which have work
	firstGIL := firstGILHolds(s)
	paired := stackStarts(s, firstGIL) // threads started by a wait in Thread.start
	shared := sharedLocks(s, paired, firstGIL)
	joins := findJoins(s, shared)
	polls := s.Polls() // loops that sleep until other threads end: joins (tracer.Poll)
	starts := findStarts(s, joins, paired)
	cpu := newCPUShare(s, t.Meta.Cores)
	holds := indexHolds(s, shared)
	var notes []notification
	nameNotifies := func() {
		if !o.FixedWaits {
			notes = limitNotifyNames(findNotifies(s, shared, holds, joins, procs), t, procs)
		}
	}
	nameNotifies()
	build := func(tol float64, lines bool) []threadModel {
		var threads []threadModel
		for depth := math.MaxInt; ; {
			threads = threads[:0]
			fns := map[string]bool{}
			for id := range t.Threads {
				tm := buildThread(s, tracer.ThreadID(id), shared, holds, joins, polls[tracer.ThreadID(id)], starts, notes, cpu, depth, tol, lines)
				threads = append(threads, tm)
				for _, b := range tm.blocks {
					fns[b.fn.Func] = true
				}
			}
			if len(fns) <= o.MaxFunctions || depth <= 1 {
				break
			}
			depth = min(depth, maxStackDepth(t)) - 1
		}
		fixUnmatchedWaits(threads)
		markDaemons(s, threads)
		return threads
	}
	// A run whose repeated passages vary a lot (a loop of short writes with
	// a slow one now and then) compresses poorly: past sizeTarget, the
	// model is built again with a wider tolerance (it must stay under
	// MaxSize, the loader's limit for a model),
	// and at last with every passage of the same operations counted as a
	// repeat whatever their durations. Repeats keep their copies' mean
	// durations, so each thread's total time is kept; what is lost is how
	// the durations varied (QA: 60 000 prints of 3 threads, 1.5 M events,
	// made a 1.6 MB model that the what-if prediction could not load).
	var out []byte
	tols := coarser(o.Tolerance)
	for i, st := range tols {
		tol := st.tol
		threads := build(tol, st.lines)
		if p := modelledProcs(t, threads); !maps.Equal(p.num, procs.num) {
			// A process with no thread to write (a trace cut off before
			// its threads did anything) is left out, and the others
			// numbered again: built again, for the notifies' names, which
			// give the waiter's process. The same threads have work.
			procs = p
			nameNotifies()
			threads = build(tol, st.lines)
		}
		if procs.workers > MaxProcesses {
			// A workload's processes are at most that many (QA: a Pool
			// with maxtasksperchild=1 made a model that did not load,
			// said to be "a bug in giltrace").
			return nil, fmt.Errorf("modelling %s: %w: the run had %d processes with threads to model, and a model has at most %d (a workload's limit)", what, ErrTooManyProcesses, procs.workers, MaxProcesses)
		}
		if !slices.ContainsFunc(threads, func(tm threadModel) bool {
			return slices.ContainsFunc(tm.blocks, func(b block) bool { return len(b.ops) > 0 })
		}) {
			return nil, fmt.Errorf("modelling %s: %w: none of its %d threads has a complete operation (running, I/O, a native call or a lock hold) in the trace", what, ErrNothingToModel, len(t.Threads))
		}
		oo := o
		oo.Tolerance = tol
		out = write(t, procs, threads, oo)
		if len(out) <= sizeTarget || len(out) <= MaxSize && i == len(tols)-1 {
			return out, nil
		}
	}
	return nil, fmt.Errorf("modelling %s: %w: %d bytes with every repeated passage merged, over a model's limit of %d bytes (16 MiB): the threads did too many different things in a row", what, ErrTooLarge, len(out), MaxSize)
}

// NoLoad says that the model of trace t does not load, and why, for the
// error of a model that the workload loader refused: a bug in giltrace for
// a whole trace, which Build must model; for a file cut off mid-write or
// damaged, the part it holds, whose last moments Build may not have
// foreseen (QA: a pool's trace cut off before its workers' events).
func NoLoad(t *tracer.Trace) string {
	switch {
	case t.Salvaged != "":
		return "the model of the trace's part before the damage does not load (the file is damaged)"
	case t.Truncated:
		return "the model of the trace's complete part does not load (the file was cut off mid-write)"
	}
	return "the model does not load (a bug in giltrace)"
}

// sizeTarget is the size past which Build tries a wider tolerance: a
// model is read and replayed many times by a prediction (compare), and
// more than a few hundred kilobytes of it are passages that differ only in
// their durations.
const sizeTarget = 256 << 10

// MaxSize is the largest model written: the workload loader's limit for a
// model giltrace wrote (workload.MaxModelSize, which model does not
// import: TestMaxSize), not the 1 MiB of a file written by hand, which a
// model of a long run of irregular passages can exceed (QA: a 12-line
// lock counter's run made 1.8 MB). It only guards against absurd sizes:
// Build aims at sizeTarget.
const MaxSize = 16 << 20

// header begins every model: the loader knows a model by it and bounds it
// by MaxSize (workload.ModelHeader, TestMaxSize).
const header = "# Modelled by giltrace model"

// ErrTooLarge is wrapped by Build's error for a run whose model is over
// MaxSize even with every repeated passage merged.
var ErrTooLarge = errors.New("model too large")

// step is one way Build tries to write the model: a tolerance, and
// whether the blocks of one function found at different lines stay apart.
type step struct {
	tol   float64
	lines bool
}

// coarser is the steps Build tries: at tol with a block for each line
// of a function, as recorded; then with the consecutive blocks of one
// function merged whatever their lines (a loop whose thread is found at
// one line or another of it at each switch of the GIL made a block, and
// a function, of each stretch between switches, each with its own repeat
// counts: nothing shared them, and the loop was hundreds of functions);
// then at wider tolerances, from tol to any difference: a tolerance of
// 0.75 takes durations within a factor of 4 as similar, and 1 any
// (opSimilar). Each is a build of the whole model (about 0.8 s for 1.5 M
// events), so the steps are few.
func coarser(tol float64) []step {
	out := []step{{tol, true}, {tol, false}}
	for _, c := range []float64{0.75, 1} {
		if c > tol {
			out = append(out, step{c, false})
		}
	}
	return out
}

// ErrNothingToModel is wrapped by Build's error for a trace in which no
// thread did anything to model, such as a file cut off before its first
// events.
var ErrNothingToModel = errors.New("nothing to model")

// MaxThreads is the most threads a model may have: a workload's limit
// (workload.MaxThreads, which model does not import: TestMaxThreads).
const MaxThreads = 1024

// ErrTooManyThreads is returned by Build for a run with more threads over
// its life than a workload may have.
var ErrTooManyThreads = errors.New("too many threads to model")

// MaxProcesses is the most processes a model may have: a workload's limit
// (workload.MaxProcesses: TestMaxThreads).
const MaxProcesses = 64

// MaxCores is the most simulated cores a model may write: a workload's
// limit (workload.MaxCores: TestMaxThreads). A run on a machine of more
// is written with that many, as many as its threads can use.
const MaxCores = 4096

// MaxRunTime is the longest run a model may replay: a workload model's
// thread's planned time (workload.MaxModelThreadTime: TestMaxThreads).
const MaxRunTime = 7 * 24 * time.Hour

// MaxCheckInterval is the longest legacy check interval a model may write
// (workload.MaxCheckInterval: TestMaxThreads).
const MaxCheckInterval = 1_000_000

// ErrTooLong is returned by Build for a run longer than MaxRunTime, or a
// switch or check interval longer than a model's GIL may have.
var ErrTooLong = errors.New("run too long to model")

// ErrTooManyProcesses is returned by Build for a run with more processes
// with threads to model than a workload may have.
var ErrTooManyProcesses = errors.New("too many processes to model")

// procSet is the processes whose threads are modelled: those of the run
// with a thread written (one with an operation). A run of several
// processes (a parent and its pool workers) is written as processes: N,
// each thread in its own process (process: K, the recorded process's place
// among those written). A process with no thread to write is left out: a
// workload's process needs a thread that is not a daemon, and a process
// of none would have nothing to run (QA: a multiprocessing pool's trace
// cut off mid-write, before its workers' events, made a model of 3
// processes with threads in the first only, which did not load, and
// export --format report of the file failed).
type procSet struct {
	num     map[tracer.ProcID]int // process: K of each process written; nil: every process, K its place + 1
	workers int                   // processes written
	note    string
}

// place is process p's number in the model, 1 ... workers.
func (ps procSet) place(p tracer.ProcID) int {
	if ps.num == nil {
		return int(p) + 1
	}
	return ps.num[p]
}

// modelledProcs chooses the processes to model: those of the threads
// written among threads, each thread in the process it ran in; nil
// threads, or none written, is every process of the run.
func modelledProcs(t *tracer.Trace, threads []threadModel) procSet {
	if len(t.Procs) <= 1 {
		return procSet{workers: 1}
	}
	ps := procSet{workers: len(t.Procs)}
	var left []string // the processes left out
	if threads != nil {
		has := make([]bool, len(t.Procs))
		for i := range threads {
			if p := int(t.Threads[threads[i].id].Proc); p < len(has) && threads[i].hasOps() {
				has[p] = true
			}
		}
		if slices.Contains(has, true) && slices.Contains(has, false) {
			ps.num = map[tracer.ProcID]int{}
			for p, ok := range has {
				if ok {
					ps.num[tracer.ProcID(p)] = len(ps.num) + 1
				} else {
					left = append(left, t.Procs[p].Name)
				}
			}
			ps.workers = len(ps.num)
		}
	}
	first := t.Procs[0].Name // process 1
	for p, k := range ps.num {
		if k == 1 {
			first = t.Procs[p].Name
		}
	}
	if ps.workers > 1 {
		ps.note = fmt.Sprintf("The run had %d processes: each thread runs in the process it ran in (process: K, %s being process 1), each process with its own GIL. A blocking call that another process's write ended (a task, a result on a pipe between them), or a wait for a child that its exit ended, ends at that process's notify (io: until:, at most its recorded length); one whose end no other process was seen to cause keeps its recorded length.",
			len(t.Procs), first)
	} else if len(left) > 0 {
		ps.note = fmt.Sprintf("The run had %d processes: only %s has threads to model.", len(t.Procs), first)
	}
	if len(left) > 0 {
		ps.note += fmt.Sprintf(" Left out: %s, of whose threads the trace holds no complete operation (a trace cut off before they did anything?).", strings.Join(left, ", "))
	}
	return ps
}

// sharedLocks are the guest locks that at least two threads held, three
// times at least (as the diagnosis counts a mutex), and that some thread
// waited for or that were held a hundredth of the run at least: real
// mutual exclusion, modelled as a lock. Not a lock that nobody waited for
// and that each holder took first of its locks, within lifeSlack of its
// first hold of the GIL, and held to within lifeSlack of its end, one
// holder at least started by threading's Thread.start (stackStarts): each
// thread's state lock (to 3.12, Thread.join's, taken in the bootstrap
// before _started.set() takes a Condition's), whose address the next
// thread's reuses. In web_scraping's recording five request threads held
// one so, one after the other; modelled as one lock, it made them wait on
// each other in the replay once they started where the server started
// them. A real lock taken once by each thread is taken after
// _started.set() (review: workers writing their result under a lock at
// their end, or threads whose whole body is one short critical section,
// dropped, made processes predicted 20 % faster than measured); a thread
// made with _thread.start_new_thread has no state lock, and its first
// lock may be the program's (review). A lock held by one thread only and
// waited for by others (a thread's join lock, a queue's condition) is a
// wait for that thread's work, which the model reproduces by itself.
func sharedLocks(s *tracer.Spans, started map[tracer.ThreadID]start, first map[tracer.ThreadID]int64) map[tracer.LockID]bool {
	holders := map[tracer.LockID]map[tracer.ThreadID]bool{}
	holds := map[tracer.LockID]int{}
	held := map[tracer.LockID]float64{}
	for _, h := range s.Holds {
		if l := s.Trace.Locks[h.Lock]; l.GIL || isJoinLock(l.Name) {
			continue
		}
		if holders[h.Lock] == nil {
			holders[h.Lock] = map[tracer.ThreadID]bool{}
		}
		holders[h.Lock][h.Thread] = true
		holds[h.Lock]++
		held[h.Lock] += float64(h.End - h.Start)
	}
	waited := map[tracer.LockID]bool{}
	for _, w := range s.Waits {
		waited[w.Lock] = true
	}
	// lifeLong: every hold of the lock lasted its holder's life.
	lifeLong := map[tracer.LockID]bool{}
	byThreading := map[tracer.LockID]bool{} // a holder was started by Thread.start
	// Each thread's first hold of a lock other than the GIL.
	firstHold := make([]int, len(s.Threads))
	for i := range firstHold {
		firstHold[i] = -1
	}
	for i, h := range s.Holds {
		if int(h.Thread) >= len(firstHold) || s.Trace.Locks[h.Lock].GIL {
			continue
		}
		if firstHold[h.Thread] < 0 {
			firstHold[h.Thread] = i
		}
	}
	for i, h := range s.Holds {
		if int(h.Thread) >= len(firstHold) || s.Trace.Locks[h.Lock].GIL {
			continue
		}
		ts := s.Threads[h.Thread]
		f, ok := first[h.Thread]
		if _, ok := started[h.Thread]; ok {
			byThreading[h.Lock] = true
		}
		life := ts.Ended && ok && h.Start-f <= lifeSlack && ts.End-h.End <= lifeSlack &&
			firstHold[h.Thread] == i
		if v, ok := lifeLong[h.Lock]; !ok || v {
			lifeLong[h.Lock] = life
		}
	}
	out := map[tracer.LockID]bool{}
	for l, hs := range holders {
		// diagnosis's rule: a join lock has two holds
		if len(hs) >= 2 && holds[l] >= 3 && (waited[l] || held[l] >= minHeldShare*float64(s.Trace.Duration()) && !(lifeLong[l] && byThreading[l])) {
			out[l] = true
		}
	}
	return out
}

// mutexWaitShare is the share of a wait on a shared lock for which other
// threads must have held the lock for the wait to be modelled as a wait for
// the lock (it emerges when the model runs); below it, the wait was for
// something else (a notify) and keeps its recorded length.
const mutexWaitShare = 0.5

// heldBy indexes the holds of the shared locks, by lock, in start order.
type heldBy map[tracer.LockID]*lockHolds

type lockHolds struct {
	holds  []tracer.Hold
	maxEnd []int64 // maxEnd[i]: the latest end of holds[:i+1]
}

func indexHolds(s *tracer.Spans, shared map[tracer.LockID]bool) heldBy {
	h := heldBy{}
	for _, hd := range s.Holds {
		if !shared[hd.Lock] {
			continue
		}
		if h[hd.Lock] == nil {
			h[hd.Lock] = &lockHolds{}
		}
		lh := h[hd.Lock]
		lh.holds = append(lh.holds, hd)
	}
	for _, lh := range h {
		sort.SliceStable(lh.holds, func(i, j int) bool { return lh.holds[i].Start < lh.holds[j].Start })
		lh.maxEnd = make([]int64, len(lh.holds))
		end := int64(math.MinInt64)
		for i, hd := range lh.holds {
			e := hd.End
			if e < 0 {
				e = s.Trace.Duration() // open at the end of the trace
			}
			end = max(end, e)
			lh.maxEnd[i] = end
		}
	}
	return h
}

// others is how long threads other than th held lock l within [from, to).
func (h heldBy) others(l tracer.LockID, th tracer.ThreadID, from, to int64) float64 {
	lh := h[l]
	if lh == nil {
		return 0
	}
	i := sort.Search(len(lh.maxEnd), func(i int) bool { return lh.maxEnd[i] > from })
	var sum int64
	for ; i < len(lh.holds) && lh.holds[i].Start < to; i++ {
		hd := lh.holds[i]
		if hd.Thread == th {
			continue
		}
		end := hd.End
		if end < 0 {
			end = to
		}
		sum += max(0, min(end, to)-max(hd.Start, from))
	}
	return float64(sum)
}

// isJoinLock reports whether the recorder named the lock after a wait in
// Thread.join (source/cpython: " (Thread.join)"): a thread's state lock,
// whose waits are joins even when its address, reused by the next
// thread's state lock, makes it look held by several threads.
func isJoinLock(name string) bool { return strings.HasSuffix(name, " (Thread.join)") }

// minHeldShare is the share of the run's wall that a lock no thread ever
// waited for must have been held to be modelled: a recorder that observes
// every hold (the CPython recorder's lock holds) sees hundreds of locks
// held for microseconds (a Condition's, a Future's, each at an address
// that the next one reuses), which would only make the model long and
// unrepeatable, and could not serialise anything that matters.
const minHeldShare = 0.01

func maxStackDepth(t *tracer.Trace) int {
	n := 0
	for s := range t.Stacks {
		d := 0
		for id := tracer.StackID(s); id != tracer.NoStack; id = t.Stacks[id].Parent {
			d++
		}
		n = max(n, d)
	}
	return n
}

// frameAt is the frame that operations of stack st are attributed to: the
// innermost frame of the program's own code (not the standard library's
// nor the interpreter's frozen modules: an import's file reads belong to
// the line that imports), else the outermost named frame, or the frame at
// depth (counted from the outermost, 1-based) if that is deeper.
func frameAt(t *tracer.Trace, st tracer.StackID, depth int) tracer.Frame {
	var frames []tracer.FrameID
	for id := st; id != tracer.NoStack && int(id) < len(t.Stacks); id = t.Stacks[id].Parent {
		frames = append(frames, t.Stacks[id].Frame)
	}
	if len(frames) == 0 {
		return tracer.Frame{Func: "<thread>"}
	}
	own := func(id tracer.FrameID) bool { return ownFrame(t, &t.Frames[id]) }
	i := 0 // innermost
	for i < len(frames)-1 && !own(frames[i]) {
		i++
	}
	if !own(frames[i]) {
		// No frame of the program's own (the interpreter starting up):
		// the outermost named frame, so that start-up is a few blocks.
		i = len(frames) - 1
		for i > 0 && unnamed(&t.Frames[frames[i]]) {
			i--
		}
		if unnamed(&t.Frames[frames[i]]) {
			return tracer.Frame{Func: startUp}
		}
	}
	if len(frames)-i > depth {
		i = len(frames) - depth
	}
	return t.Frames[frames[i]]
}

// ownFrame reports whether f is a frame of the program's own code, which
// the model names its blocks after: in a file of the program
// (tracer.ProgramFile), and named (not unnamed).
func ownFrame(t *tracer.Trace, f *tracer.Frame) bool { return t.OwnFile(f.File) && !unnamed(f) }

// ProgramCodeAt is when thread id first ran the program's own code, as far
// as its stacks show: the start of its first state span whose stack has a
// frame the model would name a block after (frameAt); ok is false when
// none has. Before it the thread ran only the interpreter's code and the
// libraries': a process's main thread, the interpreter starting up
// (initialising, importing its modules, site) before the main script's
// first frame, which the model folds into a block named after the
// function that took most of it (_path_stat, of importlib).
func ProgramCodeAt(s *tracer.Spans, id tracer.ThreadID) (at int64, ok bool) {
	t := s.Trace
	for _, sp := range s.ThreadStates(id) {
		for st := sp.Stack; st != tracer.NoStack && int(st) < len(t.Stacks); st = t.Stacks[st].Parent {
			if f := t.Stacks[st].Frame; int(f) < len(t.Frames) && ownFrame(t, &t.Frames[f]) {
				return sp.Start, true
			}
		}
	}
	return 0, false
}

// startUp names a block with no frame of the program's own code and no
// named frame: the interpreter's start-up or shutdown.
const startUp = "<start-up>"

// unnamed reports whether frame f says nothing a reader could use: its
// function unknown ("?": a frame the recorder could not name, or a name
// with characters no identifier has: funcName), the marker
// of a stack cut at its maximum depth ("...more frames"), or a line no
// source file has (a frame a recorder before 2026-12-01 read from memory
// that had changed: "__all__" in file "stat" at line 1204561984; or
// "/root/.pyenv/versions/3.11.7/bin/python3.11" in file "countdown.py" at
// line -301444112, the command line's memory, in
// fixtures/traces/python-countdown.giltrace, which ProgramCodeAt took for
// the script's first frame, 100 ms before it).
func unnamed(f *tracer.Frame) bool {
	return funcName(f.Func) == "?" || f.Func == "...more frames" || f.Line < 0 || f.Line > maxLine
}

// maxLine is past the last line of any source file.
const maxLine = 1 << 22

// threadModel is one thread: when it starts, and its blocks, each a call
// of a function with the operations it did there.
type threadModel struct {
	id     tracer.ThreadID
	name   string
	start  int64
	blocks []block
	body   []op // blocks as calls, compressed
	daemon bool // written daemon: true (markDaemons)
}

// hasOps reports whether the thread has an operation: only then is it
// written.
func (tm *threadModel) hasOps() bool {
	return slices.ContainsFunc(tm.blocks, func(b block) bool { return len(b.ops) > 0 })
}

// Daemons are the threads the run stopped where they were
// (tracer.Spans.Stopped: CPython's daemon threads at the interpreter's
// exit, a killed program's, those running at the end of an attach). The
// model writes them daemon: true (markDaemons), and the what-if does not
// take one for the thread that limits the run.
func Daemons(s *tracer.Spans) map[tracer.ThreadID]bool { return s.Stopped() }

// threadEnd is when thread id ended (or the trace did).
func threadEnd(s *tracer.Spans, id tracer.ThreadID) int64 {
	if int(id) < len(s.Threads) {
		return s.Threads[id].End
	}
	return 0
}

// markDaemons marks the threads written as daemons (daemon: true), which
// the replay stops when the last thread of their process that is not a
// daemon ends, wherever they are (Daemons). Modelled as work of their
// recorded length instead, a daemon that polled for the whole run and
// waited longer for the GIL in the replay made the replayed run last
// longer than the program (15-21 %). A process keeps a thread that is not
// a daemon among those written.
func markDaemons(s *tracer.Spans, threads []threadModel) {
	t := s.Trace
	daemons := Daemons(s)
	kept := map[tracer.ProcID]int{} // written threads that are not daemons
	for i := range threads {
		tm := &threads[i]
		tm.daemon = daemons[tm.id]
		if !tm.daemon && tm.hasOps() {
			kept[t.Threads[tm.id].Proc]++
		}
	}
	// A process whose written threads would all be daemons (its main
	// thread did nothing to model) keeps the one that ended last.
	for i := range threads {
		tm := &threads[i]
		if p := t.Threads[tm.id].Proc; tm.daemon && tm.hasOps() && kept[p] == 0 {
			last := i
			for j := range threads {
				if o := threads[j]; o.daemon && o.hasOps() && t.Threads[o.id].Proc == p && threadEnd(s, o.id) > threadEnd(s, threads[last].id) {
					last = j
				}
			}
			threads[last].daemon = false
			kept[p]++
		}
	}
}

// block is a run of consecutive operations in one function.
type block struct {
	fn  tracer.Frame
	ops []op
}

// buildThread turns thread id's state spans into blocks and its body.
func buildThread(s *tracer.Spans, id tracer.ThreadID, shared map[tracer.LockID]bool, mutexHeld heldBy, joins []join, pl *tracer.Poll, starts []start, notes []notification, cpu *cpuShare, depth int, tol float64, lines bool) threadModel {
	t := s.Trace
	tm := threadModel{id: id, name: t.Threads[id].Name}
	if int(id) < len(s.Threads) && !s.Threads[id].Existed {
		// A thread that existed before the trace (attach) starts with it:
		// first seen late, it was blocked until then, not started then.
		tm.start = s.Threads[id].Start
	}
	// The thread's holds of shared locks, in time order.
	type hold struct {
		start, end int64
		name       string
	}
	var holds []hold
	for _, h := range s.Holds {
		if h.Thread == id && shared[h.Lock] {
			holds = append(holds, hold{h.Start, h.End, cleanName(t.Locks[h.Lock].Name)})
		}
	}
	var leaves []leaf
	lo := 0 // holds before lo ended before the current piece: spans come in time order
	add := func(k opKind, start, end int64, label string, fn tracer.Frame) {
		// Work that needs a core is its CPU time: on an oversubscribed
		// machine a busy span's wall time includes waiting for a core.
		factor := 1.0
		if k == opCompute || k == opNative || k == opNativeHold {
			factor = cpu.share(start, end)
		}
		// Split at hold boundaries so that each piece is wholly inside or
		// outside a hold.
		for start < end {
			for lo < len(holds) && holds[lo].end <= start {
				lo++
			}
			cut, hi, name := end, -1, ""
			for i := lo; i < len(holds) && holds[i].start < cut; i++ {
				h := holds[i]
				switch {
				case h.start <= start && start < h.end:
					cut, hi, name = min(end, h.end), i, h.name
				case start < h.start:
					cut = h.start
				}
				if hi >= 0 {
					break
				}
			}
			leaves = append(leaves, leaf{kind: k, d: int64(math.Round(float64(cut-start) * factor)), label: label, fn: fn, hold: hi, lock: name})
			start = cut
		}
	}
	// The thread's starts of other threads and its notifies, in time
	// order: each goes where its time falls, splitting the operation
	// there.
	var mine []start
	for _, st := range starts {
		if st.starter == id {
			mine = append(mine, st)
		}
	}
	for _, n := range notes {
		if n.notifier == id {
			mine = append(mine, start{starter: id, at: n.at, notify: n.name})
		}
	}
	slices.SortStableFunc(mine, func(a, b start) int { return cmp.Compare(a.at, b.at) })
	waitNote := map[int64]string{} // the thread's waits that a notify ends, by start
	for _, n := range notes {
		if n.waiter == id {
			waitNote[n.waitStart] = n.name
		}
	}
	var lastFn tracer.Frame
	flush := func(upTo int64, fn tracer.Frame) {
		for len(mine) > 0 && mine[0].at <= upTo {
			if mine[0].notify != "" {
				// Inside the shared-lock hold it happened in, if any
				// (with cond: cond.notify()): a notify between two lock
				// operations would let another thread take the lock there.
				lf := leaf{kind: opNotify, label: mine[0].notify, fn: fn, hold: -1}
				for i, h := range holds {
					if h.start <= mine[0].at && mine[0].at < h.end {
						lf.hold, lf.lock = i, h.name
						break
					}
				}
				leaves = append(leaves, lf)
			} else {
				leaves = append(leaves, leaf{kind: opStart, target: mine[0].target, fn: fn, hold: -1})
			}
			mine = mine[1:]
		}
	}
	addAt := func(k opKind, start, end int64, label string, fn tracer.Frame) {
		for len(mine) > 0 && mine[0].at < end {
			at := max(mine[0].at, start)
			add(k, start, at, label, fn)
			flush(at, fn)
			start = at
		}
		add(k, start, end, label, fn)
	}
	if sts := s.ThreadStates(id); len(sts) > 0 && int(id) < len(s.Threads) && s.Threads[id].Existed && s.Threads[id].Start > 0 {
		// First seen late (attach): blocked from the trace's start in a
		// call it made before, a wait of that length. Left out, a main
		// thread that slept through most of the window ended at once in
		// the replay, and with it the daemons it stops.
		add(opIO, 0, s.Threads[id].Start, "blocking", frameAt(t, sts[0].Stack, depth))
	}
	polled := false
	for _, st := range mine {
		if pl != nil && pl.From <= st.at && st.at <= pl.To {
			// It notifies (or starts a thread) during the loop: modelled as
			// recorded, not as a join that would put its notify after the
			// threads it waits for (review).
			pl = nil
		}
	}
	// A loop of timed waits until notified (tracer.WaitChain) is a wait
	// for the notification: its timeouts are left out, their time added
	// to the cap of the notified wait that ends it (QA: an Event.wait(0.05)
	// loop until 2 pool workers set their events replayed its 500 ms of
	// timeouts as sleeps, 1.28x as processes, measured 1.59x).
	sts := s.ThreadStates(id)
	var chained []bool
	chainCap := map[int64]int64{} // by the notified wait's start
	for _, c := range s.WaitChains()[id] {
		if _, ok := waitNote[c.To]; !ok {
			continue
		}
		if chained == nil {
			chained = make([]bool, len(sts))
		}
		for x := c.First; x < c.Wait; x++ {
			if sts[x].State == tracer.StateIO {
				chained[x] = true
				chainCap[c.To] += sts[x].End - sts[x].Start
			}
		}
	}
	for k, sp := range sts {
		fn := frameAt(t, sp.Stack, depth)
		flush(sp.Start, fn)
		lastFn = fn
		if chained != nil && chained[k] {
			continue
		}
		if pl != nil && pl.From <= sp.Start && sp.End <= pl.To {
			// A loop that polls other threads with sleeps until they end
			// (tracer.Poll): joins of them, then the rest of the sleep in
			// which the last ended.
			if !polled {
				for _, target := range pl.Targets {
					leaves = append(leaves, leaf{kind: opJoin, target: target, fn: fn, hold: -1})
				}
				add(opIO, pl.LastEnd, pl.To, ioSleepKind, fn)
				polled = true
			}
			continue
		}
		switch sp.State {
		case tracer.StateRunning:
			addAt(opCompute, sp.Start, sp.End, "", fn)
		case tracer.StateIO:
			if name, ok := waitNote[sp.Start]; ok {
				// A timeout in a loop, a wait on a pipe of its own process
				// or another's, for a child (findNotifies): until its
				// notifier gets there, at most as long as it ran. A timeout
				// is a wait; a blocking call stays one, that a notify ends.
				if k := t.Str(sp.IOKind()); k != "lock-timeout" {
					// Under the shared lock held around it, if any (review:
					// a hold across a read was split in two, the read
					// outside).
					hi, lock := -1, ""
					for i, h := range holds {
						if h.start <= sp.Start && sp.Start < h.end {
							hi, lock = i, h.name
							break
						}
					}
					leaves = append(leaves, leaf{kind: opIOUntil, label: k, until: name, d: sp.End - sp.Start, fn: fn, hold: hi, lock: lock})
					break
				}
				leaves = append(leaves, leaf{kind: opWaitNotify, label: name, d: sp.End - sp.Start, fn: fn, hold: -1})
				break
			}
			addAt(opIO, sp.Start, sp.End, t.Str(sp.IOKind()), fn)
		case tracer.StateNative:
			addAt(opNative, sp.Start, sp.End, "", fn)
		case tracer.StateNativeHolding:
			addAt(opNativeHold, sp.Start, sp.End, "", fn)
		case tracer.StateLockWait:
			joined := false
			for _, j := range joins {
				if j.waiter == id && j.covers(sp.Start, sp.End) {
					if sp.Start <= j.start && j.start < sp.End {
						leaves = append(leaves, leaf{kind: opJoin, target: j.target, fn: fn, hold: -1})
					}
					joined = true
				}
			}
			if name, ok := waitNote[sp.Start]; ok && !joined {
				// A wait that another thread's notify ended (findNotifies).
				leaves = append(leaves, leaf{kind: opWaitNotify, label: name, d: sp.End - sp.Start + chainCap[sp.Start], fn: fn, hold: -1})
			} else if !joined && plainWait(sp, id, shared, mutexHeld) {
				// A wait for an event, a condition or a queue: what it
				// waited for is not in the trace, its length is. A wait
				// on a mutex that others did not hold for most of it is
				// one too: a Condition's wait on a waiter lock, whose
				// address the next waiter lock reuses. It stays a wait
				// on the same lock.
				add(opWait, sp.Start, sp.End, cleanName(t.Locks[sp.Lock()].Name), fn)
			}
		}
	}
	flush(math.MaxInt64, lastFn)
	for i := range leaves {
		if lf := &leaves[i]; lf.kind == opWait && lf.hold >= 0 && lf.lock == lf.label {
			// a wait on a lock held around it (a reused address): the
			// workload would deadlock on it; its length is what counts
			lf.kind, lf.label = opIO, "wait"
		}
	}
	// Blocks: consecutive leaves in one function at one line; within a
	// block, consecutive leaves of one kind (and label and hold) merge.
	for _, lf := range leaves {
		if n := len(tm.blocks); n == 0 || tm.blocks[n-1].fn != lf.fn {
			tm.blocks = append(tm.blocks, block{fn: lf.fn})
		}
		b := &tm.blocks[len(tm.blocks)-1]
		b.ops = appendLeaf(b.ops, lf)
	}
	tm.blocks = coarsen(s.Trace, tm.blocks)
	for i := range tm.blocks {
		tm.blocks[i].ops = dropTiny(tm.blocks[i].ops)
	}
	if !lines {
		tm.blocks = mergeLines(tm.blocks)
	}
	for i := range tm.blocks {
		tm.blocks[i].ops = compress(tm.blocks[i].ops, tol)
	}
	return tm
}

// mergeLines merges consecutive blocks of one function (its file and
// name) found at different lines, leaving out the blocks left with no
// operation between them (a moment in another frame shorter than minOp):
// a loop that its thread is found at one line or another of at each
// switch of the GIL is then one block, which compress can make a repeat
// of, instead of a block, and a function, for each stretch between
// switches. The first block's frame names the merged one.
func mergeLines(blocks []block) []block {
	var out []block
	for _, b := range blocks {
		if len(b.ops) == 0 {
			continue
		}
		n := len(out)
		if n == 0 || out[n-1].fn.Func != b.fn.Func || out[n-1].fn.File != b.fn.File {
			out = append(out, b)
			continue
		}
		prev := &out[n-1]
		ops := b.ops
		if last, first := &prev.ops[len(prev.ops)-1], ops[0]; last.kind == first.kind && last.label == first.label &&
			first.kind != opLock && !first.kind.marker() {
			last.d += first.d // the seam: one operation, as dropTiny merges them
			ops = ops[1:]
		}
		prev.ops = append(prev.ops, ops...)
	}
	return out
}

// smallShare is the share of a thread's active time below which a block is
// merged with its small neighbours: a thread's start-up (imports, site
// set-up) is hundreds of blocks of microseconds each, which the model keeps
// as one block with the same operations, named after the function that
// took most of its time.
const smallShare = 0.005

// coarsen merges runs of consecutive small blocks, of blocks outside
// the program's own code (the interpreter's start-up and shutdown, which
// in a thread that does little else are each more than smallShare) and
// of its module-level code, into one.
func coarsen(t *tracer.Trace, blocks []block) []block {
	total := 0.0
	for _, b := range blocks {
		total += opsTime(b.ops)
	}
	small := func(b block) bool {
		// A program's module-level code is start-up too: its imports,
		// each a block of its own between the library's (QA: a program
		// importing asyncio had 9 blocks before its main).
		return opsTime(b.ops) < smallShare*total || !t.OwnFile(b.fn.File) || b.fn.Func == "<module>"
	}
	var out []block
	for i := 0; i < len(blocks); {
		if !small(blocks[i]) {
			out = append(out, blocks[i])
			i++
			continue
		}
		j := i
		byFn := map[tracer.Frame]float64{}
		var ops []op
		for ; j < len(blocks) && small(blocks[j]); j++ {
			byFn[blocks[j].fn] += opsTime(blocks[j].ops)
			for _, o := range blocks[j].ops {
				if n := len(ops); n > 0 && o.kind != opLock && !o.kind.marker() && ops[n-1].kind == o.kind && ops[n-1].label == o.label {
					ops[n-1].d += o.d
					continue
				}
				ops = append(ops, o)
			}
		}
		if j-i == 1 {
			out = append(out, blocks[i])
			i = j
			continue
		}
		fn, best := blocks[i].fn, -1.0
		for k := i; k < j; k++ { // the first of the functions with the most time
			if d := byFn[blocks[k].fn]; d > best {
				fn, best = blocks[k].fn, d
			}
		}
		out = append(out, block{fn: fn, ops: ops})
		i = j
	}
	return out
}

// opsTime is the time the operations take, repeats included.
func opsTime(ops []op) float64 {
	t := 0.0
	for _, o := range ops {
		switch o.kind {
		case opLock:
			t += opsTime(o.body)
		case opRepeat:
			t += float64(o.times) * opsTime(o.body)
		default:
			t += o.d
		}
	}
	return t
}

// appendLeaf adds leaf lf to ops, merging it into the last operation (or
// the last lock body, when it is under the same hold) when they match.
func appendLeaf(ops []op, lf leaf) []op {
	if lf.kind.marker() {
		m := op{kind: lf.kind, target: lf.target, label: lf.label, d: float64(lf.d), until: lf.until}
		if lf.hold >= 0 { // a notify inside a hold: in its lock's body
			if n := len(ops); n > 0 && ops[n-1].kind == opLock && ops[n-1].times == lf.hold+1 {
				ops[n-1].body = append(ops[n-1].body, m)
				return ops
			}
			return append(ops, op{kind: opLock, label: lf.lock, times: lf.hold + 1, body: []op{m}})
		}
		return append(ops, m)
	}
	if lf.hold >= 0 {
		if n := len(ops); n > 0 && ops[n-1].kind == opLock && ops[n-1].times == lf.hold+1 {
			ops[n-1].body = appendLeaf(ops[n-1].body, leaf{kind: lf.kind, d: lf.d, label: lf.label, hold: -1})
			return ops
		}
		// times carries the hold's index+1 until compress, to tell holds apart.
		return append(ops, op{kind: opLock, label: lf.lock, times: lf.hold + 1,
			body: appendLeaf(nil, leaf{kind: lf.kind, d: lf.d, label: lf.label, hold: -1})})
	}
	if n := len(ops); n > 0 && ops[n-1].kind == lf.kind && ops[n-1].label == lf.label && lf.kind != opLock {
		ops[n-1].d += float64(lf.d)
		return ops
	}
	return append(ops, op{kind: lf.kind, d: float64(lf.d), label: lf.label})
}

// minOp is the shortest operation written: shorter ones (a few
// microseconds of Python between two blocking calls) are folded into the
// previous operation, or dropped at the start of a block.
const minOp = 1000 // 1 us, the format's resolution

// dropTiny folds operations shorter than minOp into their predecessor.
func dropTiny(ops []op) []op {
	var out []op
	for _, o := range ops {
		if o.kind == opLock {
			o.body = dropTiny(o.body)
			o.times = 0
			if len(o.body) == 0 {
				continue
			}
			out = append(out, o)
			continue
		}
		if o.kind.marker() {
			out = append(out, o)
			continue
		}
		if o.d < minOp {
			if n := len(out); n > 0 && out[n-1].kind != opLock && !out[n-1].kind.marker() {
				out[n-1].d += o.d
			}
			continue
		}
		if n := len(out); n > 0 && out[n-1].kind == o.kind && out[n-1].label == o.label && !o.kind.marker() {
			out[n-1].d += o.d
			continue
		}
		out = append(out, o)
	}
	return out
}

// joinSlack is how far after the end of a join's wait the joined thread may
// record its end: CPython releases a thread's lock before the thread's last
// event.
const joinSlack = 1_000_000

// cpuShare is, over a run, how many of the modelled threads were busy
// (running, or in native code) at once, against the cores the run had:
// when more were busy than cores, each got a share of a core, and its busy
// spans' wall time was partly a wait for a core. The model writes a busy
// span as its CPU time, so that a replay on the same cores queues for them
// as the run did, instead of counting the wait twice.
type cpuShare struct {
	times []int64 // the starts of the intervals, sorted
	busy  []int   // busy threads in [times[i], times[i+1])
	cores int
}

func newCPUShare(s *tracer.Spans, cores int) *cpuShare {
	type edge struct {
		t int64
		d int
	}
	var edges []edge
	for _, sp := range s.States {
		if sp.End <= sp.Start {
			continue
		}
		switch sp.State {
		case tracer.StateRunning, tracer.StateNative, tracer.StateNativeHolding:
			edges = append(edges, edge{sp.Start, 1}, edge{sp.End, -1})
		}
	}
	slices.SortFunc(edges, func(a, b edge) int { return cmp.Compare(a.t, b.t) })
	c := &cpuShare{cores: cores}
	n := 0
	for i, e := range edges {
		n += e.d
		if i+1 < len(edges) && edges[i+1].t == e.t {
			continue
		}
		c.times = append(c.times, e.t)
		c.busy = append(c.busy, n)
	}
	return c
}

// share is the part of [start, end) that a busy thread had a core: 1 when
// no more threads than cores were busy meanwhile, and when the trace does
// not say how many cores the run had (cores 0): the model then writes no
// cores:, its replay gives each thread a core, and the busy spans keep
// their recorded length, any wait for a core included (taken as one core,
// overlapping native calls were cut to a share of one core that the
// replay, on a core per thread, ran in parallel).
func (c *cpuShare) share(start, end int64) float64 {
	if end <= start || len(c.times) == 0 || c.cores <= 0 {
		return 1
	}
	i, _ := slices.BinarySearch(c.times, start+1)
	i = max(i-1, 0)
	got := 0.0
	for t := start; t < end && i < len(c.times); i++ {
		next := end
		if i+1 < len(c.times) {
			next = min(end, c.times[i+1])
		}
		if next <= t {
			continue
		}
		f := 1.0
		if b := c.busy[i]; b > c.cores {
			f = float64(c.cores) / float64(b)
		}
		got += f * float64(next-t)
		t = next
	}
	return got / float64(end-start)
}

// marker says whether k is an operation without duration (join, start,
// notify, a wait until notified): never merged with its neighbours.
func (k opKind) marker() bool {
	return k == opJoin || k == opStart || k == opNotify || k == opWaitNotify || k == opIOUntil
}

// start is a thread's start of another (Thread.start).
type start struct {
	starter, target tracer.ThreadID
	at              int64  // where in the starter's time the start goes
	notify          string // not a start: a notify on this lock (findNotifies)
}

// notification is a wait that another thread's notify ended: CPython's
// Condition.wait, Event.wait, a queue's get or a future's result block on
// a waiter lock that the notifier releases, holding the GIL.
type notification struct {
	waiter, notifier tracer.ThreadID
	waitStart, at    int64  // the wait's start; its end, where the notify goes in the notifier's time
	name             string // the lock of the model's wait and notify: one per waiter and notifier
}

// findNotifies finds who notified each wait for a notification (a wait
// that is no join and whose lock no other thread held for most of it,
// plainWait), and each timeout in a loop (tracer.LoopedTimeouts): the
// thread holding the GIL of the waiter's process when the wait ended, else
// the last to hold it, if it let it go within tracer.NotifyWindow before
// (tracer.Spans.Notifier). The notifier releases the waiter lock holding the
// GIL and runs on; the waiter wakes with the GIL still held, or just let
// go. A wait that ended with nobody running (a timeout) keeps its
// recorded length. A blocking call on the process's own pipe, or in a real
// program of several processes on another's or for a child (procWaits),
// is ended by the thread that wrote, or the child's exit.
func findNotifies(s *tracer.Spans, shared map[tracer.LockID]bool, mutexHeld heldBy, joins []join, procs procSet) []notification {
	t := s.Trace
	var out []notification
	ownK := tracer.OwnIOKindOf(t)
	procWait := procWaits(s)
	cross := map[[2]int64]crossWait{} // the waits for another process, by thread and start
	for _, w := range crossWaits(s) {
		cross[[2]int64{int64(w.Thread), w.Start}] = w
	}
	for w := range t.Threads {
		waiter := tracer.ThreadID(w)
		proc := t.Threads[waiter].Proc
		if int(proc) >= len(t.Procs) || t.Procs[proc].GIL == tracer.NoLock {
			continue
		}
		looped := s.LoopedTimeouts()[waiter]
		// notifiable: a wait for a notification, a timeout in a loop
		// (tracer.LoopedTimeouts: a wait for what the GIL's holder when it
		// ran out does, at most its length, as a notified wait capped at
		// it), or a wait on the process's own pipe (I/O "own-io", until
		// the thread that wrote: tracer.OwnIOKind), capped so too.
		notifiable := func(k int, sp *tracer.StateSpan) bool {
			if _, ok := slices.BinarySearch(looped, k); ok {
				return true
			}
			if sp.State == tracer.StateIO {
				_, other := procWait(sp)
				return (ownK > 0 && sp.IOKind() == ownK || other) && int(waiter) < len(s.Threads) && sp.End < s.Threads[waiter].End
			}
			if sp.State != tracer.StateLockWait || int(sp.Lock()) < len(t.Locks) && t.Locks[sp.Lock()].GIL {
				return false
			}
			for _, j := range joins {
				if j.waiter == waiter && j.covers(sp.Start, sp.End) {
					return false
				}
			}
			return plainWait(*sp, waiter, shared, mutexHeld)
		}
		for k, sp := range s.ThreadStates(waiter) {
			if sp.End <= sp.Start || !notifiable(k, &sp) {
				continue
			}
			find := s.Notifier
			cw, elsewhere := cross[[2]int64{int64(waiter), sp.Start}]
			switch {
			case elsewhere:
				find = func(tracer.ThreadID, int64) (tracer.ThreadID, int64, bool) { return cw.notifier, cw.at, cw.Matched }
			case sp.State == tracer.StateIO && ownK > 0 && sp.IOKind() == ownK:
				find = s.Writer // its own pipe's: the thread that wrote
			}
			notifier, at, ok := find(waiter, sp.End)
			if !ok || int(notifier) >= len(t.Threads) {
				continue
			}
			name := notifyName(t, procs, notifier, waiter)
			if elsewhere {
				// Another process's: named by its process, so that the
				// children's MainThreads' notifies, a read's and a
				// join's, do not end each other's waits (review: a late
				// notify of a read ended the join after it).
				name += fmt.Sprintf(" from process %d", procs.place(t.Threads[notifier].Proc))
				if at == s.Threads[notifier].End {
					name += " at its exit"
				}
				name = cleanName(name)
			}
			out = append(out, notification{waiter: waiter, notifier: notifier, waitStart: sp.Start, at: at, name: name})
		}
	}
	return out
}

// finder finds the thread whose action ended thread waiter's wait at end,
// and where in its time (tracer.Spans.Notifier, Writer, WriterElsewhere).
type finder func(waiter tracer.ThreadID, end int64) (tracer.ThreadID, int64, bool)

// procWaits says, for an I/O span of spans s, whether it may wait for
// another process, and how to find the thread that ended it. In a real
// program of several processes, a blocking call on a descriptor may end
// by another process's write (a pool's task and result pipes:
// tracer.Spans.WriterElsewhere), a wait for a child (I/O "wait":
// os.waitpid, Process.join) by its exit (tracer.Spans.Exited), and a wait
// on a multiprocessing semaphore by its release (I/O "semaphore":
// tracer.Spans.Released). The model
// makes those it finds wait for that process: until its thread gets
// there, at most their recorded length, as a notified wait (QA: kept at
// their recorded length, a parent joining 2 CPU-bound children recorded
// on 1 core was predicted 1.02x on 2 cores, and ran 1.77x).
func procWaits(s *tracer.Spans) func(sp *tracer.StateSpan) (finder, bool) {
	t := s.Trace
	if len(t.Procs) < 2 || t.Meta.Extra["source"] != "cpython" {
		return func(*tracer.StateSpan) (finder, bool) { return nil, false }
	}
	notDescriptor := tracer.NotDescriptorKindsOf(t)
	waitK := tracer.StringID(max(slices.Index(t.Strings, "wait"), 0))
	semK := tracer.StringID(max(slices.Index(t.Strings, tracer.SemaphoreKind), 0))
	ownK := tracer.OwnIOKindOf(t)
	daemons := Daemons(s)
	return func(sp *tracer.StateSpan) (finder, bool) {
		start := sp.Start
		if int(sp.Thread) >= len(t.Threads) || int(t.Threads[sp.Thread].Proc) >= len(t.Procs) || t.Procs[t.Threads[sp.Thread].Proc].GIL == tracer.NoLock {
			return nil, false // as findNotifies: a process with a GIL
		}
		if sp.End-sp.Start < minProcWait {
			return nil, false
		}
		switch k := sp.IOKind(); {
		case sp.State != tracer.StateIO || ownK > 0 && k == ownK:
			return nil, false // the process's own pipe: Writer's (findNotifies)
		case waitK > 0 && k == waitK:
			return func(waiter tracer.ThreadID, end int64) (tracer.ThreadID, int64, bool) {
				id, at, ok := s.Exited(waiter, start, end)
				if !ok || !daemons[id] {
					return id, at, ok
				}
				// A daemon stops at its process's exit, which the model
				// makes the end of the last thread that is not one: the
				// notify goes there (review: in a daemon, stopped first,
				// it never came).
				last := tracer.NoThread
				for o := range t.Threads {
					if t.Threads[o].Proc == t.Threads[id].Proc && !daemons[tracer.ThreadID(o)] && (last == tracer.NoThread || s.Threads[o].End > s.Threads[last].End) {
						last = tracer.ThreadID(o)
					}
				}
				if last == tracer.NoThread {
					return tracer.NoThread, 0, false
				}
				return last, s.Threads[last].End, true
			}, true
		case semK > 0 && k == semK:
			// A multiprocessing semaphore: until the other process's
			// thread that released it got there (tracer.Spans.Released).
			return func(waiter tracer.ThreadID, end int64) (tracer.ThreadID, int64, bool) {
				return s.Released(waiter, start, end)
			}, true
		case !notDescriptor[k]:
			return func(waiter tracer.ThreadID, end int64) (tracer.ThreadID, int64, bool) {
				id, at, ok := s.WriterElsewhere(waiter, end)
				// A write begun before the wait did not end it (review:
				// a worker's read, begun 19 waits earlier, ended them all).
				return id, at, ok && at >= start
			}, true
		}
		return nil, false
	}
}

// minProcWait is the shortest blocking call that procWaits takes for a
// wait for another process: a shorter one shortens no run by much, and
// among processes that each make a short call every 100 us one in eight
// found a write of another begun just before it by chance (review: 20 000
// of 160 000 such calls of 8 independent processes were tied to each
// other, and compare took 1.7 times as long).
const minProcWait = 1_000_000

// ProcessWait is a wait of a real program's thread that may have been for
// another of its processes (procWaits): Matched when the model ends it
// where that process gets there, else it keeps its recorded length.
type ProcessWait struct {
	Thread     tracer.ThreadID
	Start, End int64
	Matched    bool
}

// ProcessWaits lists the waits of spans s that may have been for another
// process of the program, in thread then time order (none unless s is of
// a real program of several processes).
func ProcessWaits(s *tracer.Spans) []ProcessWait {
	var out []ProcessWait
	for _, w := range crossWaits(s) {
		out = append(out, w.ProcessWait)
	}
	return out
}

// crossWait is a ProcessWait, and when Matched the thread of the other
// process whose write or exit ended it, and where in its time.
type crossWait struct {
	ProcessWait
	notifier tracer.ThreadID
	at       int64
}

// crossWaits are the waits of ProcessWaits, in thread then time order,
// with what ended them: each write or exit of another process ends one
// wait of each thread, the first to find it (review: a worker's read
// ended 19 waits, its notify written 19 times). Of several threads it may
// end one each: a write on a pool's result pipe wakes the worker handler,
// which polls that pipe, and the result handler, which reads it.
// findNotifies makes the matched ones wait for their notifier.
func crossWaits(s *tracer.Spans) []crossWait {
	procWait := procWaits(s)
	used := map[[3]int64]bool{} // by notifier, its time and waiter
	var out []crossWait
	for id := range s.Trace.Threads {
		for _, sp := range s.ThreadStates(tracer.ThreadID(id)) {
			if sp.End <= sp.Start || int(sp.Thread) >= len(s.Threads) || sp.End >= s.Threads[sp.Thread].End {
				continue
			}
			f, ok := procWait(&sp)
			if !ok {
				continue
			}
			w := crossWait{ProcessWait: ProcessWait{Thread: sp.Thread, Start: sp.Start, End: sp.End}}
			if n, at, ok := f(sp.Thread, sp.End); ok && int(n) < len(s.Trace.Threads) && !used[[3]int64{int64(n), at, int64(sp.Thread)}] {
				used[[3]int64{int64(n), at, int64(sp.Thread)}] = true
				w.Matched, w.notifier, w.at = true, n, at
			}
			out = append(out, w)
		}
	}
	return out
}

// notifyName is the lock of the notifies from notifier (NoThread: from
// any thread) to waiter: "notify N to W". Notifies are shared by a
// workload's processes: in a run of several the name ends with the
// waiter's process, so that a worker's notify ends its own waits.
func notifyName(t *tracer.Trace, procs procSet, notifier, waiter tracer.ThreadID) string {
	name := "notify to " + t.Threads[waiter].Name
	if notifier != tracer.NoThread {
		name = "notify " + t.Threads[notifier].Name + " to " + t.Threads[waiter].Name
	}
	if procs.workers > 1 {
		name += fmt.Sprintf(" in process %d", procs.place(t.Threads[waiter].Proc))
	}
	return cleanName(name)
}

// maxNotifyNames is the most lock names the model's notifies take, half
// of a workload's 256: the rest is for the run's own locks.
const maxNotifyNames = 128

// limitNotifyNames keeps the notifications' lock names within
// maxNotifyNames: one per notifier and waiter, else one per waiter (every
// notify to a thread shares it: its waits take them in the order they
// come), else none (every wait keeps its recorded length). A pool of 24
// threads notifying each other made 452 names, and a model that did not
// load.
func limitNotifyNames(notes []notification, t *tracer.Trace, procs procSet) []notification {
	distinct := func() int {
		names := map[string]bool{}
		for _, n := range notes {
			names[n.name] = true
		}
		return len(names)
	}
	if distinct() <= maxNotifyNames {
		return notes
	}
	for i := range notes {
		notes[i].name = notifyName(t, procs, tracer.NoThread, notes[i].waiter)
	}
	if distinct() <= maxNotifyNames {
		return notes
	}
	return nil
}

// fixUnmatchedWaits gives back its recorded length to every wait until
// notified on a lock whose written notifies are fewer than its waits (a
// notifier with no operation to write, which the model leaves out): a
// lock that no notify names does not load, and past the notifies the
// waits would end at their cap anyway.
func fixUnmatchedWaits(threads []threadModel) {
	notifies, waits := map[string]int{}, map[string]int{}
	var count func(ops []op, times int)
	count = func(ops []op, times int) {
		for _, o := range ops {
			switch o.kind {
			case opNotify:
				notifies[o.label] += times
			case opWaitNotify:
				waits[o.label] += times
			case opIOUntil:
				waits[o.until] += times
			case opRepeat:
				count(o.body, times*o.times)
			default:
				count(o.body, times)
			}
		}
	}
	for _, tm := range threads {
		for _, b := range tm.blocks {
			count(b.ops, 1)
		}
	}
	var fix func(ops []op)
	fix = func(ops []op) {
		for i := range ops {
			if o := &ops[i]; o.kind == opWaitNotify && notifies[o.label] < waits[o.label] {
				o.kind = opWait
			} else if o.kind == opIOUntil && notifies[o.until] < waits[o.until] {
				o.kind, o.until = opIO, ""
			}
			fix(ops[i].body)
		}
	}
	for _, tm := range threads {
		for _, b := range tm.blocks {
			fix(b.ops)
		}
	}
}

// plainWait reports whether lock wait sp of thread id is a wait for a
// notification rather than for a mutex: its lock is shared by no two
// threads, or the others held it for less than mutexWaitShare of the wait
// (a Condition's waiter lock, whose address the next waiter lock reuses).
func plainWait(sp tracer.StateSpan, id tracer.ThreadID, shared map[tracer.LockID]bool, mutexHeld heldBy) bool {
	return !shared[sp.Lock()] || mutexHeld.others(sp.Lock(), id, sp.Start, sp.End) < mutexWaitShare*float64(sp.End-sp.Start)
}

// startWindow is how long before a thread's start its starter may have
// begun waiting for it; startLate how long after: the new thread's first
// event (its wait for the GIL) may come before its starter, still holding
// the GIL, waits on _started (QA: asyncio.run's shutdown_default_executor
// thread, 58 us before, kept its recorded start, and every variant of an
// asyncio program of run_in_executor workers ended as recorded).
const (
	startWindow = 2_000_000
	startLate   = 1_000_000
)

// findStarts finds who started each modelled thread that started after
// the trace began. CPython's Thread.start waits, the GIL released, on the
// new thread's _started event until the thread has run its bootstrap. In
// a real program's trace a wait with Thread.start in its stack is that
// wait, whether or not its thread later joins the new one (asyncio's
// shutdown_default_executor joins its thread only once it has ended, a
// free lock the recorder does not see): stackStarts pairs them.
// Otherwise (a VM workload, a stack not read) the starter is the thread of
// the process in a wait on a guest lock (not the GIL) when the new thread
// started, the one whose wait began last, within startWindow before, if
// it later joins the thread; failing that, of the threads that join it,
// the first to begin one within startLate after. A wait that merely
// overlaps a start is no proof: a server's request threads, tied so to a
// thread that never joins them, replayed worse (web_scraping). The start
// goes where that wait begins. A thread whose starter is not found keeps
// its start_after.
func findStarts(s *tracer.Spans, js []join, started map[tracer.ThreadID]start) []start {
	var out []start
	joined := map[[2]tracer.ThreadID]bool{} // waiter, target
	for _, j := range js {
		joined[[2]tracer.ThreadID{j.waiter, j.target}] = true
	}
	var inStart func(tracer.StackID) bool // heldStart's, made once needed
	for id, ts := range s.Threads {
		target := tracer.ThreadID(id)
		if ts.Start <= 0 || ts.Existed {
			continue
		}
		if st, ok := started[target]; ok {
			out = append(out, st)
			continue
		}
		// The wait begun last by the start; else, of those that join the
		// target, the first begun within startLate after it.
		found, best, bestAt := false, tracer.ThreadID(0), int64(math.MinInt64)
		late, lateBy, lateAt := false, tracer.ThreadID(0), int64(math.MaxInt64)
		for cand, sp := range lockWaitsToStart(s, target, ts.Start+startLate) {
			if sp.End <= ts.Start {
				continue
			}
			switch {
			case sp.Start <= ts.Start && sp.Start > bestAt:
				found, best, bestAt = true, cand, sp.Start
			case sp.Start > ts.Start && sp.Start < lateAt && joined[[2]tracer.ThreadID{cand, target}]:
				late, lateBy, lateAt = true, cand, sp.Start
			}
		}
		// A join's wait may be several state spans (its line changed in
		// it): a start in it (the VM starts a thread a wake-up after the
		// starter asks, which may be in its next join) comes before the
		// join, at the wait's start.
		atJoin := func(by tracer.ThreadID, at int64) int64 {
			for _, j := range js {
				if j.waiter == by && j.start <= at && at < j.end {
					return j.start
				}
			}
			return at
		}
		switch {
		case found && joined[[2]tracer.ThreadID{best, target}] && ts.Start-bestAt <= startWindow:
			out = append(out, start{starter: best, target: target, at: atJoin(best, bestAt)})
		case late:
			out = append(out, start{starter: lateBy, target: target, at: atJoin(lateBy, lateAt)})
		default:
			if inStart == nil {
				inStart = s.Trace.StackMatcher(func(st tracer.Stack) bool {
					return int(st.Frame) < len(s.Trace.Frames) && ThreadStartFrame(s.Trace.Frames[st.Frame])
				})
			}
			if by, ok := heldStart(s, target, inStart); ok {
				out = append(out, start{starter: by, target: target, at: ts.Start})
			}
		}
	}
	// A starter started before its target: no cycles.
	return out
}

// heldStart is, in a real CPython program, the thread that started thread
// target without waiting for it: the holder of its process's GIL at its
// first event, in Thread.start then (CPython's Thread.start creates the
// thread holding the GIL; its wait on _started blocks only if the new
// thread has not run its bootstrap yet, which it may have: on 1 busy core
// a multiprocessing.Queue's feeder thread ran while its starter had been
// switched out, and kept at its recorded start it pinned the process's
// results, and every row on more cores, to it).
// inStart says whether a stack is in Thread.start (a
// Trace.StackMatcher of threadStartFrame).
func heldStart(s *tracer.Spans, target tracer.ThreadID, inStart func(tracer.StackID) bool) (tracer.ThreadID, bool) {
	t := s.Trace
	if t.Meta.Extra["source"] != "cpython" || int(target) >= len(t.Threads) || int(t.Threads[target].Proc) >= len(t.Procs) {
		return tracer.NoThread, false
	}
	gil := t.Procs[t.Threads[target].Proc].GIL
	if gil == tracer.NoLock {
		return tracer.NoThread, false
	}
	at := s.Threads[target].Start
	hs := s.LockHolds(gil)
	k := sort.Search(len(hs), func(j int) bool { return s.Holds[hs[j]].End > at })
	if k >= len(hs) || s.Holds[hs[k]].Start > at || s.Holds[hs[k]].Thread == target {
		return tracer.NoThread, false
	}
	by := s.Holds[hs[k]].Thread
	if int(by) >= len(s.Threads) || s.Threads[by].Start >= at {
		return tracer.NoThread, false
	}
	sts := s.ThreadStates(by)
	i := sort.Search(len(sts), func(j int) bool { return sts[j].End > at })
	if i >= len(sts) || sts[i].Start > at || !inStart(sts[i].Stack) {
		return tracer.NoThread, false
	}
	return by, true
}

// ThreadStartFrame reports whether fr is threading's Thread.start.
func ThreadStartFrame(fr tracer.Frame) bool {
	return filepath.Base(fr.File) == "threading.py" && (fr.Func == "Thread.start" || fr.Func == "start")
}

// stackStarts pairs the threads of a real CPython program that started
// after the trace began with the waits in Thread.start that started them
// (startStacks.of: its _started.wait(), innermost Condition.wait), each
// wait with one thread. A wait may be a thread's start if it began at most
// startLate after the thread's first event and at most createLate before,
// and the thread first took the GIL while it lasted (the new thread sets
// _started holding the GIL, which ends the wait). A wait in Condition.wait
// under unread frames must also have begun at most startWindow before the
// thread's first event and ended at most startWindow after. The pairs are
// taken surest first (a Thread.start frame before unread frames), then the
// wait that ended soonest after the thread first took the GIL: two
// threads starting threads at the same moment must not trade them
// (review: the wait begun nearest the start tied 1-5 of 30 workers to the
// other starter, and one wait to two threads).
func stackStarts(s *tracer.Spans, first map[tracer.ThreadID]int64) map[tracer.ThreadID]start {
	t := s.Trace
	if t.Meta.Extra["source"] != "cpython" {
		return nil // CPython's frames: a real program's trace
	}
	starting := startStacks{t: t, is: map[tracer.StackID]startStack{}}
	type pair struct {
		target, by tracer.ThreadID
		at, off    int64
		sure       bool
	}
	var pairs []pair
	for id, ts := range s.Threads {
		target := tracer.ThreadID(id)
		f, ok := first[target]
		if ts.Start <= 0 || ts.Existed || !ok {
			continue
		}
		// A wait in Thread.start may begin until the new thread first
		// takes the GIL, which it needs to end that wait: on a loaded core
		// the starter was descheduled before it began to wait (QA: a
		// multiprocessing.Queue's feeder thread, started on 1 busy core,
		// first ran 3.7 ms before its starter waited for it; kept at its
		// recorded start, it pinned every result of its process).
		for cand, sp := range lockWaitsToStart(s, target, max(ts.Start+startLate, f)) {
			if ts.Start-sp.Start > createLate || f < sp.Start || f > sp.End {
				continue
			}
			off := sp.End - f
			switch starting.of(sp.Stack) {
			case inThreadStart:
				pairs = append(pairs, pair{target, cand, sp.Start, off, true})
			case maybeThreadStart:
				if ts.Start-sp.Start <= startWindow && sp.Start <= ts.Start+startLate && sp.End <= ts.Start+startWindow {
					pairs = append(pairs, pair{target, cand, sp.Start, off, false})
				}
			}
		}
	}
	slices.SortStableFunc(pairs, func(a, b pair) int {
		if a.sure != b.sure {
			if a.sure {
				return -1
			}
			return 1
		}
		return cmp.Or(cmp.Compare(a.off, b.off), cmp.Compare(a.target, b.target), cmp.Compare(a.by, b.by))
	})
	out := map[tracer.ThreadID]start{}
	used := map[[2]int64]bool{} // the starter and its wait's start
	for _, p := range pairs {
		w := [2]int64{int64(p.by), p.at}
		if _, done := out[p.target]; done || used[w] {
			continue
		}
		used[w] = true
		out[p.target] = start{starter: p.by, target: p.target, at: p.at}
	}
	return out
}

// lockWaitsToStart yields the waits on a guest lock (not the GIL) that may
// have started thread target: those of the other threads of its process,
// started before it, begun at the latest at until.
func lockWaitsToStart(s *tracer.Spans, target tracer.ThreadID, until int64) iter.Seq2[tracer.ThreadID, tracer.StateSpan] {
	return func(yield func(tracer.ThreadID, tracer.StateSpan) bool) {
		t, ts := s.Trace, s.Threads[target]
		for j, js := range s.Threads {
			cand := tracer.ThreadID(j)
			if cand == target || t.Threads[cand].Proc != t.Threads[target].Proc || js.Start >= ts.Start {
				continue
			}
			for _, sp := range s.ThreadStates(cand) {
				if sp.Start > until {
					break
				}
				if sp.State != tracer.StateLockWait || int(sp.Lock()) < len(t.Locks) && t.Locks[sp.Lock()].GIL {
					continue
				}
				if !yield(cand, sp) {
					return
				}
			}
		}
	}
}

// firstGILHolds is when each thread first took its process's GIL.
func firstGILHolds(s *tracer.Spans) map[tracer.ThreadID]int64 {
	out := map[tracer.ThreadID]int64{}
	for _, p := range s.Trace.Procs {
		if p.GIL == tracer.NoLock {
			continue
		}
		for _, i := range s.LockHolds(p.GIL) {
			h := &s.Holds[i]
			if _, ok := out[h.Thread]; !ok {
				out[h.Thread] = h.Start
			}
		}
	}
	return out
}

// startStacks tells the stacks of a real CPython program's waits in
// Thread.start (threading.py's start, Thread.start from 3.11: its
// _started.wait()), each stack looked at once.
type startStacks struct {
	t  *tracer.Trace
	is map[tracer.StackID]startStack
}

// startStack is what a wait's stack says of a start.
type startStack uint8

const (
	notThreadStart   startStack = iota
	inThreadStart               // a frame of it is Thread.start
	maybeThreadStart            // a Condition.wait under frames the recorder could not read
)

// of tells what stack id says. A frame whose code object the recorder
// could not read ("?": the process had exited when it got to the event,
// or the memory had changed) may be Thread.start: a wait in
// Condition.wait under such frames is a start only if the thread first
// took the GIL during it and it ended within startWindow after the
// thread's start (stackStarts), as _started.wait() does.
func (c startStacks) of(id tracer.StackID) startStack {
	if id == tracer.NoStack || int(id) >= len(c.t.Stacks) {
		return notThreadStart
	}
	if v, ok := c.is[id]; ok {
		return v
	}
	v, cond, unread := notThreadStart, false, false
	for s, n := id, 0; s != tracer.NoStack && int(s) < len(c.t.Stacks) && n < len(c.t.Stacks); s, n = c.t.Stacks[s].Parent, n+1 {
		f := c.t.Stacks[s].Frame
		if int(f) >= len(c.t.Frames) {
			continue
		}
		fr := c.t.Frames[f]
		threading := filepath.Base(fr.File) == "threading.py"
		switch {
		case ThreadStartFrame(fr):
			v = inThreadStart
		case threading && (fr.Func == "Condition.wait" || fr.Func == "wait") && n == 0:
			cond = true
		case fr.Func == "?" && fr.File == "?":
			unread = true
		}
		if v == inThreadStart {
			break
		}
	}
	switch {
	case v == inThreadStart && !cond:
		// Thread.start's wait for _active_limbo_lock, before the thread
		// exists: another new thread's bootstrap ends it (review: it took
		// that thread from its starter).
		v = notThreadStart
	case v == notThreadStart && cond && unread:
		v = maybeThreadStart
	}
	c.is[id] = v
	return v
}

// createLate is how long after its starter began waiting on _started a
// new thread's first event may come: the thread is created before that
// wait, but the system may run it later (review: 2.7-4.4 ms now and then,
// beyond startWindow; a bound much longer let a thread starting others
// back to back, whose wait lasted 6.8 ms, take a thread started by another
// at its end).
const createLate = 5_000_000

// lifeSlack is how far from its holder's first hold of the GIL and from
// its end a hold of a thread's state lock may begin and end: it is taken
// in the thread's bootstrap and let go as it ends (web_scraping: 14-70 us
// after its first hold of the GIL, 29-82 us before its end).
const lifeSlack = 1_000_000

// join is a thread's wait for another thread to end (Thread.join).
type join struct {
	waiter, target tracer.ThreadID
	start, end     int64 // the wait's
}

// covers reports whether the join's wait covers part of a lock-wait
// state span from start to end: a wait whose innermost frame changed in
// it (its line) is several spans, all of them the join (QA: the second
// of a VM join's spans was modelled as a wait for a notify).
func (j join) covers(start, end int64) bool {
	return start < j.end && j.start < end || start == j.start
}

// ioSleepKind is the I/O kind of a sleep (time.sleep), as the recorders
// name it.
const ioSleepKind = "sleep"

// findJoins finds the joins among the waits of the modelled threads: a
// wait on a lock that no two threads held (in CPython, the joined thread's
// own lock, released when it ends) waits for every thread of the process
// that ended meanwhile. Which of them it joined the trace does not say (the
// waiter is woken when the first ends but may resume only when the others
// let it have the GIL); a program that joins its workers in turn waits for
// all of them anyway.
//
// In a real CPython program (record -- python3, attach) the recorder names
// the lock a thread waited on in Thread.join (isJoinLock), and only waits
// on such a lock are joins. Without --lock-holds a Condition's waiter lock
// (Event.wait, queue.get, a Pool's task queue) is never seen held by two
// threads either, and a thread that ended during the wait is not what it
// waited for: multiprocessing.Pool's _handle_tasks, waiting on its task
// queue until the pool shut down, was modelled as joining _handle_workers
// and _handle_results, and the main thread's wait for map's results as
// joining _handle_workers; the replay made them wait until those threads'
// modelled ends, 165ms past the recorded wait, and the what-if blamed a
// lock for every variant. Such a wait keeps its recorded length.
func findJoins(s *tracer.Spans, shared map[tracer.LockID]bool) []join {
	t := s.Trace
	named := t.Meta.Extra["source"] == "cpython"
	var out []join
	for _, w := range s.Waits {
		if int(w.Lock) >= len(t.Locks) || t.Locks[w.Lock].GIL || shared[w.Lock] || !w.Acquired {
			continue
		}
		if named && !isJoinLock(t.Locks[w.Lock].Name) {
			continue
		}
		// The VM names a join's lock after the thread it joins, which
		// may start after the wait began (QA: main joining workers with
		// start_after: 20ms at 5 ms was modelled as a wait for a notify
		// from worker-1): then the threads that ended during the wait,
		// whenever they started, as below.
		vmTarget, vm := vmJoinTarget(s, w)
		vm = vm && !named
		var ended []tracer.ThreadID
		for id, ts := range s.Threads {
			j := tracer.ThreadID(id)
			if j != w.Thread && ts.Ended && t.Threads[j].Proc == t.Threads[w.Thread].Proc &&
				(ts.Start < w.Start || vm && ts.Start < w.End) && w.Start <= ts.End && ts.End <= w.End+joinSlack {
				ended = append(ended, j)
			}
		}
		if vm && !slices.Contains(ended, vmTarget) {
			ended = append(ended, vmTarget)
		}
		slices.SortStableFunc(ended, func(a, b tracer.ThreadID) int { return cmp.Compare(s.Threads[a].End, s.Threads[b].End) })
		for _, j := range ended {
			out = append(out, join{waiter: w.Thread, target: j, start: w.Start, end: w.End})
		}
	}
	return out
}

// vmJoinTarget is the thread a VM run's wait w joined: its lock is named
// "join THREAD" (vm/join.go) after a thread of the waiter's process that
// ended by the wait's end.
func vmJoinTarget(s *tracer.Spans, w tracer.Wait) (tracer.ThreadID, bool) {
	t := s.Trace
	name, ok := strings.CutPrefix(t.Locks[w.Lock].Name, "join ")
	if !ok {
		return tracer.NoThread, false
	}
	for id, th := range t.Threads {
		j := tracer.ThreadID(id)
		if th.Name == name && th.Proc == t.Threads[w.Thread].Proc && j != w.Thread && id < len(s.Threads) && s.Threads[j].Ended && s.Threads[j].End <= w.End+joinSlack {
			return j, true
		}
	}
	return tracer.NoThread, false
}

// maxPeriod bounds the length of a repeated passage that compress looks for.
const maxPeriod = 16

// compress replaces runs of similar passages with repeats: at each place,
// the period that covers the most operations with at least two copies
// wins (the shorter on a tie); the copies' durations are averaged.
func compress(ops []op, tol float64) []op {
	var out []op
	for i := 0; i < len(ops); {
		bestP, bestK := 0, 1
		for p := 1; p <= maxPeriod && i+2*p <= len(ops); p++ {
			k := 1
			for i+(k+1)*p <= len(ops) && passageSimilar(ops[i:i+p], ops[i+k*p:i+(k+1)*p], tol) {
				k++
			}
			if k >= 2 && p*k > bestP*bestK {
				bestP, bestK = p, k
			}
		}
		if bestK < 2 {
			out = append(out, ops[i])
			i++
			continue
		}
		copies := make([][]op, bestK)
		for c := range copies {
			copies[c] = ops[i+c*bestP : i+(c+1)*bestP]
		}
		body := averagePassages(copies)
		if bestP == 1 && body[0].kind == opRepeat {
			body[0].times *= bestK // repeat of a repeat: one repeat
			out = append(out, body[0])
		} else {
			out = append(out, op{kind: opRepeat, times: bestK, body: body})
		}
		i += bestP * bestK
	}
	return out
}

func passageSimilar(a, b []op, tol float64) bool {
	for i := range a {
		if !opSimilar(a[i], b[i], tol) {
			return false
		}
	}
	return true
}

// slack is the absolute difference always tolerated between two
// durations: 50 us, the scheduler's noise on a short operation.
const slack = 50_000

func opSimilar(a, b op, tol float64) bool {
	if a.kind != b.kind || a.label != b.label || a.until != b.until || a.times != b.times || a.target != b.target || len(a.body) != len(b.body) {
		return false
	}
	if a.kind == opLock || a.kind == opRepeat || a.kind == opCall {
		return passageSimilar(a.body, b.body, tol)
	}
	return math.Abs(a.d-b.d) <= tol*math.Max(a.d, b.d)+slack
}

// averagePassages is one passage whose durations are the copies' means.
func averagePassages(copies [][]op) []op {
	out := slices.Clone(copies[0])
	for i := range out {
		col := make([][]op, len(copies))
		sum := 0.0
		for c := range copies {
			sum += copies[c][i].d
			col[c] = copies[c][i].body
		}
		out[i].d = sum / float64(len(copies))
		if len(out[i].body) > 0 {
			out[i].body = averagePassages(col)
		}
	}
	return out
}

// functionTable names the functions of the model: one per distinct body
// of a recorded Python function, the first under the function's own name,
// others with a "#2", "#3" suffix.
type functionTable struct {
	tol    float64
	names  []string            // in order of definition
	bodies map[string][]op     // name -> body
	uses   map[string][][]op   // name -> the bodies of every call, averaged when written
	frames map[string]string   // name -> where it was recorded, for a comment
	byFunc map[string][]string // Python function -> its names
}

func (ft *functionTable) name(fn tracer.Frame, body []op) string {
	fn.Func = funcName(fn.Func)
	for _, n := range ft.byFunc[fn.Func] {
		if len(ft.bodies[n]) == len(body) && passageSimilar(ft.bodies[n], body, ft.tol) {
			ft.uses[n] = append(ft.uses[n], body)
			return n
		}
	}
	n := fn.Func
	if k := len(ft.byFunc[fn.Func]); k > 0 {
		n = fmt.Sprintf("%s#%d", n, k+1)
	}
	ft.names = append(ft.names, n)
	ft.bodies[n] = body
	ft.uses[n] = [][]op{body}
	where := fn.File
	if fn.Line > 0 {
		where += ":" + strconv.Itoa(fn.Line)
	}
	ft.frames[n] = where
	ft.byFunc[fn.Func] = append(ft.byFunc[fn.Func], n)
	return n
}

// coresNote is the header's paragraph on the cores the model replays on:
// recorded, the cores of the recording machine (0: not in the trace), or
// of the simulated one when simulated (a run in virtual time); cores and
// clock, the cores: and clock: written (0, "": none).
//
// Without cores:, virtual time gives each thread a core of its own: the
// replay of a run that its machine's cores held back did not reproduce it
// (QA: a model of fixtures/traces/ml-preprocessing.giltrace, recorded on 2
// cores at 616 ms, replayed with record --clock virtual in 355 ms).
func coresNote(recorded int, simulated bool, cores int, clock string) string {
	const cpuTime = " Work that needs a core is written as its CPU time, the part of each busy stretch in which the thread had one of the run's cores."
	machine := fmt.Sprintf("The recorded machine had %s (the CPUs the recorded program could run on)", count(recorded, "core", "cores"))
	if simulated {
		machine = fmt.Sprintf("The run was simulated on %s", count(recorded, "core", "cores"))
	}
	var note string
	switch {
	case recorded > 0 && cores == recorded:
		note = fmt.Sprintf("%s: cores: %d below replays it on as many simulated cores, on which its threads queue for a core as they did.", machine, cores) + cpuTime
	case recorded > MaxCores && cores == MaxCores:
		note = fmt.Sprintf("%s: cores: %d below, a workload's most and more than a model's threads can use, replays it with a core for each thread.", machine, cores) + cpuTime
	case cores > 0:
		note = fmt.Sprintf("The model replays the run on %s (cores: %d below)", count(cores, "simulated core", "simulated cores"), cores)
		if recorded > 0 {
			note += fmt.Sprintf("; %s.", strings.ToLower(machine[:1])+machine[1:]) + cpuTime
		} else {
			note += "; the trace does not say how many cores the recorded machine had."
		}
	default:
		note = "The trace does not say how many cores the recorded machine had: no cores: is written, so a replay in virtual time gives each thread a core of its own (record's default; compare's is this machine's cores), and work that needs a core is written as it was recorded, any wait for a core included. A run that its machine's cores held back replays shorter than it ran: give them with giltrace record --clock virtual --cores N."
		if clock != "" {
			note += fmt.Sprintf(" The model runs with clock: %s.", clock)
		}
		return note
	}
	if clock == "virtual" {
		note += " Simulated cores need virtual time, hence clock: virtual: giltrace record runs the model so, and record --cores N or compare --cores N simulates another machine; to run it in real time on this machine's cores, remove the clock: and cores: lines."
	}
	return note
}

// write renders the workload.
func write(t *tracer.Trace, procs procSet, threads []threadModel, o Options) []byte {
	// Calls of one Python function share a definition when their bodies
	// match within a tenth of the repeat tolerance, and it has their mean
	// durations: close enough that each thread's total time stays within a
	// few percent of what it recorded.
	ft := &functionTable{tol: o.Tolerance / 10, bodies: map[string][]op{}, uses: map[string][][]op{},
		frames: map[string]string{}, byFunc: map[string][]string{}}
	var w strings.Builder
	m := t.Meta
	fmt.Fprintf(&w, "%s from %s", header, commentText(orDefault(o.Source, "a trace")))
	if cmd := m.Extra["command"]; cmd != "" {
		fmt.Fprintf(&w, ": %s", commentText(cmd))
	}
	if py := m.Extra["python"]; py != "" {
		fmt.Fprintf(&w, " (CPython %s)", py)
	}
	// A run in virtual time has no date (its Start is the zero of its
	// clock, for identical bytes): "simulated", not "recorded 1970-01-01"
	// (QA).
	when := "recorded " + m.Start.UTC().Format("2006-01-02 15:04:05 MST")
	if m.Extra["clock"] == "virtual" || m.Start.Unix() <= 0 {
		when = "simulated in virtual time"
	}
	fmt.Fprintf(&w, ",\n# %s, wall %v, %s in %s.\n",
		when, time.Duration(t.Duration()).Round(time.Microsecond), count(len(t.Threads), "thread", "threads"), count(len(t.Procs), "process", "processes"))
	if st := t.Status(); !st.Complete() {
		// QA: the model of a deadlocked run ran to its end, its header
		// silent on the deadlock.
		fmt.Fprintf(&w, "# The trace is partial (%s): this models the run only as far as the\n# trace goes; a thread still waiting at its end waits as long as it had.\n", commentText(st.String()))
	}
	w.WriteString(`#
# Each thread does what it did in the recorded run, in the same order: its
# Python running time (compute), blocking calls that released the GIL (io,
# with their kinds), native calls that released it or kept it, and holds of
# locks that several threads took. Operations are grouped into functions
# named after the innermost Python function of the recorded stacks, and
# passages that repeat are compressed into repeats with their mean durations.
# GIL waits are not written: they emerge when the model runs. Durations are
# the measured ones (time in Python, not loop counts).
#
# A join waits until the joined thread has ended (join: THREAD); a wait for
# an event, a condition, a queue or a future waits until a notify from the
# thread that ran when it ended (wait: until: notify, at most its recorded
# length), or keeps its recorded length when no thread ran then. A blocking
# call that another thread's write or a child's exit ended ends at its
# notify (io: until:, at most its recorded length).
#
# What the model cannot know: what a process pool pays to pickle its tasks,
# what a C extension would do without a GIL, and how much longer a thread
# would wait for results if the threads it waits for ran slower.
`)
	cores, clock := o.Cores, o.Clock
	if cores == 0 {
		cores = min(max(m.Cores, 0), MaxCores)
	}
	if clock == "" && cores > 0 {
		clock = "virtual"
	}
	w.WriteString("#\n")
	for _, line := range wrap(coresNote(m.Cores, m.Extra["clock"] == "virtual", cores, clock), 74) {
		fmt.Fprintf(&w, "# %s\n", line)
	}
	if o.Tolerance > defaultTolerance {
		// Two durations are similar when the shorter is at least 1 - tol
		// of the longer (opSimilar, beside its slack).
		note := fmt.Sprintf("To keep the model short, passages count as repeats when their durations are within a factor of %.3g of each other, instead of %.3g:",
			1/(1-o.Tolerance), 1/(1-defaultTolerance))
		if o.Tolerance >= 1 {
			note = "To keep the model short, passages of the same operations count as repeats whatever their durations:"
		}
		note += " each repeat has its copies' mean durations, so each thread's total time is kept, but not how its durations varied."
		w.WriteString("#\n")
		for _, line := range wrap(note, 74) {
			fmt.Fprintf(&w, "# %s\n", line)
		}
	}
	if procs.note != "" {
		w.WriteString("#\n")
		for _, line := range wrap(procs.note, 74) {
			fmt.Fprintf(&w, "# %s\n", line)
		}
	}
	// Its own name: recorded, a model goes to giltrace-out/NAME-model, not
	// over the run of the workload it models (QA: what-if.md's record of
	// app.yaml replaced the quick start's giltrace-out/countdown).
	name := workloadName(m.Workload)
	if m.Workload != "" {
		name += "-model"
	}
	fmt.Fprintf(&w, "name: %s\n", name)
	fmt.Fprintf(&w, "description: %s\n", strconv.Quote("model of "+orDefault(m.Workload, "a recorded run")))
	mode := m.GILMode
	if mode == "" {
		mode = tracer.GILCPython
	}
	fmt.Fprintf(&w, "gil:\n  mode: %s\n", mode)
	if mode == tracer.GILCPython && m.SwitchInterval > 0 {
		fmt.Fprintf(&w, "  switch_interval: %s\n", dur(float64(m.SwitchInterval)))
	}
	if mode == tracer.GILLegacy && m.CheckInterval > 0 {
		fmt.Fprintf(&w, "  check_interval: %d\n", m.CheckInterval)
	}
	if procs.workers > 1 {
		fmt.Fprintf(&w, "processes: %d\n", procs.workers)
	}
	if clock != "" {
		fmt.Fprintf(&w, "clock: %s\n", clock)
	}
	if cores > 0 {
		fmt.Fprintf(&w, "cores: %d\n", cores)
	}
	// Thread bodies: each block a call of its function.
	for i := range threads {
		tm := &threads[i]
		var calls []op
		for _, b := range tm.blocks {
			if len(b.ops) == 0 {
				continue
			}
			calls = append(calls, op{kind: opCall, label: ft.name(b.fn, b.ops)})
		}
		tm.body = compress(calls, o.Tolerance)
	}
	// Thread names stay as recorded (made unique: CPython allows two
	// threads one name); each thread runs a function of its own.
	w.WriteString("threads:\n")
	// Thread names are unique in their process (each pool worker keeps its
	// MainThread), function names in the file, and the two never meet.
	threadsIn := map[tracer.ProcID]map[string]bool{}
	allThreads, runNames := map[string]bool{}, map[string]bool{}
	// A function's name is taken only among functions: a thread named
	// as a function keeps its name (QA: thread main, beside a function
	// main, was written "main (2)").
	unique := func(s string, function bool, taken ...map[string]bool) string {
		u := s
		for i := 2; function && ft.bodies[u] != nil || anyHas(taken, u); i++ {
			u = fmt.Sprintf("%s (%d)", s, i)
		}
		return u
	}
	var runs []string
	names := map[tracer.ThreadID]string{} // the written name of each thread, for joins
	// started: the threads a written thread starts (start: THREAD); they
	// have no start_after.
	started := map[tracer.ThreadID]bool{}
	hasBody := map[tracer.ThreadID]bool{}
	for _, tm := range threads {
		hasBody[tm.id] = len(tm.body) > 0
	}
	for _, tm := range threads {
		if hasBody[tm.id] {
			for _, b := range tm.blocks {
				for _, o := range b.ops {
					if o.kind == opStart && hasBody[o.target] {
						started[o.target] = true
					}
				}
			}
		}
	}
	// A start or a join names a thread group, and acts on every group of
	// that name, in any process: a thread started or joined has a name
	// no other thread has (QA: a program that forks and starts w0 and w1
	// in both processes gave a model that did not load, each "w0"
	// started by both MainThreads).
	targets := map[tracer.ThreadID]bool{}
	var mark func(ops []op)
	mark = func(ops []op) {
		for _, o := range ops {
			if o.kind == opStart || o.kind == opJoin {
				targets[o.target] = true
			}
			mark(o.body)
		}
	}
	for _, tm := range threads {
		for _, b := range tm.blocks {
			mark(b.ops)
		}
	}
	targetNames := map[string]bool{}
	for i := range threads {
		tm := &threads[i]
		if len(tm.body) == 0 {
			runs = append(runs, "")
			continue
		}
		proc := t.Threads[tm.id].Proc
		if threadsIn[proc] == nil {
			threadsIn[proc] = map[string]bool{}
		}
		if targets[tm.id] {
			tm.name = unique(cleanName(tm.name), false, allThreads)
			targetNames[tm.name] = true
		} else {
			tm.name = unique(cleanName(tm.name), false, threadsIn[proc], targetNames)
		}
		threadsIn[proc][tm.name], allThreads[tm.name] = true, true
		names[tm.id] = tm.name
		run := unique("thread "+tm.name, true, runNames)
		runNames[run] = true
		runs = append(runs, run)
		fmt.Fprintf(&w, "  - name: %s\n    run: %s\n", strconv.Quote(tm.name), strconv.Quote(run))
		if procs.workers > 1 {
			fmt.Fprintf(&w, "    process: %d\n", procs.place(proc))
		}
		if tm.start > 0 && !started[tm.id] {
			fmt.Fprintf(&w, "    start_after: %s\n", dur(float64(tm.start)))
		}
		if tm.daemon {
			w.WriteString("    daemon: true\n")
		}
	}
	w.WriteString("functions:\n")
	for i, tm := range threads {
		if runs[i] == "" {
			continue
		}
		fmt.Fprintf(&w, "  %s:\n", strconv.Quote(runs[i]))
		writeOps(&w, tm.body, 4, names)
	}
	for _, n := range ft.names {
		fmt.Fprintf(&w, "  %s:  # %s\n", strconv.Quote(n), commentText(orDefault(ft.frames[n], "?")))
		writeOps(&w, averagePassages(ft.uses[n]), 4, names)
	}
	return []byte(w.String())
}

// anyHas reports whether one of the sets has u.
func anyHas(sets []map[string]bool, u string) bool {
	for _, m := range sets {
		if m[u] {
			return true
		}
	}
	return false
}

func writeOps(w *strings.Builder, ops []op, indent int, names map[tracer.ThreadID]string) {
	pad := strings.Repeat(" ", indent)
	for _, o := range ops {
		switch o.kind {
		case opCompute:
			fmt.Fprintf(w, "%s- compute: %s\n", pad, dur(o.d))
		case opIO:
			if o.label == "sleep" {
				fmt.Fprintf(w, "%s- sleep: %s\n", pad, dur(o.d))
				continue
			}
			fmt.Fprintf(w, "%s- io: {duration: %s, kind: %s}\n", pad, dur(o.d), ioKind(o.label))
		case opWait:
			fmt.Fprintf(w, "%s- wait: {duration: %s, lock: %s}\n", pad, dur(o.d), strconv.Quote(o.label))
		case opWaitNotify:
			fmt.Fprintf(w, "%s- wait: {lock: %s, until: notify, duration: %s}\n", pad, strconv.Quote(o.label), dur(o.d))
		case opIOUntil:
			fmt.Fprintf(w, "%s- io: {duration: %s, kind: %s, until: %s}\n", pad, dur(o.d), ioKind(o.label), strconv.Quote(o.until))
		case opNotify:
			fmt.Fprintf(w, "%s- notify: %s\n", pad, strconv.Quote(o.label))
		case opNative:
			fmt.Fprintf(w, "%s- native: {duration: %s, releases_gil: true}\n", pad, dur(o.d))
		case opNativeHold:
			fmt.Fprintf(w, "%s- native: {duration: %s, releases_gil: false}\n", pad, dur(o.d))
		case opCall:
			fmt.Fprintf(w, "%s- call: %s\n", pad, strconv.Quote(o.label))
		case opLock:
			fmt.Fprintf(w, "%s- lock:\n%s    name: %s\n%s    body:\n", pad, pad, strconv.Quote(o.label), pad)
			writeOps(w, o.body, indent+6, names)
		case opJoin:
			if n, ok := names[o.target]; ok {
				fmt.Fprintf(w, "%s- join: %s  # %s.join()\n", pad, strconv.Quote(n), commentText(n))
			}
		case opStart:
			if n, ok := names[o.target]; ok {
				fmt.Fprintf(w, "%s- start: %s  # %s.start()\n", pad, strconv.Quote(n), commentText(n))
			}
		case opRepeat:
			fmt.Fprintf(w, "%s- repeat:\n%s    times: %d\n%s    body:\n", pad, pad, o.times, pad)
			writeOps(w, o.body, indent+6, names)
		}
	}
}

// count is "1 thread" or "3 threads".
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// dur formats nanoseconds as a Go duration rounded to the microsecond, at
// least 1us.
func dur(ns float64) string {
	if !(ns < float64(math.MaxInt64-int64(time.Millisecond))) {
		// Saturated, not wrapped (a trace's switch interval near int64's
		// maximum was written 1us); NaN too.
		return time.Duration(math.MaxInt64).Truncate(time.Microsecond).String()
	}
	d := time.Duration(math.Round(ns/1000)) * time.Microsecond
	return max(d, time.Microsecond).String()
}

// ioKind is an I/O kind the format accepts (a lower-case word of at most 32
// characters), "io" if the recorded one is not.
func ioKind(k string) string {
	if k == "" || len(k) > 32 || k[0] < 'a' || k[0] > 'z' {
		return "io"
	}
	for _, c := range k {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return "io"
		}
	}
	return k
}

// maxName is the longest name written, leaving room for a "#N" or "(N)"
// suffix within the format's 128 bytes.
const maxName = 110

// cleanName makes s a name the format accepts: printable, without leading
// or trailing spaces, at most maxName bytes, "?" if nothing is left. A
// name read from a process's memory can be anything.
// commentText is s fit for a YAML comment: YAML allows no control
// characters, and a frame's file name read from a process's memory while
// the code object was being freed may hold any bytes.
func commentText(s string) string {
	return strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) && r != ' ' {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(s, "?"))
}

// funcName is the name of a function from a recorded frame: "?" for a
// name with a character no Python identifier has (a control character, an
// invalid one): a recorder that read a frame while the interpreter changed
// it (giltrace before it refused such text) named it with whatever the
// memory held.
func funcName(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) || r == utf8.RuneError {
			return "?"
		}
	}
	return cleanName(s)
}

func cleanName(s string) string {
	s = strings.Map(func(r rune) rune {
		if !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > maxName {
		s = strings.ToValidUTF8(s[:maxName], "")
		s = strings.TrimSpace(s)
	}
	if s == "" {
		return "?"
	}
	return s
}

// workloadName makes name a workload name: letters, digits, '.', '_', '-',
// starting with a letter or digit.
func workloadName(name string) string {
	var b strings.Builder
	for _, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
			b.WriteRune(c)
		default:
			b.WriteByte('_')
		}
	}
	s := strings.TrimLeft(b.String(), "._-")
	if s == "" {
		s = "model"
	}
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// wrap splits text into lines of at most width bytes at spaces.
func wrap(text string, width int) []string {
	var lines []string
	line := ""
	for _, word := range strings.Fields(text) {
		if line != "" && len(line)+1+len(word) > width {
			lines = append(lines, line)
			line = ""
		}
		if line != "" {
			line += " "
		}
		line += word
	}
	if line != "" {
		lines = append(lines, line)
	}
	return lines
}
