package compare

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"image/color"
	"io"
	"maps"
	"math"
	"runtime"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/giltrace/giltrace/chart"
	"github.com/giltrace/giltrace/diagnosis"
	"github.com/giltrace/giltrace/internal/textfmt"
	"github.com/giltrace/giltrace/model"
	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm"
	"github.com/giltrace/giltrace/vm/workload"
)

// WhatIfOptions configure a prediction from a recorded run.
type WhatIfOptions struct {
	// Source is the trace's path, named in the model's header.
	Source string
	// Cores is the largest simulated machine: the predictions run on 1,
	// 2, 4, ... (the powers of two below Cores) and Cores cores. 0 means
	// max(8, the recorded machine's). The best option is chosen on the
	// recorded machine's cores, or on Cores when that is fewer.
	Cores int
	// IPCCost is the inter-process cost of each worker thread run as a
	// process (spawning it, pickling its work and its result), which the
	// model cannot know: added at the start of each worker's work in the
	// processes variants, a worker being every thread but a real
	// program's main thread, which stays the program's process
	// (ipcWorker). 0 leaves it out, and the output says so.
	IPCCost time.Duration
	// Intervals are the switch intervals of the sweep; nil means 1, 2, 5,
	// 10 and 20 ms.
	Intervals []time.Duration
	// Seed is the virtual runs' seed; nil means 1.
	Seed *int64
	// Version is giltrace's version, recorded in the simulated traces.
	Version string
}

// Prediction is what a recorded run would do under other choices, from its
// model replayed in virtual time. Speedups are the run's serial work (the
// same work on one thread) over a variant's wall time, the measure of the
// report's "achieved" speedup, so that they compare with the measured one.
type Prediction struct {
	Workload       string        `json:"workload"`
	RecordedCores  int           `json:"recorded_cores"`
	MeasuredWallNS int64         `json:"measured_wall_ns"`
	SerialNS       int64         `json:"serial_work_ns"`
	Measured       float64       `json:"measured_speedup"`  // the report's achieved speedup (Speedup.Achieved: the trace's overlap), which the rows' speedups compare with
	Replay         PredictionRow `json:"replay"`            // the model as recorded, on the recorded cores
	ReplayError    float64       `json:"replay_wall_error"` // (replayed wall - measured wall) / measured wall
	// ReplayOff is set when ReplayError is beyond ReplayTolerance: the
	// model misses this run, and the predictions carry at least that error.
	ReplayOff bool `json:"replay_off,omitempty"`
	// Distorted names what distorted the recorded run, which the report
	// warns of (a busy machine, a real program's tracing cost, CPU time
	// outside its traced threads, I/O waiting on its own threads): the
	// model replays what the trace shows, so the predictions carry it
	// (QA: a run traced 30x slower than it ran, tracing cost 80 % of the
	// wall, was predicted 1.26x as processes, with no word; processes
	// were 5.4x faster).
	Distorted []string `json:"distorted,omitempty"`
	// Partial says what is partial about the trace (tracer.Status: an
	// interrupted run, with what stopped it when known, dropped events):
	// the model holds the run only as far as the trace goes.
	Partial string          `json:"partial,omitempty"`
	Rows    []PredictionRow `json:"rows"`
	Best    PredictionRow   `json:"best"`
	// Estimated is the diagnosis's estimate for the best option when it
	// is processes or free-threaded on the recorded cores (the verdicts'
	// advice quotes it: speedup.as_processes, speedup.without_gil): the
	// work over the cores, without the handoffs, waits and start-up that
	// the replay includes. 0 otherwise.
	Estimated float64 `json:"estimated_speedup,omitempty"`
	// EstimatedAs is the diagnosis's estimate for each mode it estimates
	// (processes, free-threaded) on EstimatedCores cores, whatever the
	// best option: the text reconciles each with its predicted row.
	EstimatedAs    map[string]float64 `json:"estimated_as,omitempty"`
	EstimatedCores int                `json:"estimated_cores,omitempty"`
	Limit          string             `json:"limit"` // what limits the best option
	// BestWallChange is the best option's wall against the run's model as
	// recorded on the same cores: (best - as recorded) / as recorded, so
	// -0.3 is 30 % less wall time; 0 when the best is as recorded. The
	// like-for-like effect of the change: the best's speedup may still be
	// below the measured one when the model misses the run (ReplayError).
	BestWallChange float64 `json:"best_wall_change"`
	// SeedSpread is how much the model as recorded (on the cores the best
	// is chosen on) moves with the seed: (longest - shortest wall) /
	// shortest over SpreadSeeds seeds from the run's. The waiter a
	// release wakes and drawn durations are the seed's; a change is
	// named best only if it beats the shortest of them (QA: a pool of 4
	// threads on one core was told to use a 1 ms switch interval for
	// 10 % at seed 1, a 2 ms one at seed 5, and nothing at seed 4: the
	// replay itself moved by 11 %).
	SeedSpread float64  `json:"seed_spread"`
	Notes      []string `json:"notes"`
	Model      []byte   `json:"-"` // the workload file the predictions ran

	// recordedOnTarget is the model as recorded on the cores the best option
	// is chosen on when they are not the recorded machine's (--cores
	// fewer): the candidate Replay stands for otherwise. Cores 0: none.
	recordedOnTarget PredictionRow
	// ipcWorkers counts the model's threads that pay IPCCost; ipcStays
	// names those that do not (a main thread, per process).
	ipcWorkers, ipcThreads int
	ipcStays               []string
	recordedProcs          int
	// runLock is the recorded run's lock-bound verdict ("lock-bound", or
	// "near the lock-bound verdict's boundary"), "" without it, for the
	// limit; unseenHolds: its lock holds were not recorded (inferredHolds);
	// holdsRecordable: --lock-holds could record them (not on 3.14+:
	// diagnosis.LockHoldsRecordable).
	runLock                      string
	unseenHolds, holdsRecordable bool
	// machine is the run's CPU time obtained (diagnosis.Machine), when
	// recorded: CPU time outside the traced threads, which the model does
	// not know, and whether it kept the cores full.
	machine *diagnosis.Machine
	ipcCost time.Duration // WhatIfOptions.IPCCost, when charged to some thread
	// spreadSeeds are the first and last seeds of SeedSpread's runs, and
	// spreadShortest the shortest wall among them; withinSpread is the
	// row that would be best but for them (Cores 0: none).
	spreadSeeds [2]int64
	// keptWaits: in a run of several processes, a long wait between them
	// keeps its recorded length in the model (processWaitsNote).
	keptWaits      bool
	spreadShortest int64
	withinSpread   PredictionRow
	// ownIO: how the run's I/O waited on its own pipes and connections
	// (diagnosis.OwnIO), nil if not recorded.
	ownIO *diagnosis.OwnIO
}

// PredictionRow is one variant: a way to run the program on a machine.
type PredictionRow struct {
	Mode           string  `json:"mode"` // threads, processes or free-threaded
	Cores          int     `json:"cores"`
	SwitchInterval int64   `json:"switch_interval_ns,omitempty"`
	WallNS         int64   `json:"wall_ns"`
	Speedup        float64 `json:"speedup"`
	Verdicts       string  `json:"verdicts"`
	// ranInterval is the switch interval the row ran with, which the text
	// shows: SwitchInterval for the sweep, the model's (the recorded one)
	// for the other threads rows, 0 without a switch interval (no GIL, the
	// legacy GIL). SwitchInterval stays 0 on those rows: it tells the
	// sweep from them.
	ranInterval int64
	// Near lists the verdicts not given whose measure came near their
	// threshold (diagnosis.Report.NearBoundary), comma-separated.
	Near string `json:"near,omitempty"`
	// SeedWallsNS are a threads row's walls at seeds seed ...
	// seed+RowSeeds-1 (the model's random choices: the waiter a release
	// wakes); the row is the run of their median.
	// A pointer, so that rows stay comparable (a row is named by
	// equality: asRecorded, Best).
	SeedWallsNS *[RowSeeds]int64 `json:"seed_walls_ns,omitempty"`
}

// WhatIf models the run of spans s and replays the model in virtual time:
// as recorded, then as threads, processes and free-threaded on 1 ... Cores
// cores (CoreCounts) and on the recorded machine's (predictionCores), and
// with threads at the switch intervals of the sweep, on the cores the best
// option is chosen on.
func WhatIf(ctx context.Context, s *tracer.Spans, o WhatIfOptions) (*Prediction, error) {
	t := s.Trace
	recCores := max(t.Meta.Cores, 1)
	if o.Cores <= 0 {
		o.Cores = max(8, recCores)
	}
	// The best option is chosen among rows computed on these cores: the
	// recorded machine's, or fewer if asked (QA: --cores 1 on a run of 2
	// cores named a best "on 2 cores" that no row but the sweep had run).
	target := min(recCores, o.Cores)
	seed := int64(1)
	if o.Seed != nil {
		seed = *o.Seed
	}
	if o.Intervals == nil {
		o.Intervals = []time.Duration{time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond}
	}
	src, err := model.Build(s, model.Options{Source: o.Source})
	if err != nil {
		return nil, err
	}
	w, err := workload.Parse("model of "+orDefault(o.Source, t.Meta.Workload), src)
	if err != nil {
		return nil, fmt.Errorf("predicting %s: %s: %w", t.Meta.Workload, model.NoLoad(t), err)
	}
	diag := diagnosis.Analyze(s)
	p := &Prediction{Workload: t.Meta.Workload, RecordedCores: recCores, MeasuredWallNS: t.Duration(),
		SerialNS: diag.Speedup.SerialEquivNS, Measured: diag.Speedup.Achieved, Model: src, Distorted: distorted(diag)}
	p.ownIO = diag.OwnIO
	mode := w.GIL.Mode
	if mode == "" || mode == tracer.GILNone {
		mode = tracer.GILCPython
	}
	// The variants run every thread in one program: threads (one GIL),
	// free-threaded, or each a process. A run of several processes (a pool)
	// is replayed as recorded, each process with its own GIL, and its
	// variants are what its threads would do as threads of one program.
	run := func(m string, cores int, interval time.Duration, seed int64, asRecorded bool) (PredictionRow, error) {
		opts := vm.Options{ClockMode: workload.ClockVirtual, Cores: cores, Seed: &seed, Version: o.Version, Mode: mode, OneProcess: !asRecorded}
		ww := w
		switch m {
		case Threads:
			opts.SwitchInterval = interval
		case FreeThreaded:
			opts.Mode = tracer.GILNone
		case Processes:
			// One process per thread: no GIL between them, as free-threaded,
			// plus what moving the work between processes costs.
			opts.Mode = tracer.GILNone
			ww = withIPCCost(w, o.IPCCost, func(g workload.ThreadGroup) bool { return ipcWorker(t, g) })
		}
		tr, err := vm.Run(ctx, ww, opts)
		if err != nil {
			return PredictionRow{}, fmt.Errorf("predicting %s as %s on %s: %w", t.Meta.Workload, m, textfmt.Plural(cores, "core"), err)
		}
		r := diagnosis.Analyze(tracer.Derive(tr))
		row := PredictionRow{Mode: m, Cores: cores, WallNS: tr.Duration(), Verdicts: r.VerdictCodes()}
		row.Near = addNear("", r)
		if m == Threads && interval > 0 {
			row.SwitchInterval = int64(interval)
		}
		if tr.Meta.GILMode == tracer.GILCPython {
			row.ranInterval = int64(tr.Meta.SwitchInterval)
		}
		if row.WallNS > 0 {
			row.Speedup = round3(float64(p.SerialNS) / float64(row.WallNS))
		}
		return row, nil
	}
	// The run as recorded, in its own mode: a free-threaded recording is
	// replayed without a GIL (QA: replayed under one, at +93 % of its
	// wall, and told that processes would cut it by half).
	recMode := Threads
	if w.GIL.Mode == tracer.GILNone {
		recMode = FreeThreaded
	}
	if p.Replay, err = run(recMode, recCores, 0, seed, true); err != nil {
		return nil, err
	}
	if recMode == Threads && t.Meta.GILMode == tracer.GILCPython {
		// The legacy GIL has no switch interval: 0, as its rows (QA:
		// 5000000 in a legacy run's whatif.json).
		p.Replay.SwitchInterval = int64(t.Meta.SwitchInterval)
	}
	// The run itself near a boundary is the replay near it too.
	p.Replay.Near = addNear(p.Replay.Near, diag)
	if len(t.Procs) > 1 {
		p.Replay.Mode = Processes
	}
	if target != recCores {
		if p.recordedOnTarget, err = run(recMode, target, 0, seed, true); err != nil {
			return nil, err
		}
		p.recordedOnTarget.Mode, p.recordedOnTarget.SwitchInterval = p.Replay.Mode, p.Replay.SwitchInterval
	}
	if p.MeasuredWallNS > 0 {
		p.ReplayError = round3(float64(p.Replay.WallNS-p.MeasuredWallNS) / float64(p.MeasuredWallNS))
		p.ReplayOff = math.Abs(p.ReplayError) > ReplayTolerance
	}
	type job struct {
		mode     string
		cores    int
		interval time.Duration
		seed     int64
		recorded bool // the model as recorded: the spread's runs (SeedSpread)
	}
	var jobs []job
	for _, m := range AllModes {
		for _, c := range predictionCores(o.Cores, target) {
			jobs = append(jobs, job{m, c, 0, seed, false})
		}
	}
	intervals := o.Intervals
	if t.Meta.GILMode == tracer.GILLegacy {
		// The legacy GIL has no switch interval: the sweep's rows would be
		// the same run five times (QA).
		intervals = nil
	}
	for _, d := range intervals {
		jobs = append(jobs, job{Threads, target, d, seed, false})
	}
	spread := len(jobs)
	for k := range int64(SpreadSeeds - 1) {
		jobs = append(jobs, job{recMode, target, 0, seed + 1 + k, true})
	}
	// The threads rows, which share a GIL, again with the next
	// RowSeeds-1 seeds: each shows the run of the median wall (QA: a
	// pool's threads at 2 ms on 1 core took 2.79 s at seed 1, where 1, 5
	// and 10 ms took 1.93 s, and 1.94 s at seeds 2 and 3: at seed 1 the
	// two workers handed the GIL to each other for 830 ms while three
	// threads timed out behind them).
	extra := len(jobs)
	for i := range jobs[:spread] {
		if jobs[i].mode == Threads {
			for k := range int64(RowSeeds - 1) {
				j := jobs[i]
				j.seed = seed + 1 + k
				jobs = append(jobs, j)
			}
		}
	}
	// The variants are independent runs of the same model: on every core
	// (the run of a recorded attach to a process pool took 15 s one after
	// the other), each row in its place, so that the table is the same
	// whatever finishes first.
	rows := make([]PredictionRow, len(jobs))
	errs := make([]error, len(jobs))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(jobs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				j := jobs[i]
				rows[i], errs[i] = run(j.mode, j.cores, j.interval, j.seed, j.recorded)
			}
		}()
	}
	for i := range jobs {
		next <- i
	}
	close(next)
	wg.Wait()
	for i := range jobs {
		if errs[i] != nil {
			return nil, errs[i]
		}
	}
	k := extra
	for i := range rows[:spread] {
		if jobs[i].mode != Threads {
			continue
		}
		runs := append([]PredictionRow{rows[i]}, rows[k:k+RowSeeds-1]...)
		k += RowSeeds - 1
		var walls [RowSeeds]int64
		for n, r := range runs {
			walls[n] = r.WallNS
		}
		rows[i] = medianRow(runs)
		rows[i].SeedWallsNS = &walls
	}
	p.Rows = append(p.Rows, rows[:spread]...)
	lo, hi := p.asRecorded().WallNS, p.asRecorded().WallNS
	for _, r := range rows[spread:extra] {
		lo, hi = min(lo, r.WallNS), max(hi, r.WallNS)
	}
	if lo > 0 {
		p.SeedSpread = round3(float64(hi-lo) / float64(lo))
	}
	p.spreadSeeds, p.spreadShortest = [2]int64{seed, seed + SpreadSeeds - 1}, lo
	p.ipcThreads, p.recordedProcs = len(w.Threads), len(t.Procs)
	for _, g := range w.Threads {
		if ipcWorker(t, g) {
			p.ipcWorkers++
		} else if !slices.Contains(p.ipcStays, g.Name) {
			p.ipcStays = append(p.ipcStays, g.Name)
		}
	}
	if p.ipcWorkers > 0 {
		p.ipcCost = o.IPCCost
	}
	p.runLock, p.unseenHolds, p.holdsRecordable = lockVerdict(diag), inferredHolds(s), diagnosis.LockHoldsRecordable(s.Trace)
	p.machine = diag.Machine
	var procNote []string
	if len(t.Procs) > 1 {
		procNote = p.processWaitsNote(s, recCores) // before choose: keptWaits
	}
	p.choose(o, criticalThread(s, diag))
	if st := t.Status(); !st.Complete() {
		// QA: a deadlocked run, stopped at 10 us, was told that processes
		// would make it 95 % shorter, with no word of the deadlock.
		p.Partial = st.String()
	}
	if sp := diag.Speedup; sp.AsProcesses > 0 || sp.WithoutGIL > 0 {
		p.EstimatedAs, p.EstimatedCores = map[string]float64{}, sp.Cores
		if sp.AsProcesses > 0 {
			p.EstimatedAs[Processes] = sp.AsProcesses
		}
		if sp.WithoutGIL > 0 {
			p.EstimatedAs[FreeThreaded] = sp.WithoutGIL
		}
	}
	if p.Best.Cores == diag.Speedup.Cores {
		switch p.Best.Mode {
		case Processes:
			p.Estimated = diag.Speedup.AsProcesses
		case FreeThreaded:
			p.Estimated = diag.Speedup.WithoutGIL
		}
	}
	if inferredHolds(s) {
		how := "giltrace record --lock-holds records them"
		if !diagnosis.LockHoldsRecordable(s.Trace) {
			how = "on Python 3.14 and later a threading.Lock is a PyMutex, whose holds giltrace does not record"
		}
		p.Notes = append(p.Notes, "The program's lock holds were not recorded ("+how+"): a critical section shows only where a thread waited for it, so the model may run in parallel what the program serialised.")
	}
	p.Notes = append(p.Notes, procNote...)
	if name, ns := listener(s); ns > 0 {
		// Review: a server whose clients the GIL had held up was
		// predicted 1.02x in every variant, where the estimates said
		// 2.06x: its waits, replayed as recorded, kept the recorded pace.
		// Left out, they lost the shutdown's wait that the program does
		// take (serve_forever's poll interval): the replay missed by 19 %.
		p.Notes = append(p.Notes, fmt.Sprintf("%s waited %s for connections (I/O listen: a server's accept loop), which the model replays as recorded: where its clients would come sooner, as in a faster variant, its waits would be shorter, so the predictions may hold to the recorded pace (the report's arithmetic counts them as the server's I/O; they are not what limits the run).", name, textfmt.Dur(ns)))
	}
	return p, nil
}

// listener is the thread that waited longest for connections (I/O
// "listen") and how long, when that is a tenth of the run or more; "", 0
// otherwise.
func listener(s *tracer.Spans) (string, int64) {
	k := kindID(s, diagnosis.ListenKind)
	if k == 0 {
		return "", 0
	}
	best, ns := -1, int64(0)
	for id := range s.Trace.Threads {
		if w := kindIO(s, tracer.ThreadID(id), k); w > ns {
			best, ns = id, w
		}
	}
	if best < 0 || ns*10 < s.Trace.Duration() {
		return "", 0
	}
	name := s.Trace.Threads[best].Name
	if sameName(s.Trace, tracer.ThreadID(best)) {
		if p := s.Trace.Threads[best].Proc; int(p) < len(s.Trace.Procs) {
			name = fmt.Sprintf("%s (pid %d)", name, s.Trace.Procs[p].PID)
		}
	}
	return name, ns
}

// processWaitsNote is the note on what the processes of a run of several
// waited for from each other, and sets keptWaits when the rows on more
// cores than the recorded recCores can fall short for it. In a real
// program, the waits that the trace shows another process ended (a
// write on a pipe between them just before, a child's exit:
// model.ProcessWaits) end in the model when that process gets there; the
// others keep their recorded length, named when one is a tenth of the run
// or more (QA: a parent joining 2 CPU-bound children, recorded on 1 core,
// was predicted 1.02x on 2 cores and ran 1.77x; testdata/join2.py,
// recorded so, is now predicted 0.97 s on 2 cores, and runs in 0.87-0.91
// s untraced). In a VM run, every blocking call keeps its recorded
// length, a parent's waits for its children (I/O "wait") among them.
func (p *Prediction) processWaitsNote(s *tracer.Spans, recCores int) []string {
	t := s.Trace
	more := slices.ContainsFunc(p.Rows, func(r PredictionRow) bool { return r.Cores > recCores })
	short := fmt.Sprintf("the rows on more cores than the recorded %s can be well short of what more cores would give. Record on a machine with the cores you ask about.", textfmt.Plural(recCores, "core"))
	if t.Meta.Extra["source"] != "cpython" {
		// A VM run's processes can wait for each other only in blocking
		// calls (a workload's io): without one, nothing is kept (the
		// multiprocessing fixture, two counters and no I/O, was told that
		// its rows on 4 cores may fall short for a wait between them).
		if !more || !slices.ContainsFunc(s.States, func(sp tracer.StateSpan) bool { return sp.State == tracer.StateIO && sp.End > sp.Start }) {
			return nil
		}
		p.keptWaits = true
		who := ""
		if name, ns := procWaiter(s); ns*10 >= t.Duration() {
			who = fmt.Sprintf("; %s waited %s for them", name, textfmt.Dur(ns))
		}
		return []string{fmt.Sprintf("The run had %d processes: what they waited for from each other (a child's end, a task's result%s) keeps its recorded length in the model, so no variant ends before those waits do; %s", len(t.Procs), who, short)}
	}
	var matched int
	var matchedNS int64
	var longest model.ProcessWait
	for _, w := range model.ProcessWaits(s) {
		if w.Matched {
			matched++
			matchedNS += w.End - w.Start
		} else if w.End-w.Start > longest.End-longest.Start {
			longest = w
		}
	}
	var b strings.Builder
	if matched > 0 {
		fmt.Fprintf(&b, "The run had %d processes: %d of its waits that the trace shows another process ended (a write on a pipe between them just before, a child's exit; %s in all) end in the model when that process gets there.",
			len(t.Procs), matched, textfmt.Dur(matchedNS))
	} else {
		// Review: "0 of its waits ... end in the model".
		fmt.Fprintf(&b, "The run had %d processes: none of their waits was seen ended by another's write on a pipe or exit, so none waits for another process in the model.", len(t.Procs))
	}
	if ns := longest.End - longest.Start; ns > 0 && ns*10 >= t.Duration() && int(longest.Thread) < len(t.Threads) {
		name := t.Threads[longest.Thread].Name
		if pr := t.Threads[longest.Thread].Proc; int(pr) < len(t.Procs) {
			name = fmt.Sprintf("%s (pid %d)", name, t.Procs[pr].PID)
		}
		fmt.Fprintf(&b, " Other blocking calls keep their recorded length, such as %s's of %s at %s, which no write or exit of another process was seen to end", name, textfmt.Dur(ns), textfmt.Dur(longest.Start))
		if more {
			p.keptWaits = true
			fmt.Fprintf(&b, ": if it waited for one, %s", short)
		} else {
			b.WriteString(".")
		}
	}
	return []string{b.String()}
}

// procWaiter is, in a run of several processes, the thread that waited
// longest for another process (I/O "wait": Process.join, a child's end)
// and how long; "", 0 if none did.
func procWaiter(s *tracer.Spans) (string, int64) {
	k := kindID(s, "wait")
	best, ns := -1, int64(0)
	for id := range s.Trace.Threads {
		if w := kindIO(s, tracer.ThreadID(id), k); w > ns {
			best, ns = id, w
		}
	}
	if best < 0 {
		return "", 0
	}
	name := s.Trace.Threads[best].Name
	if p := s.Trace.Threads[best].Proc; int(p) < len(s.Trace.Procs) {
		name = fmt.Sprintf("%s (pid %d)", name, s.Trace.Procs[p].PID)
	}
	return name, ns
}

// lockVerdict is the run's lock-bound verdict as the limit says it:
// "lock-bound" when given, "near the lock-bound verdict's boundary" when
// not given but near it, else "".
func lockVerdict(r *diagnosis.Report) string {
	if r == nil {
		return ""
	}
	for _, v := range r.Verdicts {
		if v.Code == diagnosis.LockBound {
			return "lock-bound"
		}
	}
	for _, b := range r.NearBoundary {
		if b.Code == diagnosis.LockBound {
			return "near the lock-bound verdict's boundary"
		}
	}
	return ""
}

// CoreCounts are the simulated machines of a prediction up to n cores:
// the powers of two below n, and n (3: 1, 2 and 3; 6: 1, 2, 4 and 6). The
// powers of two alone left n out when it was not one (QA: --cores 3 ran 1
// and 2 cores).
func CoreCounts(n int) []int {
	var out []int
	for c := 1; c < n; c *= 2 {
		out = append(out, c)
	}
	return append(out, max(n, 1))
}

// predictionCores are CoreCounts(n) with target, the cores the best option
// is chosen on, among them: a run recorded on 6 cores, predicted with the
// default 8, ran 1, 2, 4 and 8 cores and named "threads, as recorded" best
// on 6, the only row there (QA: 8 CPU-bound threads, 6.00x as processes).
func predictionCores(n, target int) []int {
	cs := CoreCounts(n)
	if i, found := slices.BinarySearch(cs, target); !found {
		cs = slices.Insert(cs, i, target)
	}
	return cs
}

// inferredHolds reports whether s is a real CPython run recorded without
// its lock holds in which a thread waited for a guest lock: the model then
// knows that lock's critical sections only from the waits.
func inferredHolds(s *tracer.Spans) bool {
	m := s.Trace.Meta
	if m.Extra["source"] != "cpython" || m.Extra["lock_holds"] == "observed" {
		return false
	}
	for _, w := range s.Waits {
		if !s.Trace.Locks[w.Lock].GIL {
			return true
		}
	}
	return false
}

// critical is the thread whose own work ends last if nothing made it wait:
// its start plus its running, I/O and native time, as the model has them
// (a thread of an attach first seen late was blocked until then: the
// model's io: {kind: blocking} of that length, counted as I/O here). No
// variant can finish before it does. When most of that is its start
// (startNS > workNS: what ran before it), starter is the thread that
// started it, if found, and starterWorkNS that thread's own time before
// the start, of which starterIONS in blocking calls.
type critical struct {
	id      int // its thread, -1 for none
	name    string
	endNS   int64
	ioShare float64
	// holdShare is the part of its work in native calls that kept the
	// GIL: split across threads, those calls would take turns.
	holdShare float64
	// sleepShare is the part of its work in time.sleep (I/O "sleep"): a
	// program pacing itself, which more threads would not make faster.
	sleepShare float64
	// timeoutShare is the part of its work in timed waits that ran out
	// (I/O "lock-timeout"): a wait given up, which faster I/O would not
	// shorten.
	timeoutShare float64
	// cpuNS is every thread's CPU work (running and native time): the
	// cores' load, whatever splits it; cpuFromStartNS the part of it from
	// startNS to endNS, while the critical thread could run (coresFull).
	cpuNS, cpuFromStartNS int64

	startNS, workNS int64
	starter         string
	starterWorkNS   int64
	starterIONS     int64 // of starterWorkNS, in blocking calls (a server waiting for requests)
	// starterBlockedNS is the part of starterIONS before the trace began
	// (an attach's thread first seen late, blocked in a call it made
	// before the attach).
	starterBlockedNS int64
	// starterStartupNS is the part of starterWorkNS before the program's
	// own code first ran on the starter, a main thread started in the
	// trace: the interpreter starting up (startUpEnd); starterStartupIONS
	// the part of that in blocking calls (reading the modules it imports).
	starterStartupNS, starterStartupIONS int64
	// delayed: no thread started it (none waited in Thread.start for it)
	// and no thread's work before its start is half of it: it started
	// late by itself (a timer, a workload's start_after). busiest and
	// busiestNS are then the thread of its process that worked most
	// before its start, and that work (QA: a thread with start_after:
	// 50ms was said to start "after worker-2's 10.0ms of work and 5.00ms
	// of blocking calls", and shortening those was advised).
	delayed   bool
	busiest   string
	busiestNS int64
	// importNS is the part of workNS spent starting the interpreter
	// (startUpEnd) or importing modules (under importlib's frames): a
	// script whose main thread mostly imports was advised that "splitting
	// its work across more workers would help" (QA).
	importNS int64
}

// needs says how long the critical thread takes alone (its work, without
// its GIL waits): from the start of the run, when it started near it;
// else when it would end and its own work, which the report's thread
// table shows as its wall when it did not wait (QA: "alone needs 1.26s"
// for a thread whose wall was 1.00 s, begun 0.26 s into the program).
func (c critical) needs() string {
	if c.startNS*20 <= c.endNS {
		return fmt.Sprintf("%s alone needs %s", c.name, textfmt.Dur(c.endNS))
	}
	return fmt.Sprintf("%s alone would end %s into the run (it started at %s; its own work, without waiting for the GIL, takes %s)",
		c.name, textfmt.Dur(c.endNS), textfmt.Dur(c.startNS), textfmt.Dur(c.endNS-c.startNS))
}

// lateStart reports whether the critical thread's end is mostly its start:
// splitting its own work would not help.
func (c critical) lateStart() bool { return c.startNS > c.workNS }

// lateStartLimit is the limit when the critical thread's end is mostly its
// start: what ran before it is named, and splitting the thread is not
// advised. The starter's time before the start is named as the model has
// it, by what most of it was: the interpreter starting up (before the
// program's own code: not the program's to shorten), blocking calls (a
// server waiting for requests, which start the workers as they come: not
// work to shorten), or compute, the only part called serial work; the
// other parts, when at least 1 % of it, are named beside.
func (c critical) lateStartLimit() string {
	head := fmt.Sprintf("it ends %s into the run, but its own work is %s; it started at %s", textfmt.Dur(c.endNS), textfmt.Dur(c.workNS), textfmt.Dur(c.startNS))
	split := fmt.Sprintf("Splitting %s's work across more workers would not help", c.name)
	if c.delayed {
		return fmt.Sprintf("when %s started: %s, and no thread started it then (none waited for it to start), nor worked for most of that time (%s, the busiest before it, %s): it started late by itself, after a delay of its own (a timer, a sleep before its start, start_after in a workload). "+
			"%s, nor would shortening the other threads' work; starting it sooner would",
			c.name, head, c.busiest, textfmt.Dur(c.busiestNS), split)
	}
	if c.starter == "" {
		return fmt.Sprintf("the work before %s started: %s, after the program's work before it, which runs on one thread. %s; shortening that serial work, or starting the workers sooner, would", c.name, head, split)
	}
	total := c.starterWorkNS
	startup, io := c.starterStartupNS, c.starterIONS-c.starterStartupIONS
	compute := total - startup - io
	seen := func(d int64) bool { return d > 0 && 100*d >= total }
	switch {
	case 2*startup >= total:
		// The time before the start is the interpreter's start-up
		// (QA: "after MainThread's 137ms of work ... shortening that
		// serial work", of which CPython's start-up was most).
		var rest []string
		if seen(compute) {
			rest = append(rest, fmt.Sprintf("%s of the program's own work", textfmt.Dur(compute)))
		}
		if seen(io) {
			rest = append(rest, fmt.Sprintf("%s of its blocking calls", textfmt.Dur(io)))
		}
		more := ""
		if len(rest) > 0 {
			more = ", then " + andList(rest)
		}
		return fmt.Sprintf("the interpreter's start-up before %s started: %s, after %s's %s of the interpreter starting up (before any frame of the program's own code: initialising, importing its modules, site)%s. "+
			"%s, nor would restructuring the program: the start-up is the interpreter's (python3 -X importtime lists what it imports), and weighs less in a longer run",
			c.name, head, c.starter, textfmt.Dur(startup), more, split)
	case 2*io >= total-startup:
		blocked, before := "", ""
		if c.starterBlockedNS > 0 {
			blocked = fmt.Sprintf(", %s of it in a call made before the trace began", textfmt.Dur(c.starterBlockedNS))
		}
		if seen(startup) {
			before = fmt.Sprintf(" and the interpreter's %s start-up", textfmt.Dur(startup))
		}
		return fmt.Sprintf("when %s started: %s, when %s started it after %s of blocking calls%s (%s of its time before then%s: waiting, for requests or input, that decides when workers start). "+
			"%s; what it waited for arriving sooner would",
			c.name, head, c.starter, textfmt.Dur(io), before, textfmt.Pct0(textfmt.Share(io, total)), blocked, split)
	}
	parts := []string{fmt.Sprintf("%s of work", textfmt.Dur(compute))}
	if seen(startup) {
		parts = append([]string{fmt.Sprintf("%s of the interpreter starting up", textfmt.Dur(startup))}, parts...)
	}
	if seen(io) {
		parts = append(parts, fmt.Sprintf("%s of blocking calls", textfmt.Dur(io)))
	}
	verb := "runs"
	if len(parts) > 1 {
		verb = "run"
	}
	return fmt.Sprintf("the work before %s started: %s, after %s's %s, which %s on one thread. %s; shortening that serial work, or starting the workers sooner, would",
		c.name, head, c.starter, andList(parts), verb, split)
}

// andList joins parts as a list in a sentence: "a", "a and b", "a, b and c".
func andList(parts []string) string {
	if len(parts) < 2 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// criticalThread finds the critical thread of the run of s, whose report
// r says each thread's I/O that counts as its work (Report.IOWorkNS: a
// poll's sleeps are not; QA, a parent in a multiprocessing queue's get,
// waiting for its children's work, was "limited by I/O latency"), less
// its waits for a connection (ListenWorkNS).
func criticalThread(s *tracer.Spans, r *diagnosis.Report) critical {
	real := s.Trace.Meta.Extra["source"] == "cpython"
	wait := kindID(s, "wait")
	var c critical
	cid := -1
	var cpu int64
	// Threads the program stopped when it exited (daemons, a killed
	// program's) are stopped by the replay: they limit nothing. Those
	// still running when an attach ended (no exit status) may.
	daemons := map[tracer.ThreadID]bool{}
	if s.Trace.Meta.Extra["exit_status"] != "" {
		daemons = model.Daemons(s)
	}
	procWaits := len(s.Trace.Procs) > 1
	for id, th := range s.Trace.Threads {
		tot := s.ThreadTotals(tracer.ThreadID(id))
		var io int64
		if id < len(r.IOWorkNS) && id < len(r.ListenWorkNS) {
			// With the time blocked before it was first seen; not its waits
			// for a connection, which the diagnosis counts.
			io = max(r.IOWorkNS[id]-r.ListenWorkNS[id], 0)
		}
		if procWaits && !real {
			// In a VM run of several processes (the what-if of a model),
			// a parent's waits for them (os.waitpid: I/O "wait") wait for
			// their work, which the diagnosis keeps (its VM processes are
			// independent workers; QA: a parent in Process.join was
			// "limited by I/O latency ... faster I/O would help").
			io = max(io-kindIO(s, tracer.ThreadID(id), wait), 0)
		}
		work := tot[tracer.StateRunning] + io + tot[tracer.StateNative] + tot[tracer.StateNativeHolding]
		cpu += tot[tracer.StateRunning] + tot[tracer.StateNative] + tot[tracer.StateNativeHolding]
		start := int64(0)
		if id < len(s.Threads) && !s.Threads[id].Existed {
			// Started in the trace; one that existed before it (attach)
			// starts with it, blocked until first seen.
			start = s.Threads[id].Start
		}
		if end := start + work; end > c.endNS && !daemons[tracer.ThreadID(id)] {
			c, cid = critical{name: th.Name, endNS: end, startNS: start, workNS: work}, id
			if work > 0 {
				c.ioShare = float64(io) / float64(work)
				c.holdShare = float64(tot[tracer.StateNativeHolding]) / float64(work)
			}
		}
	}
	c.id = cid
	c.cpuNS = cpu
	c.cpuFromStartNS = cpuBetween(s, c.startNS, c.endNS)
	if cid >= 0 && sameName(s.Trace, tracer.ThreadID(cid)) {
		// Every process of a pool has a MainThread: say which.
		if p := s.Trace.Threads[cid].Proc; int(p) < len(s.Trace.Procs) {
			c.name = fmt.Sprintf("%s (pid %d)", c.name, s.Trace.Procs[p].PID)
		}
	}
	if cid >= 0 {
		c.importNS = importWork(s, tracer.ThreadID(cid))
		if c.workNS > 0 {
			c.sleepShare = float64(max(sleepWork(s, tracer.ThreadID(cid))-s.PollWait(tracer.ThreadID(cid)), 0)) / float64(c.workNS)
			// Its timeouts given up (a loop's are no work: LoopWait; nor
			// a poll's, taken off its work with PollWait).
			id := tracer.ThreadID(cid)
			given := kindIO(s, id, kindID(s, "lock-timeout")) - s.LoopWait(id)
			if pl := s.Polls()[id]; pl != nil {
				for _, sp := range s.ThreadStates(id)[pl.First : pl.Last+1] {
					if sp.State == tracer.StateIO && s.Trace.Str(sp.IOKind()) == "lock-timeout" {
						given -= sp.End - sp.Start
					}
				}
			}
			c.timeoutShare = min(float64(max(given, 0))/float64(c.workNS), 1)
		}
	}
	if cid >= 0 && c.lateStart() {
		st, waited, ok := starterOf(s, tracer.ThreadID(cid))
		if busy := workBefore(s, st, c.startNS); ok && !waited && 2*busy < c.startNS-s.Threads[st].Start {
			c.delayed, c.busiest, c.busiestNS = true, s.Trace.Threads[st].Name, busy
		} else if ok {
			c.starter = s.Trace.Threads[st].Name
			c.starterWorkNS, c.starterIONS = workIOBefore(s, st, c.startNS)
			c.starterBlockedNS = min(blockedBefore(s, st), c.startNS)
			if end, ok := startUpEnd(s, st); ok {
				c.starterStartupNS, c.starterStartupIONS = workIOBefore(s, st, min(end, c.startNS))
			}
		}
	}
	return c
}

// kindID is the trace's string of I/O kind kind, 0 if it has none.
func kindID(s *tracer.Spans, kind string) tracer.StringID {
	if k := slices.Index(s.Trace.Strings, kind); k > 0 {
		return tracer.StringID(k)
	}
	return 0
}

// kindIO is thread id's I/O of kind k (kindID), 0 for none: "listen", a
// server's waits for a connection, idle, not its own work (QA: an
// in-process server's serve_forever was the limit, "faster I/O would
// help"); "wait", in a run of several processes, its waits for them (QA:
// a parent in Process.join was "limited by I/O latency").
func kindIO(s *tracer.Spans, id tracer.ThreadID, k tracer.StringID) int64 {
	if k == 0 {
		return 0
	}
	var ns int64
	for _, sp := range s.ThreadStates(id) {
		if sp.State == tracer.StateIO && sp.IOKind() == k {
			ns += sp.End - sp.Start
		}
	}
	return ns
}

// sleepWork is thread id's time in time.sleep (I/O of kind "sleep").
func sleepWork(s *tracer.Spans, id tracer.ThreadID) int64 {
	var ns int64
	for _, sp := range s.ThreadStates(id) {
		if sp.State == tracer.StateIO && s.Trace.Str(sp.IOKind()) == "sleep" {
			ns += sp.End - sp.Start
		}
	}
	return ns
}

// cpuBetween is the CPU work (running and native time) of every thread
// between from and to (review: work after the critical thread's end
// counted as keeping the cores busy while it ran).
func cpuBetween(s *tracer.Spans, from, to int64) int64 {
	var ns int64
	for _, sp := range s.States {
		switch sp.State {
		case tracer.StateRunning, tracer.StateNative, tracer.StateNativeHolding:
			ns += max(min(sp.End, to)-max(sp.Start, from), 0)
		}
	}
	return ns
}

// coresFull reports whether the CPU work of every thread keeps the cores
// busy while the critical thread runs (at least 90 % of them), so that
// splitting its work would not make it end sooner on them. It counts from
// the critical thread's start: before it (a program's start-up, importing
// numpy on one thread) the cores could not all be busy (QA: two threads
// sorting with numpy on 2 cores, started after 0.35 s of imports, were
// told that splitting their work would help; 4 and 8 threads ran no
// faster).
func (c critical) coresFull(cores int) bool {
	cpu, span := c.cpuNS, c.endNS
	if c.startNS > 0 {
		cpu, span = c.cpuFromStartNS, c.endNS-c.startNS
	}
	return span > 0 && float64(cpu) >= 0.9*float64(span)*float64(cores)
}

// importWork is thread id's work (running, I/O, native) before its
// program's own code first ran (startUpEnd: the interpreter starting up)
// or under one of importlib's frames (importing modules).
func importWork(s *tracer.Spans, id tracer.ThreadID) int64 {
	t := s.Trace
	if t.Meta.Extra["source"] != "cpython" {
		return 0
	}
	startEnd, _ := startUpEnd(s, id)
	under := t.StackMatcher(func(st tracer.Stack) bool {
		return int(st.Frame) < len(t.Frames) && strings.HasPrefix(t.Frames[st.Frame].File, "<frozen importlib")
	})
	var ns int64
	for _, sp := range s.ThreadStates(id) {
		switch sp.State {
		case tracer.StateRunning, tracer.StateIO, tracer.StateNative, tracer.StateNativeHolding:
		default:
			continue
		}
		if sp.End <= startEnd {
			ns += sp.End - sp.Start
		} else if under(sp.Stack) {
			ns += sp.End - max(sp.Start, startEnd)
		}
	}
	return ns
}

// sameName reports whether another thread of t has id's name.
func sameName(t *tracer.Trace, id tracer.ThreadID) bool {
	for j, th := range t.Threads {
		if tracer.ThreadID(j) != id && th.Name == t.Threads[id].Name {
			return true
		}
	}
	return false
}

// starterOf finds the thread that started thread id: CPython's
// Thread.start waits, the GIL released, on the new thread's _started event,
// so it is the thread of id's process in a wait on a guest lock in
// Thread.start when id started, the one whose wait began last (waited);
// else the thread of the process that did the most work before id started.
func starterOf(s *tracer.Spans, id tracer.ThreadID) (starter tracer.ThreadID, waited, ok bool) {
	t := s.Trace
	at := s.Threads[id].Start
	best, bestAt, found := tracer.ThreadID(0), int64(math.MinInt64), false
	most, mostWork, any := tracer.ThreadID(0), int64(-1), false
	for j, js := range s.Threads {
		cand := tracer.ThreadID(j)
		if cand == id || int(cand) >= len(t.Threads) || t.Threads[cand].Proc != t.Threads[id].Proc || js.Start >= at {
			continue
		}
		for _, sp := range s.ThreadStates(cand) {
			if sp.Start > at {
				break
			}
			if sp.State == tracer.StateLockWait && sp.End > at && !(int(sp.Lock()) < len(t.Locks) && t.Locks[sp.Lock()].GIL) && sp.Start > bestAt && inThreadStart(t, sp.Stack) {
				best, bestAt, found = cand, sp.Start, true
			}
		}
		if w := workBefore(s, cand, at); w > mostWork {
			most, mostWork, any = cand, w, true
		}
	}
	if found {
		return best, true, true
	}
	return most, false, any && mostWork > 0
}

// inThreadStart reports whether stack is in threading's Thread.start
// (within its four innermost frames: the wait on _started under it). A
// wait elsewhere when a thread started (a join of other threads, an idle
// pool worker's get) did not start it (review: a main thread joining its
// workers was named the starter of a thread with start_after, and its
// 1 ms of work the serial work to shorten).
func inThreadStart(t *tracer.Trace, stack tracer.StackID) bool {
	for k := 0; k < 4 && stack != tracer.NoStack && int(stack) < len(t.Stacks); k++ {
		st := t.Stacks[stack]
		if int(st.Frame) < len(t.Frames) && model.ThreadStartFrame(t.Frames[st.Frame]) {
			return true
		}
		stack = st.Parent
	}
	return false
}

// workBefore is thread id's running, I/O and native time before at, as
// the model has it (blockedBefore counts as I/O).
func workBefore(s *tracer.Spans, id tracer.ThreadID, at int64) int64 {
	n, _ := workIOBefore(s, id, at)
	return n
}

// workIOBefore is workBefore and the part of it in blocking calls.
func workIOBefore(s *tracer.Spans, id tracer.ThreadID, at int64) (work, io int64) {
	if b := min(blockedBefore(s, id), at); b > 0 {
		work, io = b, b
	}
	for _, sp := range s.ThreadStates(id) {
		if sp.Start >= at {
			break
		}
		switch sp.State {
		case tracer.StateRunning, tracer.StateIO, tracer.StateNative, tracer.StateNativeHolding:
			d := min(sp.End, at) - sp.Start
			work += d
			if sp.State == tracer.StateIO {
				io += d
			}
		}
	}
	return work, io
}

// startUpEnd is when the interpreter's start-up ended on thread id, if it
// is a main thread that started in a real CPython run: when the program's
// own code first appears in its stacks (model.ProgramCodeAt). What ran on
// it before was the interpreter initialising and importing its modules,
// not the program (QA: "the work before Thread-2 started ... after
// MainThread's 137ms of work ... shortening that serial work", for
// fixtures/python/countdown.py, where most of it was CPython's start-up,
// the model's block _path_stat). A thread that existed before the trace
// (attach) or any other thread has none, nor a main thread whose stacks
// never show the program's code (python3 -m of a library's module).
func startUpEnd(s *tracer.Spans, id tracer.ThreadID) (int64, bool) {
	t := s.Trace
	if t.Meta.Extra["source"] != "cpython" || int(id) >= len(t.Threads) || t.Threads[id].Name != "MainThread" ||
		int(id) >= len(s.Threads) || s.Threads[id].Existed {
		return 0, false
	}
	return model.ProgramCodeAt(s, id)
}

// blockedBefore is how long thread id was blocked before the trace first
// saw it: a thread of an attach that existed before it, first seen late,
// was blocked from the trace's start in a call it made before, which the
// model writes as io: {duration, kind: blocking} (QA: an attach begun
// while every thread was blocked named "MainThread's 1.88ms of work" and
// advised "shortening that serial work", where the model had MainThread
// blocked 154 ms before it started the worker). 0 for any other thread.
func blockedBefore(s *tracer.Spans, id tracer.ThreadID) int64 {
	if int(id) >= len(s.Threads) || !s.Threads[id].Existed || s.Threads[id].Start <= 0 || len(s.ThreadStates(id)) == 0 {
		return 0
	}
	return s.Threads[id].Start
}

// Replay runs a model (a workload file's text, as model.Build writes it)
// as recorded, in virtual time on cores simulated cores, and returns its
// trace.
func Replay(ctx context.Context, src []byte, cores int) (*tracer.Trace, error) {
	w, err := workload.Parse("model", src)
	if err != nil {
		return nil, err
	}
	seed := int64(1)
	return vm.Run(ctx, w, vm.Options{ClockMode: workload.ClockVirtual, Cores: max(cores, 1), Seed: &seed})
}

// withIPCCost is w with cost added at the start of the work of each
// thread group that becomes a worker process in the processes variants
// (workers): a copy, w is not changed. Each such group runs a function of
// its own that spends cost, then calls its run function, which other
// groups may share.
func withIPCCost(w *workload.Workload, cost time.Duration, workers func(workload.ThreadGroup) bool) *workload.Workload {
	if cost <= 0 {
		return w
	}
	c := *w
	c.Functions = maps.Clone(w.Functions)
	c.Threads = slices.Clone(w.Threads)
	for i, g := range c.Threads {
		if !workers(g) {
			continue
		}
		name := g.Run + ", as a process"
		for c.Functions[name] != nil {
			name += "'"
		}
		line := 0
		if f := c.Functions[g.Run]; f != nil {
			line = f.Line
		}
		c.Functions[name] = &workload.Function{Name: name, Line: line, Ops: []workload.Op{
			{Kind: workload.OpCompute, Duration: cost, Line: line},
			{Kind: workload.OpCall, Func: g.Run, Line: line},
		}}
		c.Threads[i].Run = name
	}
	return &c
}

// ipcWorker reports whether thread group g of the model of trace t becomes
// a worker process in the processes variants, and pays --ipc-cost: its
// work moves to a process of its own. In a real CPython program of one
// process, every thread but the main thread (MainThread), which starts
// and joins the others and stays the program's process (QA:
// fixtures/traces/python-countdown.giltrace with --ipc-cost 100ms went
// from 372 to 569 ms as processes on 2 cores, where its two workers in
// parallel take 472: the main thread paid the cost before it started
// them, and they paid it again). In one of several processes (a pool), no
// thread: its workers were processes already, and what they paid is in
// the trace; the parent's other threads are the pool's own, and stay in
// it. A run of the VM has no main thread, and its processes paid nothing:
// every thread is a worker.
func ipcWorker(t *tracer.Trace, g workload.ThreadGroup) bool {
	if t.Meta.Extra["source"] != "cpython" {
		return true
	}
	return len(t.Procs) <= 1 && g.Name != "MainThread"
}

// addNear adds to near (comma-separated codes) the verdicts of r not given
// whose measure came near their threshold.
func addNear(near string, r *diagnosis.Report) string {
	codes := strings.Split(near, ",")
	if near == "" {
		codes = nil
	}
	for _, b := range r.NearBoundary {
		if !b.Fired && !slices.Contains(codes, b.Code) {
			codes = append(codes, b.Code)
		}
	}
	return strings.Join(codes, ",")
}

// asRecorded is the row the best option is chosen against: the model as
// recorded, on the cores the best is chosen on.
func (p *Prediction) asRecorded() PredictionRow {
	if p.recordedOnTarget.Cores > 0 {
		return p.recordedOnTarget
	}
	return p.Replay
}

// choose picks the best option on the recorded machine (or on the fewer
// cores asked for: the as-recorded row's) and what limits it, and writes
// the notes. Only rows run on those cores compete.
func (p *Prediction) choose(o WhatIfOptions, crit critical) {
	// A change is named only if it beats by more than 2 % the run as
	// recorded, at this seed and at its best over the seeds of
	// SeedSpread (the model's own noise); after it, a row 2 % better
	// than the best so far.
	asRec := p.asRecorded()
	pick := func(shortest int64) PredictionRow {
		best := asRec
		for _, r := range p.Rows {
			if r.Cores != best.Cores {
				continue
			}
			if best == asRec && r.Speedup > best.Speedup*1.02 && (shortest <= 0 || float64(r.WallNS)*1.02 < float64(shortest)) ||
				best != asRec && r.Speedup > best.Speedup*1.02 {
				best = r
			}
		}
		return best
	}
	best := pick(p.spreadShortest)
	if b := pick(0); best == asRec && b != asRec {
		p.withinSpread = b // best but for the spread: the text names it
	}
	p.Best = best
	if asRecorded := p.asRecorded(); best != asRecorded && asRecorded.WallNS > 0 {
		p.BestWallChange = round3(float64(best.WallNS-asRecorded.WallNS) / float64(asRecorded.WallNS))
	}
	// Does the best option still gain from more cores? The fewest cores
	// that give (within 2 %) what the most give: QA, "on 8 cores
	// processes would run 1.89x" where the table showed 1.89x on 4.
	moreOf := func(mode string) (most, more PredictionRow) {
		for _, r := range p.Rows {
			if r.Mode == mode && r.SwitchInterval == 0 && r.Cores > most.Cores {
				most = r
			}
		}
		more = most
		for _, r := range p.Rows {
			if r.Mode == mode && r.SwitchInterval == 0 && r.Cores > best.Cores && r.Cores < more.Cores && r.Speedup >= 0.98*most.Speedup {
				more = r
			}
		}
		return most, more
	}
	gains := func(most, more PredictionRow) bool {
		return more.Cores > best.Cores && most.Speedup > best.Speedup*1.1
	}
	most, more := moreOf(best.Mode)
	if !gains(most, more) {
		// Another option may gain from more cores where the best does
		// not (QA: recorded on 1 core, "more cores would not help" above
		// a table of processes 2 at 1.99x): the one that gains most.
		for _, mode := range []string{Threads, Processes, FreeThreaded} {
			if mo, mr := moreOf(mode); mode != best.Mode && gains(mo, mr) && (!gains(most, more) || mo.Speedup > most.Speedup) {
				most, more = mo, mr
			}
		}
	}
	var anyMore bool // a row on more cores: whether they help is known
	for _, r := range p.Rows {
		anyMore = anyMore || r.Cores > best.Cores
	}
	// The longest thread's own work ends about when the best option does:
	// it is the limit, for one of the reasons below.
	longest := crit.endNS > 0 && float64(best.WallNS) <= 1.1*float64(crit.endNS)
	switch {
	case strings.Contains(best.Verdicts, diagnosis.LockBound):
		p.Limit = "a lock: the threads wait for a lock that one of them holds, whatever runs them"
	case best.Mode == Threads && strings.Contains(best.Verdicts, diagnosis.GILBound) && p.gains(FreeThreaded, best):
		p.Limit = "the GIL: the threads' Python work runs one thread at a time"
	case strings.Contains(best.Near, diagnosis.LockBound):
		p.Limit = "a lock, near the lock-bound verdict's boundary: the threads wait for a lock that one of them holds, whatever runs them"
	case p.runLock != "":
		// The run is lock-bound (or near it) where its replay is not: QA,
		// a program traced without --lock-holds whose report said
		// lock-bound, 47 % of the threads' time blocked on one lock, was
		// said to be limited by "the work itself: no lock and no GIL is
		// to blame" (docs/what-if.md: a lock also when the run is).
		p.Limit = "a lock: the run is " + p.runLock + ": the threads wait for a lock that one of them holds, whatever runs them"
		if p.unseenHolds {
			p.Limit += "; traced without --lock-holds, the model knows its critical sections only from the waits for it"
			if p.holdsRecordable {
				p.Limit += ": record with --lock-holds to predict what shortening them would change"
			}
		}
	case gains(most, more):
		p.Limit = fmt.Sprintf("the cores: on %s %s would run %s (%s)", textfmt.Plural(more.Cores, "core"), more.Mode, textfmt.X(more.Speedup), "predicted")
		if p.keptWaits && more.Cores > p.RecordedCores {
			// A figure that such a wait holds back is a floor.
			p.Limit += ", or faster: a wait between its processes keeps its recorded length (the note below)"
		}
	case longest && crit.lateStart():
		p.Limit = crit.lateStartLimit()
	case longest && crit.importNS*2 >= crit.workNS && crit.workNS > 0:
		p.Limit = fmt.Sprintf("the interpreter's start-up and imports: %s; %s of %s's work is starting the interpreter and importing modules, which splitting its work across more workers would not shorten: import less, or later (python3 -X importtime lists what it imports)",
			crit.needs(), textfmt.Dur(crit.importNS), crit.name)
	case longest && p.machine != nil && p.machine.CoresFull && best.Cores == p.RecordedCores:
		// The run's processes kept the cores full with work the trace
		// does not see (a BLAS pool, children): splitting the longest
		// thread's work would not help here (QA: numpy.dot on OpenBLAS's
		// 2 threads from one thread, "splitting its work across more
		// workers would help": 2 threads ran no faster).
		m := p.machine
		p.Limit = fmt.Sprintf("the cores: the run's processes obtained %s of CPU time in its %s wall (%s of what the %s could give), %s of it outside the traced threads (child processes, a native library's own threads), which the model does not know; %s, but splitting its work would not help on %s",
			textfmt.Dur(m.CPUNS), textfmt.Dur(p.MeasuredWallNS), textfmt.Pct0(m.CoresUsed), textfmt.Plural(m.Cores, "core"), textfmt.Dur(m.OutsideCPUNS), crit.needs(), textfmt.Plural(best.Cores, "core"))
	case longest && crit.sleepShare >= 0.5:
		// QA: a polling loop pacing itself with time.sleep was told that
		// its "I/O split across more threads" would help.
		p.Limit = fmt.Sprintf("its sleeps: %s, mostly in time.sleep (%s of its work): the program waits on purpose, and shorter or fewer sleeps would shorten it; more threads would not",
			crit.needs(), textfmt.Pct0(crit.sleepShare))
	case longest && crit.timeoutShare >= 0.5:
		// QA: a main thread whose Event.wait(0.3) ran out, given up, was
		// told that faster I/O would help.
		p.Limit = fmt.Sprintf("its timed waits: %s, mostly waits for a lock, an event or a queue that ran out (%s of its work): a shorter timeout, or what it waits for sooner, would shorten it; faster I/O or more threads would not",
			crit.needs(), textfmt.Pct0(crit.timeoutShare))
	case longest && crit.ioShare >= 0.5 && crit.id >= 0 && p.ownIO.ThreadWaitsOnItself(tracer.ThreadID(crit.id)):
		// QA: a pipe ping-pong, warned of, was told that faster I/O or
		// its I/O split across more threads would help.
		p.Limit = fmt.Sprintf("its own threads: %s, mostly blocking calls (%s of its work), which wait on pipes or connections whose other end is the program's (the warning above): faster I/O, more threads or processes would not help; fewer round trips between its threads would",
			crit.needs(), textfmt.Pct0(crit.ioShare))
	case longest && crit.ioShare >= 0.5:
		p.Limit = fmt.Sprintf("I/O latency: %s, mostly blocking calls (%s of its work); faster I/O, or its I/O split across more threads, would help",
			crit.needs(), textfmt.Pct0(crit.ioShare))
	case longest && crit.coresFull(best.Cores):
		// The longest thread ends about when the cores have done all the
		// CPU work: splitting it would not make that work end sooner here.
		work, needs := fmt.Sprintf("the threads' CPU work (%s)", textfmt.Dur(crit.cpuNS)), textfmt.Dur(crit.endNS)
		if crit.startNS > 0 {
			work = fmt.Sprintf("the threads' CPU work from %s's start at %s on (%s)", crit.name, textfmt.Dur(crit.startNS), textfmt.Dur(crit.cpuFromStartNS))
			needs = textfmt.Dur(crit.endNS - crit.startNS)
		}
		more := "splitting it across more workers on more cores would"
		switch {
		case p.keptWaits:
			// QA: a pool of 2 CPU-bound workers recorded on 1 core was
			// told that its rows on more cores "predict no more than 10 %
			// gain", beside the note that says why they cannot show it.
			more = "and the rows on more cores may not say what more cores would give: a wait between its processes keeps its recorded length (the note below); record it on the cores you ask about"
		case !slices.ContainsFunc(p.Rows, func(r PredictionRow) bool { return r.Cores > best.Cores && r.Speedup > 1.1*best.Speedup }):
			// QA: said beside a table flat on 2 to 8 cores (a parent's
			// recorded waits for its children held every row).
			more = "and the rows on more cores predict no more than 10 % gain"
		}
		p.Limit = fmt.Sprintf("the cores: %s keeps the %s busy about as long as %s alone needs (%s); splitting its work would not help on %s, %s",
			work, textfmt.Plural(best.Cores, "core"), crit.name, needs, textfmt.Plural(best.Cores, "core"), more)
	case longest && crit.holdShare >= 0.5:
		// QA: a thread 95 % in a C extension that keeps the GIL was told
		// that more workers would help: as threads, they would take turns.
		p.Limit = fmt.Sprintf("the longest thread: %s, mostly native calls that keep the GIL (%s of its work): split across threads they would take turns on it; across processes, or with calls that release the GIL, they would overlap",
			crit.needs(), textfmt.Pct0(crit.holdShare))
	case longest:
		p.Limit = fmt.Sprintf("the longest thread: %s; splitting its work across more workers would help", crit.needs())
	case anyMore && p.keptWaits:
		// Not "more cores would not help" beside the note that says
		// their rows may not show it.
		p.Limit = fmt.Sprintf("the work itself: no option on %s does better, and the rows on more cores may not say what more cores would give: a wait between its processes keeps its recorded length (the note below); record it on the cores you ask about", textfmt.Plural(best.Cores, "core"))
	case anyMore:
		p.Limit = fmt.Sprintf("the work itself: no option on %s does better, and more cores would not help", textfmt.Plural(best.Cores, "core"))
	default:
		// No row on more cores: whether they would help is not known (QA:
		// --cores 1 said more cores would not help, where 2 ran 1.43x).
		p.Limit = fmt.Sprintf("the work itself: no option on %s does better; more cores were not simulated (--cores)", textfmt.Plural(best.Cores, "core"))
	}
	p.Notes = append(p.Notes,
		"Predicted by replaying a model of the run (giltrace model) in virtual time; docs/what-if.md says how and how accurate it is.",
		"Processes are modelled as threads without a shared GIL: each worker's Python work runs in parallel.")
	if o.IPCCost <= 0 {
		p.Notes = append(p.Notes, "The processes figures include no inter-process cost (spawning, pickling tasks and results): set one with --ipc-cost.")
	} else {
		switch {
		case p.ipcWorkers > 0:
			stays := ""
			if len(p.ipcStays) > 0 {
				stays = fmt.Sprintf(", not to %s, which stays the program's process", strings.Join(p.ipcStays, ", "))
			}
			p.Notes = append(p.Notes, fmt.Sprintf("The processes figures include %v of inter-process cost per worker (--ipc-cost): at the start of each thread that becomes a process (%d of the model's %s)%s.",
				o.IPCCost, p.ipcWorkers, textfmt.Plural(p.ipcThreads, "thread"), stays))
		case p.recordedProcs > 1:
			p.Notes = append(p.Notes, fmt.Sprintf("--ipc-cost %v is charged to no thread: it is the cost of a thread becoming a process, and this run's workers were processes already (what they paid is in the trace).", o.IPCCost))
		default:
			p.Notes = append(p.Notes, fmt.Sprintf("--ipc-cost %v is charged to no thread: it is the cost of a thread becoming a process, and the program's only thread, %s, stays the program's process.", o.IPCCost, strings.Join(p.ipcStays, ", ")))
		}
	}
	if m := p.machine; m != nil && m.OutsideCPUNS > 0 {
		p.Notes = append(p.Notes, fmt.Sprintf("The model knows only the traced threads' work: the run's processes also used %s of CPU time outside them (child processes, a native library's own threads), which it replays as waits that take no core: its figures over-count, the more so on fewer cores.", textfmt.Dur(m.OutsideCPUNS)))
	}
	p.Notes = append(p.Notes, "Free-threaded figures assume the program's C extensions behave the same without a GIL, and no single-thread slowdown of the free-threaded build.")
}

// modeAs names a mode's estimate as the report does.
var modeAs = map[string]string{Processes: "as processes", FreeThreaded: "without a GIL"}

// estimateWhy says why mode's prediction differs from the report's
// estimate e, by which is higher.
func (p *Prediction) estimateWhy(mode string, predicted, e float64) string {
	if predicted < e {
		why := "the estimate is a bound (the work over the cores, each thread from its earliest start, a lock's sections in their best order), without the GIL handoffs, the waits for a core and the lock's actual order that the prediction replays"
		if mode == Processes && p.ipcCost > 0 {
			// QA: a gap made of the user's own --ipc-cost was put down to
			// handoffs and waits only.
			why += fmt.Sprintf(", and without the %v of --ipc-cost that each of the prediction's %s pays", p.ipcCost, textfmt.Plural(p.ipcWorkers, "worker"))
		}
		return why
	}
	return "the estimate is arithmetic on the run's flow (the work over the cores, each thread from its earliest start, the longest chain of work); the prediction replays the threads' order and overlaps them better"
}

// gains reports whether mode, on best's cores, is predicted more than 10 %
// faster than best (true when no row says): the GIL limits threads only
// if running them without it helps (QA: "limited by the GIL" beside a
// free-threaded row 1 % faster). A row that much faster is the best
// itself, so with free-threaded rows the GIL is named only when it is.
func (p *Prediction) gains(mode string, best PredictionRow) bool {
	for _, r := range p.Rows {
		if r.Mode == mode && r.Cores == best.Cores && r.SwitchInterval == 0 {
			return r.Speedup > 1.1*best.Speedup
		}
	}
	return true
}

// RowSeeds is how many seeds each threads row is run with (the run's and
// the next ones): the row shows the run of the median wall, and
// SeedWallsNS lists them all.
const RowSeeds = 3

// medianRow is the run of runs whose wall is the median (the lower
// middle one of an even count; the first run, the run's own seed, among
// equal walls).
func medianRow(runs []PredictionRow) PredictionRow {
	idx := make([]int, len(runs))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(runs[a].WallNS, runs[b].WallNS) })
	median := runs[idx[(len(idx)-1)/2]].WallNS
	for _, r := range runs {
		if r.WallNS == median {
			return r
		}
	}
	return runs[0]
}

// SpreadSeeds is how many seeds the model as recorded is replayed with
// to measure SeedSpread: the run's seed and the next ones.
const SpreadSeeds = 5

// SmallGain is the least cut of the wall time, against the run as
// recorded, that the best option's line states without calling it a small
// gain to weigh against the cost of the change.
const SmallGain = 0.05

// ReplayTolerance is the largest relative difference between the replayed
// and the measured wall that the model is held to on the committed traces
// (docs/what-if.md, "Accuracy"); beyond it the prediction says so.
const ReplayTolerance = 0.10

// WriteText writes the prediction for people: the best option first, then
// the table.
func (p *Prediction) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "What would help (predicted from a model of the run, in virtual time)\n")
	fmt.Fprintf(&b, "  achieved, from the trace's overlap: %s (the same work on one thread: %s, wall %s, %s)\n",
		textfmt.X(p.Measured), textfmt.Dur(p.SerialNS), textfmt.Dur(p.MeasuredWallNS), textfmt.Plural(p.RecordedCores, "core"))
	fmt.Fprintf(&b, "  replayed as recorded: %s, wall %s (%+.1f %% of the recorded wall)\n",
		textfmt.X(p.Replay.Speedup), textfmt.Dur(p.Replay.WallNS), 100*p.ReplayError)
	if p.Partial != "" {
		fmt.Fprintf(&b, "  warning: the trace is partial (%s): the model holds the run only as far as the trace goes, and every prediction below is of that part, not of the whole program\n", p.Partial)
	}
	if len(p.Distorted) > 0 {
		fmt.Fprintf(&b, "  warning: the run was distorted by %s (the warnings above): the model replays what the trace shows, so every prediction below carries it; time the program itself before acting on them\n",
			textfmt.And(p.Distorted))
	}
	if p.ReplayOff {
		fmt.Fprintf(&b, "  warning: the replay misses the measured run by %.1f %%, more than the %.0f %% the model is held to (docs/what-if.md): "+
			"the predictions below carry at least that error; a run recorded on a quieter machine, or for longer, may model better\n",
			100*math.Abs(p.ReplayError), 100*ReplayTolerance)
	}
	best, effect := p.describe(p.Best), ""
	// On fewer cores than recorded (--cores), "as recorded" is the run as
	// recorded but on those cores (QA: "processes, as recorded" two lines
	// under a replay of the recording at 1.41x).
	asWhat := "as recorded"
	if p.recordedOnTarget.Cores > 0 {
		asWhat = "as recorded but on " + textfmt.Plural(p.recordedOnTarget.Cores, "core")
	}
	if asRecorded := p.asRecorded(); p.Best == asRecorded {
		best = p.Best.Mode + ", " + asWhat
	} else if asRecorded.WallNS > 0 {
		// The change's effect against the model as recorded, like for
		// like: a best predicted at 0.97x beside a measured 1.00x (the
		// replay 0.95x) read as a change that makes the run slower.
		small := ""
		if -p.BestWallChange < SmallGain {
			// QA: a multiprocessing pool told to make its handler threads
			// processes too, for 3 %: within what the model's own error
			// (ReplayTolerance) could make of it.
			small = ", a small gain: weigh it against the cost of the change"
		}
		effect = fmt.Sprintf(" against %s %s (%.0f %% less wall time%s)", textfmt.X(asRecorded.Speedup), asWhat, -100*p.BestWallChange, small)
	}
	fmt.Fprintf(&b, "  best on %s: %s, predicted %s%s; limited by %s\n", textfmt.Plural(p.Best.Cores, "core"), best, textfmt.X(p.Best.Speedup), effect, p.Limit)
	if p.SeedSpread > 0.02 {
		// The model's own noise: what a change must beat to be named.
		held := ""
		if r, asRec := p.withinSpread, p.asRecorded(); r.Cores > 0 && asRec.WallNS > 0 {
			held = fmt.Sprintf("; %s (wall %s, %.0f %% less at seed %d) is within that", p.describe(r), textfmt.Dur(r.WallNS), 100*float64(asRec.WallNS-r.WallNS)/float64(asRec.WallNS), p.spreadSeeds[0])
		}
		fmt.Fprintf(&b, "  the model's random choices (the waiter a release wakes, drawn durations) move the run as recorded by up to %.0f %% from seed to seed (seeds %d-%d, wall %s at the shortest): a change is named best only if it beats that%s\n",
			100*p.SeedSpread, p.spreadSeeds[0], p.spreadSeeds[1], textfmt.Dur(p.spreadShortest), held)
	}
	if e := p.Estimated; e > 0 && math.Abs(p.Best.Speedup-e) > 0.05*e {
		fmt.Fprintf(&b, "  estimated %s %s in the report, predicted %s here: %s (docs/what-if.md)\n",
			textfmt.X(e), modeAs[p.Best.Mode], textfmt.X(p.Best.Speedup), p.estimateWhy(p.Best.Mode, p.Best.Speedup, e))
	}
	// The verdict's estimates for the other modes, where the table says
	// otherwise: a lock queue makes processes 0.94x here, estimated 1.24x.
	for _, m := range []string{Processes, FreeThreaded} {
		e := p.EstimatedAs[m]
		if e <= 0 || p.Estimated > 0 && m == p.Best.Mode {
			continue
		}
		for _, r := range p.Rows {
			if r.Mode == m && r.Cores == p.EstimatedCores && r.SwitchInterval == 0 && math.Abs(r.Speedup-e) > 0.05*e {
				fmt.Fprintf(&b, "  estimated %s %s in the report, predicted %s here: %s (docs/what-if.md)\n",
					textfmt.X(e), modeAs[m], textfmt.X(r.Speedup), p.estimateWhy(m, r.Speedup, e))
			}
		}
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "\n  mode\tcores\tswitch interval\twall\tspeedup\tverdicts\n")
	for _, r := range p.Rows {
		si := "-"
		if r.ranInterval > 0 {
			si = time.Duration(r.ranInterval).String()
		}
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\t%s\n", r.Mode, r.Cores, si, textfmt.Dur(r.WallNS), textfmt.X(r.Speedup), r.Verdicts)
	}
	tw.Flush()
	b.WriteString("\n")
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (p *Prediction) describe(r PredictionRow) string {
	switch {
	case r.Mode == Threads:
		s := "threads"
		if r.SwitchInterval > 0 {
			s = fmt.Sprintf("threads with a %v switch interval", time.Duration(r.SwitchInterval))
		}
		switch {
		case p.recordedProcs > 1:
			// A run of several processes as threads is no run as
			// recorded (QA: "best on 1 core: threads, as recorded" for a
			// run of 3 processes).
			return s + " (every process's threads in one process, under one GIL)"
		case r.SwitchInterval > 0:
			return s
		}
		return "threads, as recorded"
	case r.Mode == Processes:
		return "processes (multiprocessing, one per thread)"
	}
	return "free-threaded (python3.13t)"
}

// WriteJSON writes the prediction as indented JSON.
func (p *Prediction) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(p)
}

// Chart is the predicted speedup against cores, a series per mode, with the
// measured speedup as a point on the recorded machine.
func (p *Prediction) Chart() *chart.Chart {
	ch := &chart.Chart{
		Title:  fmt.Sprintf("%s: predicted speedup (virtual time), achieved %s on %s", p.Workload, textfmt.X(p.Measured), textfmt.Plural(p.RecordedCores, "core")),
		XLabel: "cores (simulated)",
		YLabel: "speedup",
		Cores:  p.RecordedCores,
		Ideal:  "x cores", // QA: "x threads" against cores
	}
	for _, m := range AllModes {
		s := chart.Series{Name: m, Color: modeColors[m], Dash: dashes[modeDashes[m]], Square: m == Processes}
		for _, r := range p.Rows {
			if r.Mode == m && r.SwitchInterval == 0 {
				s.Points = append(s.Points, [2]float64{float64(r.Cores), r.Speedup})
			}
		}
		ch.Series = append(ch.Series, s)
	}
	ch.Series = append(ch.Series, chart.Series{Name: "recorded run", Color: colMeasured, Square: true,
		Points: [][2]float64{{float64(p.RecordedCores), p.Measured}}})
	return ch
}

// Files are the prediction's files: the model (model.yaml), the
// prediction (whatif.json) and its chart (whatif.svg, whatif.png). The CLI
// writes each atomically, as it does compare's charts.
func (p *Prediction) Files() []File {
	return []File{
		{PredictionFiles[0], func(w io.Writer) error { _, err := w.Write(p.Model); return err }},
		{PredictionFiles[1], p.WriteJSON},
		{PredictionFiles[2], p.Chart().WriteSVG},
		{PredictionFiles[3], p.Chart().WritePNG},
	}
}

// PredictionFiles are the names of a prediction's Files, in their order:
// what a command writing them checks for before it predicts.
var PredictionFiles = []string{"model.yaml", "whatif.json", "whatif.svg", "whatif.png"}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// colMeasured is the measured point of the what-if chart.
var colMeasured = color.RGBA{0x22, 0x22, 0x22, 0xff}

// distorted names what distorted the run of report r (its warnings), for
// Prediction.Distorted.
func distorted(r *diagnosis.Report) []string {
	var d []string
	if m := r.Machine; m != nil && m.Busy {
		d = append(d, fmt.Sprintf("a busy machine (%s of the CPU time it wanted)", textfmt.Pct0(m.Share)))
	}
	if c := r.TracingCost; c != nil && c.High {
		d = append(d, fmt.Sprintf("the tracing cost (at least %s of the wall)", textfmt.Pct0(c.Share)))
	}
	if m := r.Machine; m != nil && m.OutsideCPUNS > 0 {
		d = append(d, "CPU time outside the traced threads")
	}
	if o := r.OwnIO; o != nil && o.High {
		d = append(d, "I/O waiting on its own threads")
	}
	if c := r.CoreIO; c != nil && c.High {
		d = append(d, "I/O that was CPU or a wait for a core")
	}
	return d
}
