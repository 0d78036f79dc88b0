package compare

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/giltrace/giltrace/diagnosis"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm"
	"github.com/giltrace/giltrace/vm/workload"
)

func fixtureSpans(t *testing.T, name string) *tracer.Spans {
	t.Helper()
	tr, err := tracer.ReadFile(filepath.Join(testkit.FixtureDir(), name+".giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	return tracer.Derive(tr)
}

// TestWhatIfCountdown predicts the recorded countdown (two CPU-bound
// threads on 2 cores): the replay's wall is within 10 % of the measured
// one, threads stay near 1x at every core count, processes and
// free-threading reach about 2x on 2 cores and no more on 8 (two threads of
// work), the best option is not threads and the GIL is not its limit; the
// same trace gives the same prediction, byte for byte.
func TestWhatIfCountdown(t *testing.T) {
	s := fixtureSpans(t, "countdown")
	p, err := WhatIf(context.Background(), s, WhatIfOptions{Source: "countdown.giltrace"})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(p.ReplayError) > 0.10 {
		t.Errorf("replayed wall %d ns, measured %d ns: %.1f %% off", p.Replay.WallNS, p.MeasuredWallNS, 100*p.ReplayError)
	}
	for _, r := range p.Rows {
		switch {
		case r.Mode == Threads && (r.Speedup < 0.8 || r.Speedup > 1.2):
			t.Errorf("threads on %d cores: %.2fx, want about 1x", r.Cores, r.Speedup)
		case r.Mode != Threads && r.Cores >= 2 && (r.Speedup < 1.7 || r.Speedup > 2.2):
			t.Errorf("%s on %d cores: %.2fx, want about 2x (two threads of work)", r.Mode, r.Cores, r.Speedup)
		case r.Mode != Threads && r.Cores == 1 && r.Speedup > 1.2:
			t.Errorf("%s on 1 core: %.2fx, want about 1x", r.Mode, r.Speedup)
		}
	}
	if p.Best.Mode == Threads || p.Best.Cores != p.RecordedCores {
		t.Errorf("best %+v, want processes or free-threaded on the recorded %d cores", p.Best, p.RecordedCores)
	}
	var a, b bytes.Buffer
	if err := p.WriteJSON(&a); err != nil {
		t.Fatal(err)
	}
	q, err := WhatIf(context.Background(), fixtureSpans(t, "countdown"), WhatIfOptions{Source: "countdown.giltrace"})
	if err != nil {
		t.Fatal(err)
	}
	q.WriteJSON(&b)
	if !bytes.Equal(a.Bytes(), b.Bytes()) || !bytes.Equal(p.Model, q.Model) {
		t.Error("two predictions of one trace differ")
	}
}

// TestWhatIfIPCCost: an inter-process cost slows the processes figures and
// only them.
func TestWhatIfIPCCost(t *testing.T) {
	s := fixtureSpans(t, "countdown")
	free, err := WhatIf(context.Background(), s, WhatIfOptions{})
	if err != nil {
		t.Fatal(err)
	}
	costly, err := WhatIf(context.Background(), s, WhatIfOptions{IPCCost: 100e6})
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range costly.Rows {
		f := free.Rows[i]
		switch {
		case r.Mode == Processes && r.WallNS < f.WallNS+90e6:
			t.Errorf("processes on %d cores: %d ns with 100 ms of IPC cost, %d ns without", r.Cores, r.WallNS, f.WallNS)
		case r.Mode != Processes && r.WallNS != f.WallNS:
			t.Errorf("%s on %d cores changed with an IPC cost", r.Mode, r.Cores)
		}
	}
}

// TestWhatIfConvoy: the convoy's CPU-bound thread is the longest thread;
// no option beats it on its own.
func TestWhatIfConvoy(t *testing.T) {
	p, err := WhatIf(context.Background(), fixtureSpans(t, "convoy"), WhatIfOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(p.ReplayError) > 0.10 {
		t.Errorf("replay %.1f %% off the measured wall", 100*p.ReplayError)
	}
	if p.Limit == "" {
		t.Error("no limit")
	}
}

// replayTolerance is issue 12's replay target: the replayed wall within
// 10 % of the measured one, and each thread's share of its wall in
// running, GIL wait, I/O and lock wait within 10 points of the measured
// share.
const replayTolerance = 0.10

// TestReplayRealTraces replays the model of every recorded real CPython
// fixture (fixtures/traces/python-*.giltrace, recorded with lock holds) as
// recorded, in virtual time, and checks it against the run: the wall time,
// and each thread's split of its wall into running, GIL wait, I/O and lock
// wait. Joiners (the main thread joining its workers) are checked like
// the others: the model's join waits until the joined thread has ended,
// started or not. One check is left out and one joiner checked in part,
// with their reasons (docs/what-if.md):
//   - c_extension_holding_gil's main thread: its GIL wait and lock wait
//     are checked as one figure (startRace).
//   - none: multiprocessing_pool's threads are each replayed in the process
//     they ran in (process: K), paired by process and name (every process
//     has a MainThread).
func TestReplayRealTraces(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join(testkit.FixtureDir(), "python-*.giltrace"))
	if len(paths) == 0 {
		t.Fatal("no recorded real CPython traces in fixtures/traces (scripts/record-python-traces.sh)")
	}
	for _, path := range paths {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			tr, err := tracer.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			s := tracer.Derive(tr)
			p, err := WhatIf(context.Background(), s, WhatIfOptions{Source: name, Cores: 1})
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(p.ReplayError) > replayTolerance {
				t.Errorf("replayed wall %v, measured %v: %+.1f %%", p.Replay.WallNS, p.MeasuredWallNS, 100*p.ReplayError)
			}
			t.Logf("wall: measured %.1f ms, replayed %.1f ms: %+.1f %%", float64(p.MeasuredWallNS)/1e6, float64(p.Replay.WallNS)/1e6, 100*p.ReplayError)
			replay, err := Replay(context.Background(), p.Model, tr.Meta.Cores)
			if err != nil {
				t.Fatal(err)
			}
			rs := tracer.Derive(replay)
			type key struct {
				proc tracer.ProcID
				name string
			}
			byName := map[key]tracer.ThreadID{}
			for id, th := range replay.Threads {
				byName[key{th.Proc, th.Name}] = tracer.ThreadID(id)
			}
			if len(replay.Procs) != len(tr.Procs) {
				t.Fatalf("replayed %d processes, the run had %d", len(replay.Procs), len(tr.Procs))
			}
			joins := joinWaits(s)
			for id, th := range tr.Threads {
				want := s.ThreadTotals(tracer.ThreadID(id))
				rid, ok := byName[key{th.Proc, th.Name}]
				if !ok {
					continue // a thread that did nothing the model keeps
				}
				got := rs.ThreadTotals(rid)
				if len(tr.Procs) > 1 {
					t.Logf("%s of %s: run %s; replay %s", th.Name, tr.Procs[th.Proc].Name, split(want), split(got))
				} else if float64(joins[tracer.ThreadID(id)]) > 0.1*float64(want.Sum()) {
					t.Logf("joiner %s: run %s; replay %s", th.Name, split(want), split(got))
				}
				states := []tracer.State{tracer.StateRunning, tracer.StateGILWait, tracer.StateIO, tracer.StateLockWait}
				for _, st := range states {
					ws := float64(want[st]) / float64(max(want.Sum(), 1))
					gs := float64(got[st]) / float64(max(got.Sum(), 1))
					if math.Abs(ws-gs) > replayTolerance {
						t.Errorf("%s: %s %.1f %% of its wall in the replay, %.1f %% in the run", th.Name, st, 100*gs, 100*ws)
					}
				}
			}
		})
	}
}

// split formats a thread's wall, and its shares in running, GIL wait, I/O
// and lock wait.
func split(tt tracer.Totals) string {
	sum := float64(max(tt.Sum(), 1))
	return fmt.Sprintf("%.1f ms: running %.1f %%, GIL wait %.1f %%, I/O %.1f %%, lock wait %.1f %%", sum/1e6,
		100*float64(tt[tracer.StateRunning])/sum, 100*float64(tt[tracer.StateGILWait])/sum, 100*float64(tt[tracer.StateIO])/sum, 100*float64(tt[tracer.StateLockWait])/sum)
}

// joinWaits is, per thread, its time waiting for guest locks that are not
// mutexes (diagnosis: not shared): another thread's end, an event.
func joinWaits(s *tracer.Spans) map[tracer.ThreadID]int64 {
	shared := map[string]bool{}
	for _, l := range diagnosis.Analyze(s).Locks {
		shared[l.Name] = l.Shared
	}
	out := map[tracer.ThreadID]int64{}
	for _, w := range s.Waits {
		if l := s.Trace.Locks[w.Lock]; !l.GIL && !shared[l.Name] {
			out[w.Thread] += w.End - w.Start
		}
	}
	return out
}

// TestWhatIfInferredHoldsNote: a real run recorded without its lock holds,
// in which threads waited for a lock, says that its model may not
// serialise what the program did; one recorded with them does not.
func TestWhatIfInferredHoldsNote(t *testing.T) {
	note := func(s *tracer.Spans) bool {
		p, err := WhatIf(context.Background(), s, WhatIfOptions{Cores: 1, Intervals: []time.Duration{}})
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range p.Notes {
			if strings.Contains(n, "--lock-holds") {
				return true
			}
		}
		return false
	}
	s := fixtureSpans(t, "python-lock-contention")
	if note(s) {
		t.Error("a run recorded with lock holds got the note")
	}
	delete(s.Trace.Meta.Extra, "lock_holds")
	if !note(s) {
		t.Error("a run recorded without lock holds got no note")
	}
}

// TestWhatIfMultiprocessing: the recorded pool (a parent and two workers
// of about 350 ms of Python each, in processes) replays as recorded, as
// processes; its variants run its threads in one program, so as threads
// (one GIL) the workers' Python is serialised and the pool is slower than
// it was, while without a GIL it is as fast as recorded on 2 cores. The
// best option is the recorded one.
func TestWhatIfMultiprocessing(t *testing.T) {
	p, err := WhatIf(context.Background(), fixtureSpans(t, "python-multiprocessing-pool"), WhatIfOptions{Source: "python-multiprocessing-pool.giltrace", Cores: 2})
	if err != nil {
		t.Fatal(err)
	}
	if p.Replay.Mode != Processes || math.Abs(p.ReplayError) > replayTolerance {
		t.Errorf("replay %+v (%+.1f %%), want processes within 10 %%", p.Replay, 100*p.ReplayError)
	}
	for _, r := range p.Rows {
		if r.Cores != 2 || r.SwitchInterval != 0 {
			continue
		}
		switch r.Mode {
		case Threads:
			// 2 x 350 ms of Python under one GIL: at least 700 ms, against 559.
			if r.WallNS < 680e6 || r.Speedup > 0.85*p.Replay.Speedup {
				t.Errorf("as threads on 2 cores: wall %.0f ms, %.2fx; want the workers' Python serialised (>= 680 ms), slower than the recorded %.2fx", float64(r.WallNS)/1e6, r.Speedup, p.Replay.Speedup)
			}
		case FreeThreaded, Processes:
			if math.Abs(r.Speedup-p.Replay.Speedup) > 0.05*p.Replay.Speedup {
				t.Errorf("%s on 2 cores: %.2fx, want the recorded %.2fx", r.Mode, r.Speedup, p.Replay.Speedup)
			}
		}
	}
	if p.Best.Mode != Processes {
		t.Errorf("best %+v, want the recorded processes", p.Best)
	}
}

// lateWorkerSpans: MainThread runs 200ms of serial Python, then starts a
// worker (Thread.start: a wait on the worker's _started lock) and joins
// it; the worker's own work is a 50ms GIL-releasing native call. The
// longest path, 250ms, is mostly the worker's start.
func lateWorkerSpans() *tracer.Spans {
	const ms = int64(1_000_000)
	b := testkit.New("late-worker")
	p := b.Process("python", 1)
	gil := tracer.LockID(0)
	started := b.Lock(p, "lock 0x10")
	join := b.Lock(p, "lock 0x20 (Thread.join)")
	f := b.Func("setup", 3)
	g := b.Func("h", 9)
	m := b.Thread(p, "MainThread")
	w := b.Thread(p, "ThreadPoolExecutor-0_0")
	m.Start(0).Acquire(10, gil, tracer.AcquireUncontended).Call(20, f).Return(200*ms).
		Wait(200*ms+10, started).Release(200*ms+20, gil, tracer.ReleaseLockWait)
	w.Start(200*ms+30).Acquire(200*ms+40, gil, tracer.AcquireUncontended).Release(200*ms+50, started, tracer.ReleaseUnlock)
	m.Acquire(200*ms+60, started, tracer.AcquireAfterWait).Wait(200*ms+70, gil)
	w.Call(200*ms+80, g).NativeBegin(200*ms+90, true).Release(200*ms+100, gil, tracer.ReleaseNative)
	m.Acquire(200*ms+110, gil, tracer.AcquireAfterWait).Wait(200*ms+120, join).Release(200*ms+130, gil, tracer.ReleaseLockWait)
	w.NativeEnd(250*ms+100).Acquire(250*ms+110, gil, tracer.AcquireUncontended).Return(250*ms+120).
		Release(250*ms+130, gil, tracer.ReleaseThreadEnd).End(250*ms + 140)
	m.Acquire(250*ms+150, join, tracer.AcquireAfterWait).Acquire(250*ms+160, gil, tracer.AcquireUncontended).
		Release(250*ms+170, gil, tracer.ReleaseThreadEnd).End(250*ms + 180)
	return tracer.Derive(b.Trace())
}

// TestLongestThreadStartedLate: when the longest path is mostly a thread's
// start (the serial set-up before it), the limit names that set-up and the
// thread that did it, and does not advise splitting the worker's work
// (ThreadPoolExecutor + hashlib: "ThreadPoolExecutor-0_0 alone needs 341ms
// from the start of the run; splitting its work across more workers would
// help", for a worker of 53.6ms). When the thread's own work dominates,
// splitting it is still the advice.
func TestLongestThreadStartedLate(t *testing.T) {
	c := criticalOf(lateWorkerSpans())
	if c.name != "ThreadPoolExecutor-0_0" || c.starter != "MainThread" || !c.lateStart() {
		t.Fatalf("critical %+v: want ThreadPoolExecutor-0_0, started late by MainThread", c)
	}
	if c.starterWorkNS < 199_000_000 || c.starterWorkNS > 201_000_000 || c.workNS < 49_000_000 || c.workNS > 51_000_000 {
		t.Errorf("critical %+v: want MainThread's 200ms before a 50ms worker", c)
	}
	row := PredictionRow{Mode: Threads, Cores: 2, WallNS: c.endNS, Speedup: 1}
	p := &Prediction{RecordedCores: 2, Replay: row, Rows: []PredictionRow{row}}
	p.choose(WhatIfOptions{}, c)
	if strings.Contains(p.Limit, "would help") && strings.Contains(p.Limit, "splitting its work") ||
		!strings.Contains(p.Limit, "would not help") || !strings.Contains(p.Limit, "MainThread's 200ms of work") {
		t.Errorf("limit %q: want the serial work before the worker (MainThread's 200ms) named, and splitting the worker ruled out", p.Limit)
	}
	// A server's request thread, started after the server's 362ms of
	// mostly select() (335ms): the workers start as requests come; there
	// is no serial work to shorten (QA: "after server's 362ms of work,
	// which runs on one thread ... shortening that serial work ... would").
	srv := critical{name: "Thread-100 (process_request_thread)", endNS: 1_410_000_000, startNS: 1_390_000_000, workNS: 15_100_000,
		starter: "server", starterWorkNS: 362_000_000, starterIONS: 335_000_000}
	row.WallNS = srv.endNS
	p = &Prediction{RecordedCores: 2, Replay: row, Rows: []PredictionRow{row}}
	p.choose(WhatIfOptions{}, srv)
	if !strings.HasPrefix(p.Limit, "when Thread-100 (process_request_thread) started") || !strings.Contains(p.Limit, "335ms of blocking calls") ||
		strings.Contains(p.Limit, "shortening that serial work") {
		t.Errorf("limit %q: want the server's waiting named, not its work", p.Limit)
	}
	own := critical{name: "worker", endNS: 300_000_000, startNS: 10_000_000, workNS: 290_000_000}
	row.WallNS = own.endNS
	p = &Prediction{RecordedCores: 2, Replay: row, Rows: []PredictionRow{row}}
	p.choose(WhatIfOptions{}, own)
	if !strings.Contains(p.Limit, "splitting its work across more workers would help") {
		t.Errorf("limit %q: a thread whose own work dominates: want splitting it advised", p.Limit)
	}
	// Two threads compressing (zlib, 97 % native) fill the 2 cores: the
	// longer one needs 858ms, all the CPU work over the cores 810ms.
	// Splitting it would not help here (QA: it was advised).
	full := critical{name: "Thread-1 (w)", endNS: 858_000_000, workNS: 858_000_000, cpuNS: 1_620_000_000}
	row.WallNS = 864_000_000
	p = &Prediction{RecordedCores: 2, Replay: row, Rows: []PredictionRow{row}}
	p.choose(WhatIfOptions{}, full)
	if !strings.HasPrefix(p.Limit, "the cores: the threads' CPU work (1.62s) keeps the 2 cores busy") || strings.Contains(p.Limit, "across more workers would help") {
		t.Errorf("limit %q: want the cores named, the CPU work filling them, and no advice to split on this machine", p.Limit)
	}
	// Two threads sorting with numpy, started after 350ms of imports on
	// one thread: from their start they fill the 2 cores (QA: splitting
	// was advised, as the cores were counted from 0, when only one could
	// be busy; 4 and 8 threads ran no faster).
	late := critical{name: "Thread-1 (sort)", startNS: 350_000_000, endNS: 1_000_000_000, workNS: 650_000_000,
		cpuNS: 1_650_000_000, cpuFromStartNS: 1_300_000_000}
	row.WallNS = 1_010_000_000
	p = &Prediction{RecordedCores: 2, Replay: row, Rows: []PredictionRow{row}}
	p.choose(WhatIfOptions{}, late)
	if !strings.HasPrefix(p.Limit, "the cores: the threads' CPU work from Thread-1 (sort)'s start at 350ms on (1.30s) keeps the 2 cores busy about as long as Thread-1 (sort) alone needs (650ms)") {
		t.Errorf("limit %q: want the cores named, counted from the thread's start", p.Limit)
	}
	// The same thread beside one core's work: splitting it would help.
	late.cpuFromStartNS = 700_000_000
	p = &Prediction{RecordedCores: 2, Replay: row, Rows: []PredictionRow{row}}
	p.choose(WhatIfOptions{}, late)
	if !strings.Contains(p.Limit, "splitting its work across more workers would help") {
		t.Errorf("limit %q: want splitting advised, a core being free", p.Limit)
	}
}

// TestCriticalThreadNamesItsProcess: in a pool every process has a
// MainThread; the longest thread's name says which.
func TestCriticalThreadNamesItsProcess(t *testing.T) {
	const ms = int64(1_000_000)
	b := testkit.New("pool")
	for i, d := range []int64{10, 40} {
		p := b.Process("python", i+1)
		b.Thread(p, "MainThread").Start(0).Acquire(10, tracer.LockID(i), tracer.AcquireUncontended).
			Release(d*ms, tracer.LockID(i), tracer.ReleaseThreadEnd).End(d*ms + 10)
	}
	c := criticalOf(tracer.Derive(b.Trace()))
	if want := fmt.Sprintf("MainThread (pid %d)", b.Trace().Procs[1].PID); c.name != want {
		t.Errorf("critical thread %q, want %q", c.name, want)
	}
}

// TestWhatIfQuotesTheEstimate: the verdict's advice gives the diagnosis's
// estimate for processes ("as processes, an estimated 2.04x on 2 cores")
// and the what-if its prediction ("processes ..., predicted 1.72x") for the
// same option; the what-if names the estimate beside its prediction and
// says why they differ, so that a reader does not see two figures for one
// option unexplained. Close figures are not repeated.
func TestWhatIfQuotesTheEstimate(t *testing.T) {
	s := fixtureSpans(t, "countdown")
	p, err := WhatIf(context.Background(), s, WhatIfOptions{Source: "countdown.giltrace"})
	if err != nil {
		t.Fatal(err)
	}
	sp := diagnosis.Analyze(s).Speedup
	switch want := map[string]float64{Processes: sp.AsProcesses, FreeThreaded: sp.WithoutGIL}[p.Best.Mode]; {
	case p.Best.Cores != sp.Cores:
	case p.Estimated != want:
		t.Errorf("best %+v: estimated %.3f, want the diagnosis's %.3f", p.Best, p.Estimated, want)
	}
	best := PredictionRow{Mode: Processes, Cores: 2, WallNS: 100, Speedup: 1.72}
	for _, c := range []struct {
		est  float64
		line bool
	}{{2.04, true}, {1.75, false}, {0, false}} {
		q := &Prediction{RecordedCores: 2, Best: best, Replay: PredictionRow{Mode: Threads, Cores: 2, WallNS: 200, Speedup: 0.9}, Rows: []PredictionRow{best}, Limit: "the cores", Estimated: c.est}
		var b bytes.Buffer
		if err := q.WriteText(&b); err != nil {
			t.Fatal(err)
		}
		got := strings.Contains(b.String(), "estimated 2.04x as processes in the report, predicted 1.72x here:") || strings.Contains(b.String(), "in the report, predicted")
		if got != c.line {
			t.Errorf("estimate %.2f against predicted 1.72x: estimate line %v, want %v\n%s", c.est, got, c.line, b.String())
		}
	}
}

// TestReplayOffWarned: a replay that misses the measured wall by more than
// ReplayTolerance says so above the table and in the JSON (replay_off);
// one within it says nothing. A thread pool of 8 I/O threads replayed at
// -11.9 % without a word while its prediction ranked processes first,
// which measured slower.
func TestReplayOffWarned(t *testing.T) {
	s := fixtureSpans(t, "countdown")
	p, err := WhatIf(context.Background(), s, WhatIfOptions{Source: "countdown.giltrace"})
	if err != nil {
		t.Fatal(err)
	}
	if p.ReplayOff != (math.Abs(p.ReplayError) > ReplayTolerance) {
		t.Errorf("replay error %.3f: replay_off %v", p.ReplayError, p.ReplayOff)
	}
	for _, c := range []struct {
		err  float64
		warn bool
	}{{-0.119, true}, {0.126, true}, {0.05, false}, {-0.1, false}} {
		q := *p
		q.ReplayError, q.ReplayOff = c.err, math.Abs(c.err) > ReplayTolerance
		var b bytes.Buffer
		if err := q.WriteText(&b); err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("warning: the replay misses the measured run by %.1f %%", 100*math.Abs(c.err))
		if got := strings.Contains(b.String(), want); got != c.warn {
			t.Errorf("replay error %+.3f: warning %v, want %v\n%s", c.err, got, c.warn, b.String())
		}
	}
}

// TestLimitNearLockBound: a run near the lock-bound verdict's boundary (not
// given) is limited by the lock, not "the work itself": two threads taking
// a lock 200 times each, 42 % of their wall in lock wait, were told the
// work itself limited them.
func TestLimitNearLockBound(t *testing.T) {
	replay := PredictionRow{Mode: Threads, Cores: 2, WallNS: 100, Speedup: 0.95, Near: diagnosis.LockBound}
	p := &Prediction{RecordedCores: 2, Replay: replay, Rows: []PredictionRow{
		{Mode: Processes, Cores: 2, WallNS: 101, Speedup: 0.94}, {Mode: Processes, Cores: 4, WallNS: 101, Speedup: 0.94}}}
	p.choose(WhatIfOptions{}, critical{})
	if !strings.Contains(p.Limit, "a lock, near the lock-bound verdict's boundary") {
		t.Errorf("limit %q, want the lock, near its boundary", p.Limit)
	}
	p.Replay.Near = ""
	p.choose(WhatIfOptions{}, critical{})
	if strings.Contains(p.Limit, "lock") {
		t.Errorf("limit %q without lock-bound near: want no lock", p.Limit)
	}
}

// TestEstimatesReconciled: the verdict's estimate for a mode that is not
// the best option, far from its predicted row, is explained beside the
// table: "as processes 1.24x" in the estimates and 0.94x in the table,
// with nothing between them, read as a contradiction.
func TestEstimatesReconciled(t *testing.T) {
	replay := PredictionRow{Mode: Threads, Cores: 2, WallNS: 100, Speedup: 0.95}
	p := &Prediction{RecordedCores: 2, Replay: replay, Best: replay, Limit: "the work itself",
		EstimatedAs: map[string]float64{Processes: 1.24, FreeThreaded: 0.96}, EstimatedCores: 2,
		Rows: []PredictionRow{{Mode: Processes, Cores: 2, WallNS: 101, Speedup: 0.94}, {Mode: FreeThreaded, Cores: 2, WallNS: 100, Speedup: 0.95}}}
	var b bytes.Buffer
	if err := p.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "estimated 1.24x as processes in the report, predicted 0.94x here") {
		t.Errorf("no reconciliation of the processes estimate:\n%s", b.String())
	}
	if strings.Contains(b.String(), "without a GIL in the report") {
		t.Errorf("free-threaded's estimate (0.96x) is within 5 %% of its row (0.95x), yet explained:\n%s", b.String())
	}
}

// TestWhatIfWaitsForResults: a main thread waiting for its workers'
// results (a ThreadPoolExecutor's futures: Condition.wait, notified by the
// worker that ran when it ended) waits less when the workers finish
// sooner. Recorded on 1 core, two workers doing 50 ms of GIL-releasing
// native work each finish at 100 ms; on 2 cores at 50 ms, and so does the
// program. The model kept the main thread's waits at their recorded
// length, and predicted the same wall on every number of cores.
func TestWhatIfWaitsForResults(t *testing.T) {
	w, err := workload.Parse("pool.yaml", []byte(`name: pool
clock: virtual
cores: 1
threads:
  - {name: main, run: main}
  - {name: w, count: 2, run: work}
functions:
  main:
    - compute: 1ms
    - wait: {lock: results, until: notify}
    - wait: {lock: results, until: notify}
    - compute: 1ms
  work:
    - compute: 1ms
    - native: {duration: 50ms, releases_gil: true}
    - notify: results
`))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := vm.Run(context.Background(), w, vm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p, err := WhatIf(context.Background(), tracer.Derive(tr), WhatIfOptions{Source: "pool.giltrace", Cores: 2})
	if err != nil {
		t.Fatal(err)
	}
	var one, two int64
	for _, r := range p.Rows {
		if r.Mode == "threads" && r.SwitchInterval == 0 {
			switch r.Cores {
			case 1:
				one = r.WallNS
			case 2:
				two = r.WallNS
			}
		}
	}
	if one < 95e6 || two > 60e6 {
		t.Errorf("threads on 1 core %v, on 2 %v: want about 100ms and 50ms\n%s", time.Duration(one), time.Duration(two), p.Model)
	}
}

// TestEstimateWhy: the reason given for an estimate that differs from the
// prediction follows which is higher (QA: "predicted 1.66x, estimated
// 1.54x" was explained by waits that could only lower the prediction).
//
// With --ipc-cost charged, a processes prediction below the estimate
// names the cost too (QA: the gap of 1.05x estimated against 0.67x
// predicted with --ipc-cost 200ms was put down to handoffs and waits).
func TestEstimateWhy(t *testing.T) {
	p := &Prediction{}
	if got := p.estimateWhy(Processes, 0.94, 1.24); !strings.Contains(got, "without the GIL handoffs, the waits for a core") || strings.Contains(got, "ipc-cost") {
		t.Errorf("prediction below the estimate: %q", got)
	}
	if got := p.estimateWhy(Processes, 1.66, 1.54); strings.Contains(got, "without") || !strings.Contains(got, "overlaps them better") {
		t.Errorf("prediction above the estimate: %q", got)
	}
	p = &Prediction{ipcCost: 200 * time.Millisecond, ipcWorkers: 3}
	if got := p.estimateWhy(Processes, 0.67, 1.05); !strings.Contains(got, "without the 200ms of --ipc-cost that each of the prediction's 3 workers pays") {
		t.Errorf("with --ipc-cost: %q", got)
	}
	if got := p.estimateWhy(FreeThreaded, 0.67, 1.05); strings.Contains(got, "ipc-cost") {
		t.Errorf("free-threaded with --ipc-cost: %q", got)
	}
}

// TestReplayDaemonThreads: fixtures/python/daemon_threads.py's daemons (two
// CPU-bound threads and a poller) are stopped when its main thread ends.
// Their model marks them daemon: true, so the replay ends with the main
// thread, as the program did: modelled as work of its recorded length, the
// poller waited longer for the GIL in the replay and ran past the main
// thread's end (+5.5 % on this recording, +15-21 % on CPython 3.12's).
func TestReplayDaemonThreads(t *testing.T) {
	p, err := WhatIf(context.Background(), fixtureSpans(t, "python-daemon-threads"), WhatIfOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := workload.Parse("model.yaml", p.Model)
	if err != nil {
		t.Fatal(err)
	}
	daemons := map[string]bool{}
	for _, g := range w.Threads {
		daemons[g.Name] = g.Daemon
	}
	if want := map[string]bool{"MainThread": false, "cpu0": true, "cpu1": true, "poller": true}; !maps.Equal(daemons, want) {
		t.Errorf("the model's threads and their daemon flags %v, want %v", daemons, want)
	}
	if math.Abs(p.ReplayError) > 0.02 {
		t.Errorf("replay %+.1f %% off the measured wall, want within 2 %%", 100*p.ReplayError)
	}
}

// TestLimitSkipsDaemonsAndGIL: a daemon the replay stops (an acceptor
// blocked in accept() until the exit) is not the thread that limits the
// run, and the GIL is named the limit only if running the threads without
// it is predicted faster (QA: "limited by I/O latency: acceptor alone
// needs 897ms" beside a 530ms prediction; "limited by the GIL" beside a
// free-threaded row no faster).
func TestLimitSkipsDaemonsAndGIL(t *testing.T) {
	const ms = int64(1_000_000)
	b := testkit.New("echo")
	b.Meta().Extra = map[string]string{"source": "cpython", "exit_status": "0"}
	p := b.Process("python", 1)
	gil := tracer.LockID(0)
	m := b.Thread(p, "MainThread")
	a := b.Thread(p, "acceptor")
	m.Start(0).Acquire(10, gil, tracer.AcquireUncontended).Release(100*ms, gil, tracer.ReleaseIO).IOBegin(100*ms+10, "network")
	a.Start(1*ms).Acquire(1*ms+10, gil, tracer.AcquireUncontended).IOBegin(1*ms+20, "network").Release(1*ms+30, gil, tracer.ReleaseIO)
	m.IOEnd(300*ms).Acquire(300*ms+10, gil, tracer.AcquireUncontended).Release(310*ms, gil, tracer.ReleaseThreadEnd).End(310*ms + 10)
	a.End(310*ms + 20) // stopped at the exit, in its accept()
	tr := b.Trace()
	if c := criticalOf(tracer.Derive(tr)); c.name != "MainThread" {
		t.Errorf("critical thread %q, want MainThread (the acceptor is a daemon)", c.name)
	}
	// The end of an attach (no exit status) stopped no one: a thread
	// still running then may limit the run.
	delete(tr.Meta.Extra, "exit_status")
	if c := criticalOf(tracer.Derive(tr)); c.name != "acceptor" {
		t.Errorf("after an attach: critical thread %q, want the acceptor", c.name)
	}
	for _, ft := range []float64{0, 1.01} { // 0: no free-threaded row
		row := PredictionRow{Mode: Threads, Cores: 2, WallNS: 500 * ms, Speedup: 1, Verdicts: "gil-bound"}
		p := &Prediction{RecordedCores: 2, Replay: row, Rows: []PredictionRow{row}}
		if ft > 0 {
			p.Rows = append(p.Rows, PredictionRow{Mode: FreeThreaded, Cores: 2, WallNS: 495 * ms, Speedup: ft})
		}
		p.choose(WhatIfOptions{}, critical{})
		if gil := strings.HasPrefix(p.Limit, "the GIL"); gil != (ft == 0) {
			t.Errorf("free-threaded %.2fx against threads' 1.00x: limit %q", ft, p.Limit)
		}
	}
}

// TestCriticalNeeds: a thread that started late is described by when it
// ends and its own time, which the report's thread table shows as its
// wall; one that started with the run, by its end alone.
func TestCriticalNeeds(t *testing.T) {
	early := critical{name: "w", startNS: 10e6, endNS: 1000e6}
	if got, want := early.needs(), "w alone needs 1.00s"; got != want {
		t.Errorf("early start: %q, want %q", got, want)
	}
	late := critical{name: "Thread-6 (writer)", startNS: 260e6, endNS: 1260e6}
	if got, want := late.needs(), "Thread-6 (writer) alone would end 1.26s into the run (it started at 260ms; its own work, without waiting for the GIL, takes 1.00s)"; got != want {
		t.Errorf("late start: %q, want %q", got, want)
	}
}

// TestMoreCoresFewest: the limit "on N cores" names the fewest cores that
// give (within 2 %) what the most give (QA: "on 8 cores processes would
// run 1.89x" where the table showed 1.89x on 4 cores already).
func TestMoreCoresFewest(t *testing.T) {
	row := func(cores int, x float64) PredictionRow {
		return PredictionRow{Mode: Processes, Cores: cores, WallNS: int64(1e9 / x), Speedup: x}
	}
	replay := PredictionRow{Mode: Threads, Cores: 2, WallNS: 1e9, Speedup: 1}
	p := &Prediction{RecordedCores: 2, Replay: replay, Rows: []PredictionRow{replay, row(1, 1), row(2, 1.4), row(4, 1.89), row(8, 1.89)}}
	p.choose(WhatIfOptions{}, critical{})
	if want := "the cores: on 4 cores processes would run 1.89x"; !strings.HasPrefix(p.Limit, want) {
		t.Errorf("limit %q, want it to begin %q", p.Limit, want)
	}
	p = &Prediction{RecordedCores: 2, Replay: replay, Rows: []PredictionRow{replay, row(2, 1.4), row(4, 1.7), row(8, 1.95)}}
	p.choose(WhatIfOptions{}, critical{})
	if want := "the cores: on 8 cores processes would run 1.95x"; !strings.HasPrefix(p.Limit, want) {
		t.Errorf("limit %q, want it to begin %q", p.Limit, want)
	}
	// The gain is judged on the most cores: 4 cores within 2 % of 8 but
	// under a tenth above the best (review: "more cores would not help").
	p = &Prediction{RecordedCores: 2, Replay: replay, Rows: []PredictionRow{replay, row(2, 1.5), row(4, 1.648), row(8, 1.68)}}
	p.choose(WhatIfOptions{}, critical{})
	if want := "the cores: on 4 cores processes would run 1.65x"; !strings.HasPrefix(p.Limit, want) {
		t.Errorf("limit %q, want it to begin %q", p.Limit, want)
	}
}

// TestWhatIfCoreCounts: --cores N simulates the powers of two below N and
// N itself (QA: --cores 3 ran 1 and 2 cores, --cores 6 ran 1, 2 and 4),
// and the best option comes from rows run on the cores it is named for:
// the recorded machine's, or N when that is fewer (QA: --cores 1 on a run
// of 2 cores said "best on 2 cores: threads ... limited by the GIL", though
// no processes or free-threaded row had run on 2 cores).
func TestWhatIfCoreCounts(t *testing.T) {
	for n, want := range map[int][]int{1: {1}, 2: {1, 2}, 3: {1, 2, 3}, 6: {1, 2, 4, 6}, 8: {1, 2, 4, 8}, 12: {1, 2, 4, 8, 12}} {
		if got := CoreCounts(n); !slices.Equal(got, want) {
			t.Errorf("CoreCounts(%d) = %v, want %v", n, got, want)
		}
	}
	s := fixtureSpans(t, "python-countdown") // recorded on 2 cores
	for _, c := range []struct {
		cores, best int
		rows        []int
	}{{3, 2, []int{1, 2, 3}}, {6, 2, []int{1, 2, 4, 6}}, {1, 1, []int{1}}} {
		p, err := WhatIf(context.Background(), s, WhatIfOptions{Cores: c.cores})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range AllModes {
			if got := modeCores(p, m); !slices.Equal(got, c.rows) {
				t.Errorf("--cores %d: %s rows on %v cores, want %v", c.cores, m, got, c.rows)
			}
		}
		if p.Best.Cores != c.best {
			t.Errorf("--cores %d: best %+v, want it on %d cores", c.cores, p.Best, c.best)
		}
		for _, r := range p.Rows {
			if r.SwitchInterval > 0 && r.Cores != c.best {
				t.Errorf("--cores %d: switch-interval row %+v, want it on the best's %d cores", c.cores, r, c.best)
			}
		}
		var b bytes.Buffer
		if err := p.WriteText(&b); err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("best on %s:", map[int]string{1: "1 core", 2: "2 cores"}[c.best]); !strings.Contains(b.String(), want) {
			t.Errorf("--cores %d: no %q in\n%s", c.cores, want, b.String())
		}
		if c.cores == 1 {
			// Nothing ran on 2 cores: the best is the run as recorded on
			// 1 core (threads; processes and free-threaded no faster there),
			// and the limit does not claim more cores would not help.
			if p.Best.Mode != Threads || p.Best.SwitchInterval != int64(s.Trace.Meta.SwitchInterval) || !strings.Contains(b.String(), "best on 1 core: threads, as recorded") {
				t.Errorf("--cores 1: best %+v, want threads as recorded on 1 core\n%s", p.Best, b.String())
			}
			if strings.Contains(p.Limit, "GIL") || strings.Contains(p.Limit, "more cores would not help") {
				t.Errorf("--cores 1: limit %q: want neither the GIL (nothing ran on more cores without it) nor a verdict on more cores", p.Limit)
			}
		}
	}
}

// TestWhatIfIPCCostWorkers: --ipc-cost is charged to the threads that
// become worker processes, not to a main thread that starts and joins
// them (QA: python-countdown's processes on 2 cores went from 372 to
// 569 ms with 100 ms of cost, where two workers paying it in parallel
// take about 472). A VM run has no main thread: every thread pays (the
// VM countdown's wall grows by the cost); a pool's workers were processes
// already and pay nothing more.
func TestWhatIfIPCCostWorkers(t *testing.T) {
	for _, c := range []struct {
		fixture string
		charged []string
		grows   int64 // the processes wall on 2 cores, with the cost over without
	}{
		{"python-countdown", []string{"Thread-1 (countdown)", "Thread-2 (countdown)"}, 100e6},
		{"countdown", []string{"counter-1", "counter-2"}, 100e6},
		{"python-multiprocessing-pool", nil, 0},
	} {
		s := fixtureSpans(t, c.fixture)
		free, err := WhatIf(context.Background(), s, WhatIfOptions{Cores: 2})
		if err != nil {
			t.Fatal(err)
		}
		costly, err := WhatIf(context.Background(), s, WhatIfOptions{Cores: 2, IPCCost: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		w, err := workload.Parse("model.yaml", free.Model)
		if err != nil {
			t.Fatal(err)
		}
		var charged []string
		for _, g := range withIPCCost(w, time.Millisecond, func(g workload.ThreadGroup) bool { return ipcWorker(s.Trace, g) }).Threads {
			if strings.HasSuffix(g.Run, ", as a process") {
				charged = append(charged, g.Name)
			}
		}
		if !slices.Equal(charged, c.charged) {
			t.Errorf("%s: charged %q, want %q", c.fixture, charged, c.charged)
		}
		for i, r := range costly.Rows {
			if r.Mode == Processes && r.Cores == 2 {
				if d := r.WallNS - free.Rows[i].WallNS; d < c.grows-1e6 || d > c.grows+1e6 {
					t.Errorf("%s: processes on 2 cores %v with 100ms of IPC cost, %v without: want %v more", c.fixture,
						time.Duration(r.WallNS), time.Duration(free.Rows[i].WallNS), time.Duration(c.grows))
				}
			}
		}
		note := strings.Join(costly.Notes, "\n")
		if want := map[bool]string{true: "(2 of the model's", false: "--ipc-cost 100ms is charged to no thread"}[len(c.charged) > 0]; !strings.Contains(note, want) {
			t.Errorf("%s: notes %q, want %q", c.fixture, note, want)
		}
	}
}

// TestLimitAfterAttachWhileBlocked: an attach begun while every thread was
// blocked (compare/testdata/attach_blocked.py, asleep in time.sleep when
// the attach began) has its main thread first seen 1.69 s in, when it
// woke and started its worker. The model writes that wait as the main
// thread's io: {duration: 1.691749s, kind: blocking}; the limit named
// "MainThread's 768us of work ... shortening that serial work" (QA, the
// same on another program: 1.88 ms of work beside 154 ms blocked). It now
// follows the model: the time before the worker started is blocking, and
// is named so. The serial work of a starter that did compute is its
// compute, its blocking calls named beside it.
func TestLimitAfterAttachWhileBlocked(t *testing.T) {
	tr, err := tracer.ReadFile(filepath.Join("testdata", "attach-blocked.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := WhatIf(context.Background(), tracer.Derive(tr), WhatIfOptions{Source: "attach-blocked.giltrace"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(p.Model, []byte("io: {duration: 1.691749s, kind: blocking}")) {
		t.Fatalf("the model does not have the main thread blocked 1.691749s:\n%s", p.Model)
	}
	if want := "when Thread-1 (work) started: it ends 1.73s into the run, but its own work is 41.0ms; it started at 1.69s, when MainThread started it after 1.69s of blocking calls (100 % of its time before then, 1.69s of it in a call made before the trace began"; !strings.HasPrefix(p.Limit, want) ||
		strings.Contains(p.Limit, "serial work") {
		t.Errorf("limit %q,\nwant it to begin %q and not advise shortening serial work", p.Limit, want)
	}
	c := critical{name: "Thread-2 (countdown)", endNS: 372e6, startNS: 187e6, workNS: 185e6,
		starter: "MainThread", starterWorkNS: 148e6, starterIONS: 16e6}
	row := PredictionRow{Mode: Processes, Cores: 2, WallNS: 372e6, Speedup: 1.43}
	q := &Prediction{RecordedCores: 2, Replay: row, Rows: []PredictionRow{row}}
	q.choose(WhatIfOptions{}, c)
	if want := "after MainThread's 132ms of work and 16.0ms of blocking calls, which run on one thread"; !strings.Contains(q.Limit, want) {
		t.Errorf("limit %q, want %q", q.Limit, want)
	}
}

// TestLimitNamesInterpreterStartUp: fixtures/python/countdown.py's second
// worker starts 187 ms into the run, 147 ms of it its main thread's
// CPython start-up, before any frame of countdown.py (the model's block
// _path_stat). The limit named it "MainThread's 148ms of work" and advised
// "shortening that serial work" (QA, on a fresh recording: 137 ms),
// which no restructuring of the program does. It now names the
// interpreter's start-up, and gives no such advice. Where the start-up is
// a part only, it is named beside the work.
func TestLimitNamesInterpreterStartUp(t *testing.T) {
	p, err := WhatIf(context.Background(), fixtureSpans(t, "python-countdown"), WhatIfOptions{Source: "python-countdown.giltrace"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "the interpreter's start-up before Thread-2 (countdown) started: it ends 372ms into the run, but its own work is 185ms; it started at 187ms, after MainThread's 147ms of the interpreter starting up (before any frame of the program's own code"; !strings.HasPrefix(p.Limit, want) ||
		strings.Contains(p.Limit, "serial work") || !strings.Contains(p.Limit, "nor would restructuring the program") {
		t.Errorf("limit %q,\nwant it to begin %q, and no advice to shorten serial work", p.Limit, want)
	}
	c := critical{name: "w", endNS: 300e6, startNS: 150e6, workNS: 150e6, starter: "MainThread",
		starterWorkNS: 100e6, starterIONS: 20e6, starterStartupNS: 40e6, starterStartupIONS: 10e6}
	if got, want := c.lateStartLimit(), "after MainThread's 40.0ms of the interpreter starting up, 50.0ms of work and 10.0ms of blocking calls, which run on one thread. Splitting w's work across more workers would not help; shortening that serial work"; !strings.Contains(got, want) {
		t.Errorf("limit %q, want %q", got, want)
	}
}

// TestLimitWorkItself: with nothing else to name, the limit is the work
// itself on the best's cores, and says that more cores would not help
// only where rows on more cores ran and gained under 10 %; without such
// rows it says they were not simulated (it claimed more cores would not
// help whether or not any had run: the countdown twin with --cores 1,
// whose processes run 1.43x on 2 cores).
func TestLimitWorkItself(t *testing.T) {
	replay := PredictionRow{Mode: Threads, Cores: 2, WallNS: 100, Speedup: 1}
	p := &Prediction{RecordedCores: 2, Replay: replay, Rows: []PredictionRow{
		{Mode: Threads, Cores: 2, WallNS: 100, Speedup: 1}, {Mode: Threads, Cores: 4, WallNS: 95, Speedup: 1.05}}}
	p.choose(WhatIfOptions{}, critical{})
	if want := "the work itself: no option on 2 cores does better, and more cores would not help"; p.Limit != want {
		t.Errorf("limit %q, want %q", p.Limit, want)
	}
	one := PredictionRow{Mode: Threads, Cores: 1, WallNS: 100, Speedup: 1}
	p = &Prediction{RecordedCores: 2, Replay: replay, recordedOnTarget: one, Rows: []PredictionRow{one}}
	p.choose(WhatIfOptions{}, critical{})
	if want := "the work itself: no option on 1 core does better; more cores were not simulated (--cores)"; p.Limit != want {
		t.Errorf("limit %q, want %q", p.Limit, want)
	}
}

// TestLimitMoreCoresOtherMode: on the recorded cores nothing beats the
// run as recorded, and more cores do not help its mode, but they help
// another: the limit names that mode on the fewest cores that give its
// gain (QA: a countdown recorded on 1 core, "more cores would not help"
// above a table of processes and free-threaded at 1.99x on 2 cores).
func TestLimitMoreCoresOtherMode(t *testing.T) {
	row := func(mode string, cores int, x float64) PredictionRow {
		return PredictionRow{Mode: mode, Cores: cores, WallNS: int64(1e9 / x), Speedup: x}
	}
	one := row(Threads, 1, 1)
	p := &Prediction{RecordedCores: 1, Replay: one, Rows: []PredictionRow{one, row(Threads, 2, 1), row(Threads, 4, 1),
		row(Processes, 1, 1), row(Processes, 2, 1.99), row(Processes, 4, 1.99),
		row(FreeThreaded, 1, 1), row(FreeThreaded, 2, 1.99), row(FreeThreaded, 4, 1.99)}}
	p.choose(WhatIfOptions{}, critical{})
	if want := "the cores: on 2 cores processes would run 1.99x"; !strings.HasPrefix(p.Limit, want) {
		t.Errorf("limit %q, want it to begin %q", p.Limit, want)
	}
	// The mode that gains most, when they differ.
	p.Rows = append(p.Rows[:len(p.Rows)-1], row(FreeThreaded, 4, 3.9))
	p.choose(WhatIfOptions{}, critical{})
	if want := "the cores: on 4 cores free-threaded would run 3.90x"; !strings.HasPrefix(p.Limit, want) {
		t.Errorf("limit %q, want it to begin %q", p.Limit, want)
	}
}

// TestWhatIfTableSwitchInterval: the table shows the switch interval each
// threads row ran with, the recorded one where the sweep sets none, as
// compare does (QA: "-" beside compare's 5ms); no GIL, no interval.
func TestWhatIfTableSwitchInterval(t *testing.T) {
	s := fixtureSpans(t, "countdown")
	if s.Trace.Meta.SwitchInterval != 5*time.Millisecond {
		t.Fatalf("countdown recorded with a %v switch interval, the test wants 5ms", s.Trace.Meta.SwitchInterval)
	}
	p, err := WhatIf(context.Background(), s, WhatIfOptions{Cores: 2, Intervals: []time.Duration{2 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := p.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"threads 1": "5ms", "threads 2": "5ms", "processes 1": "-", "processes 2": "-", "free-threaded 1": "-", "free-threaded 2": "-"}
	sweep := 0
	for _, line := range strings.Split(b.String(), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 || !slices.Contains(AllModes, f[0]) {
			continue
		}
		k := f[0] + " " + f[1]
		if w, ok := want[k]; ok {
			if f[2] != w {
				t.Errorf("row %q: switch interval %q, want %q", line, f[2], w)
			}
			delete(want, k)
		} else if k == "threads 2" && f[2] == "2ms" {
			sweep++
		} else {
			t.Errorf("unexpected row %q", line)
		}
	}
	if len(want) > 0 || sweep != 1 {
		t.Errorf("rows missing: %v; sweep rows at 2ms: %d, want 1\n%s", want, sweep, b.String())
	}
	// The JSON keeps switch_interval_ns for the sweep alone.
	for _, r := range p.Rows {
		if r.SwitchInterval != 0 && r.SwitchInterval != int64(2*time.Millisecond) {
			t.Errorf("row %+v: switch_interval_ns %d, want 0 off the sweep", r, r.SwitchInterval)
		}
	}
}

// TestBestSaysItsEffect: the best option's line gives its effect against
// the model as recorded, like for like. A start-up-dominated run measured
// at 1.00x, replayed at 0.95x, with processes predicted 0.972x, printed
// "best on 2 cores: processes ..., predicted 0.97x", which reads as a
// change that makes the run slower than measured; it is 2 % less wall
// time than the run as recorded. As recorded, no effect is printed.
func TestBestSaysItsEffect(t *testing.T) {
	replay := PredictionRow{Mode: Threads, Cores: 2, WallNS: 1000, Speedup: 0.95}
	p := &Prediction{Workload: "w", RecordedCores: 2, MeasuredWallNS: 950, SerialNS: 950, Measured: 1.0, Replay: replay,
		Rows: []PredictionRow{replay, {Mode: Processes, Cores: 2, WallNS: 977, Speedup: 0.972}, {Mode: FreeThreaded, Cores: 2, WallNS: 990, Speedup: 0.96}}}
	p.choose(WhatIfOptions{}, critical{})
	if p.Best.Mode != Processes || p.BestWallChange != -0.023 {
		t.Fatalf("best %s, wall change %v; want processes, -0.023", p.Best.Mode, p.BestWallChange)
	}
	var b strings.Builder
	if err := p.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if want := "predicted 0.97x against 0.95x as recorded (2 % less wall time, a small gain: weigh it against the cost of the change);"; !strings.Contains(b.String(), want) {
		t.Errorf("the best line does not say %q:\n%s", want, b.String())
	}
	// A cut of 5 % or more is no small gain.
	big := *p
	big.Rows = append([]PredictionRow(nil), p.Rows...)
	big.Rows[1].WallNS, big.Rows[1].Speedup = 900, 1.05
	big.choose(WhatIfOptions{}, critical{})
	var bb strings.Builder
	if err := big.WriteText(&bb); err != nil || !strings.Contains(bb.String(), "(10 % less wall time);") {
		t.Errorf("want a 10 %% cut stated alone (%v):\n%s", err, bb.String())
	}
	var js strings.Builder
	if err := p.WriteJSON(&js); err != nil || !strings.Contains(js.String(), `"best_wall_change": -0.023`) {
		t.Errorf("JSON without best_wall_change -0.023 (%v):\n%s", err, js.String())
	}

	// As recorded: no effect, and 0.
	p = &Prediction{Workload: "w", RecordedCores: 2, MeasuredWallNS: 1000, SerialNS: 1000, Measured: 1.0, Replay: replay,
		Rows: []PredictionRow{replay, {Mode: Processes, Cores: 2, WallNS: 995, Speedup: 0.955}}}
	p.choose(WhatIfOptions{}, critical{})
	b.Reset()
	if err := p.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if p.BestWallChange != 0 || !strings.Contains(b.String(), "best on 2 cores: threads, as recorded, predicted 0.95x;") {
		t.Errorf("as recorded: wall change %v, text:\n%s", p.BestWallChange, b.String())
	}
}

// TestRound3: to nearest for negative figures too, and no -0.
func TestRound3(t *testing.T) {
	for _, c := range []struct{ in, want float64 }{{-0.023, -0.023}, {-0.0225, -0.023}, {0.0225, 0.023}, {-0.0003, 0}, {1.2344, 1.234}} {
		got := round3(c.in)
		if got != c.want || math.Signbit(got) != math.Signbit(c.want) {
			t.Errorf("round3(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

// TestImportsLimit: a real program's main thread that spends most of its
// work importing modules (under importlib's frames) is limited by the
// interpreter's start-up and imports, which splitting its work across more
// workers would not shorten (QA: "limited by the longest thread: MainThread
// ... splitting its work across more workers would help" for a script of
// eight imports and two tiny threads).
func TestImportsLimit(t *testing.T) {
	b := testkit.New("imports")
	b.Meta().Extra = map[string]string{"source": "cpython"}
	p := b.Process("python3", 100)
	mod := b.Frame(tracer.Frame{Func: "<module>", File: "/app/imports.py", Line: 1})
	imp := b.Frame(tracer.Frame{Func: "_find_and_load", File: "<frozen importlib._bootstrap>", Line: 1165})
	work := b.Frame(tracer.Frame{Func: "w", File: "/app/imports.py", Line: 2})
	main := b.Thread(p, "MainThread")
	w := b.Thread(p, "Thread-1 (w)")
	main.Start(0).Acquire(1, 0, tracer.AcquireUncontended).Call(2, mod).Call(3, imp)
	main.Return(300e6).Release(300e6+1, 0, tracer.ReleaseIO)
	w.Start(300e6+2).Acquire(300e6+3, 0, tracer.AcquireUncontended).Call(300e6+4, work).Return(301e6).Release(301e6+1, 0, tracer.ReleaseThreadEnd).End(301e6 + 2)
	main.Acquire(301e6+3, 0, tracer.AcquireUncontended).Return(305e6).Release(305e6+1, 0, tracer.ReleaseThreadEnd).End(305e6 + 2)
	s := tracer.Derive(b.Trace())
	c := criticalOf(s)
	if c.name != "MainThread" || c.importNS < 290e6 {
		t.Fatalf("critical %s, imports %v; want MainThread, about 300ms", c.name, time.Duration(c.importNS))
	}
	p2, err := WhatIf(context.Background(), s, WhatIfOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(p2.Limit, "the interpreter's start-up and imports:") || strings.Contains(p2.Limit, "would help") {
		t.Errorf("limit: %s", p2.Limit)
	}
}

// TestWhatIfLegacyNoSweep: a run of the legacy GIL, which has no switch
// interval, gets no switch-interval sweep (QA: five identical rows).
func TestWhatIfLegacyNoSweep(t *testing.T) {
	s := fixtureSpans(t, "countdown-legacy")
	if s.Trace.Meta.GILMode != tracer.GILLegacy {
		t.Fatalf("countdown-legacy recorded with GIL %v", s.Trace.Meta.GILMode)
	}
	p, err := WhatIf(context.Background(), s, WhatIfOptions{Cores: 2})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range append(p.Rows, p.Replay) {
		if r.SwitchInterval != 0 {
			t.Errorf("legacy run: row %+v has a switch interval", r)
		}
	}
	if len(p.Rows) != len(AllModes)*len(CoreCounts(2)) {
		t.Errorf("%d rows, want %d (no sweep)", len(p.Rows), len(AllModes)*len(CoreCounts(2)))
	}
}

// TestWhatIfChartIdealAgainstCores: the what-if chart's x axis is cores,
// and its ideal line says so (QA: "ideal (x threads)").
func TestWhatIfChartIdealAgainstCores(t *testing.T) {
	p := &Prediction{Workload: "w", RecordedCores: 2, Measured: 1,
		Rows: []PredictionRow{{Mode: Threads, Cores: 1, Speedup: 1}, {Mode: Threads, Cores: 2, Speedup: 1}}}
	var b strings.Builder
	if err := p.Chart().WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "ideal (x cores)") || strings.Contains(b.String(), "x threads") {
		t.Errorf("legend: %s", b.String())
	}
}

// TestLimitIsTheRunsLock: a run whose report is lock-bound (or near it)
// is limited by a lock even when its replay gives no verdict. QA: a
// program traced without --lock-holds, 47 % of its threads' time blocked
// on one lock, was said to be limited by "the work itself", which
// docs/what-if.md defines as no lock being to blame.
func TestLimitIsTheRunsLock(t *testing.T) {
	row := PredictionRow{Mode: Threads, Cores: 2, WallNS: 1e9, Speedup: 0.95}
	more := PredictionRow{Mode: Threads, Cores: 8, WallNS: 1e9, Speedup: 0.95}
	for _, tc := range []struct {
		report      *diagnosis.Report
		unseenHolds bool
		want        string
	}{
		{&diagnosis.Report{Verdicts: []diagnosis.Verdict{{Code: diagnosis.LockBound}}}, true, "a lock: the run is lock-bound: the threads wait for a lock that one of them holds, whatever runs them; traced without --lock-holds"},
		{&diagnosis.Report{Verdicts: []diagnosis.Verdict{{Code: diagnosis.LockBound}}}, false, "a lock: the run is lock-bound: the threads wait for a lock that one of them holds, whatever runs them"},
		{&diagnosis.Report{NearBoundary: []diagnosis.Boundary{{Code: diagnosis.LockBound}}}, false, "a lock: the run is near the lock-bound verdict's boundary:"},
		{&diagnosis.Report{Verdicts: []diagnosis.Verdict{{Code: diagnosis.GILBound}}}, true, "the work itself: no option on 2 cores does better, and more cores would not help"},
	} {
		for _, recordable := range []bool{true, false} {
			p := &Prediction{RecordedCores: 2, Replay: row, Rows: []PredictionRow{row, more}}
			p.runLock, p.unseenHolds, p.holdsRecordable = lockVerdict(tc.report), tc.unseenHolds, recordable
			p.choose(WhatIfOptions{}, critical{})
			if !strings.HasPrefix(p.Limit, tc.want) {
				t.Errorf("limit %q, want it to begin %q", p.Limit, tc.want)
			}
			if want := tc.unseenHolds && p.runLock != ""; strings.Contains(p.Limit, "--lock-holds") != want {
				t.Errorf("limit %q: want --lock-holds named: %v", p.Limit, want)
			}
			// Advice to record with --lock-holds only where it works
			// (not on Python 3.14+).
			if advised := strings.Contains(p.Limit, "record with --lock-holds"); advised && !recordable {
				t.Errorf("limit %q advises --lock-holds, which cannot record this program's holds", p.Limit)
			}
		}
	}
}

// TestWhatIfFreeThreadedRecording: a run recorded without a GIL is
// replayed without one, and nothing is said to beat it that runs the same
// (QA: replayed under a GIL at +93 % of its wall, and told that processes
// would cut it by half).
func TestWhatIfFreeThreadedRecording(t *testing.T) {
	tr, err := tracer.ReadFile(filepath.Join(testkit.FixtureDir(), "free-threaded.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	if tr.Meta.GILMode != tracer.GILNone {
		t.Fatalf("the fixture's GIL mode is %s", tr.Meta.GILMode)
	}
	p, err := WhatIf(context.Background(), tracer.Derive(tr), WhatIfOptions{Source: "free-threaded.giltrace"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Replay.Mode != FreeThreaded || math.Abs(p.ReplayError) > 0.05 || p.Replay.SwitchInterval != 0 {
		t.Errorf("replay %s at %+.1f %% of the recorded wall, switch interval %d: want free-threaded, within 5 %%, none", p.Replay.Mode, 100*p.ReplayError, p.Replay.SwitchInterval)
	}
	if p.Best.Mode != FreeThreaded || p.BestWallChange != 0 {
		t.Errorf("best %s, wall change %v: want the run as recorded", p.Best.Mode, p.BestWallChange)
	}
}

// TestLongestThreadCoresFullOutside: a thread whose own work dominates is
// not told to split it when the run's processes kept the cores full with
// CPU time outside the traced threads (diagnosis.Machine.CoresFull: QA,
// numpy.dot on OpenBLAS's 2 threads from one Python thread, "splitting
// its work across more workers would help", where 2 threads ran no
// faster); the notes say the model does not know that CPU time.
func TestLongestThreadCoresFullOutside(t *testing.T) {
	own := critical{name: "w0", endNS: 2_880_000_000, startNS: 10_000_000, workNS: 2_800_000_000}
	row := PredictionRow{Mode: Threads, Cores: 2, WallNS: own.endNS, Speedup: 1}
	p := &Prediction{RecordedCores: 2, MeasuredWallNS: own.endNS, Replay: row, Rows: []PredictionRow{row},
		machine: &diagnosis.Machine{CPUNS: 4_916_000_000, WantedCPUNS: 2_788_000_000, Cores: 2, CoresUsed: 0.853, OutsideCPUNS: 2_128_000_000, CoresFull: true}}
	p.choose(WhatIfOptions{}, own)
	if strings.Contains(p.Limit, "would help") || !strings.HasPrefix(p.Limit, "the cores: the run's processes obtained 4.92s") || !strings.Contains(p.Limit, "2.13s of it outside the traced threads") {
		t.Errorf("limit %q: want the full cores named and no advice to split", p.Limit)
	}
	if !strings.Contains(strings.Join(p.Notes, " "), "2.13s of CPU time outside them") {
		t.Errorf("notes %q: want the CPU time the model does not know", p.Notes)
	}
}

// TestLimitSleeps: a thread pacing itself with time.sleep is limited by
// its sleeps, not by "I/O latency" that more threads would split (QA: a
// polling loop was told its I/O split across more threads would help).
func TestLimitSleeps(t *testing.T) {
	row := PredictionRow{Mode: Threads, Cores: 2, WallNS: 1_000_000_000, Speedup: 1}
	for _, tc := range []struct {
		sleep, timeout float64
		want           string
	}{
		{0.9, 0, "its sleeps: poller alone needs 1.00s, mostly in time.sleep (90 % of its work): the program waits on purpose"},
		{0.2, 0, "I/O latency: poller alone needs 1.00s, mostly blocking calls (95 % of its work)"},
		// A timed wait that ran out, given up (I/O "lock-timeout"): not
		// I/O that faster I/O would shorten (QA).
		{0.2, 0.7, "its timed waits: poller alone needs 1.00s, mostly waits for a lock, an event or a queue that ran out (70 % of its work): a shorter timeout"},
	} {
		c := critical{name: "poller", endNS: 1_000_000_000, workNS: 1_000_000_000, ioShare: 0.95, sleepShare: tc.sleep, timeoutShare: tc.timeout}
		p := &Prediction{RecordedCores: 2, Replay: row, Rows: []PredictionRow{row}}
		p.choose(WhatIfOptions{}, c)
		if !strings.HasPrefix(p.Limit, tc.want) {
			t.Errorf("sleep share %.1f, timeouts %.1f: limit %q, want %q", tc.sleep, tc.timeout, p.Limit, tc.want)
		}
	}
}

// TestWhatIfDistorted: a run whose report warns (here a busy machine: the
// CPU time obtained far below what its threads wanted) is predicted with
// a warning above the table that names the distortion, and distorted in
// the JSON; the same run without it has neither. QA: a run traced 30x
// slower than it ran was predicted with no word.
func TestWhatIfDistorted(t *testing.T) {
	tr, err := tracer.ReadFile(filepath.Join(testkit.FixtureDir(), "countdown.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	for _, busy := range []bool{false, true} {
		if busy {
			tr.Meta.Extra["cpu_ns"] = "100000000"
		}
		p, err := WhatIf(context.Background(), tracer.Derive(tr), WhatIfOptions{Source: "countdown.giltrace"})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := p.WriteText(&b); err != nil {
			t.Fatal(err)
		}
		warned := strings.Contains(b.String(), "warning: the run was distorted by a busy machine (")
		if warned != busy || (len(p.Distorted) > 0) != busy {
			t.Errorf("busy %v: distorted %q, warned %v:\n%s", busy, p.Distorted, warned, b.String())
		}
	}
}

// TestCriticalThreadNotTheWaitForProcesses: in a program of several
// processes, a parent waiting for its children (os.waitpid: I/O "wait")
// waits for their work, which their threads count: the longest thread is
// the child's, not the parent that waited for it. In a program of one
// process the same wait is the thread's own. QA: a parent in
// Process.join was "limited by I/O latency: MainThread alone needs 1.36s
// ...; faster I/O, or its I/O split across more threads, would help".
func TestCriticalThreadNotTheWaitForProcesses(t *testing.T) {
	const ms = int64(1_000_000)
	for _, procs := range []int{2, 1} {
		b := testkit.New("pool")
		p := b.FreeThreadedProcess("pool", 1)
		q := p
		if procs == 2 {
			q = b.FreeThreadedProcess("pool child", 2)
		}
		m := b.Thread(p, "MainThread")
		w := b.Thread(q, "worker")
		m.Start(0).IOBegin(1*ms, "wait").IOEnd(900 * ms).End(901 * ms)
		w.Start(0).End(800 * ms)
		c := criticalOf(tracer.Derive(b.Trace()))
		if want := map[int]string{2: "worker", 1: "MainThread"}[procs]; c.name != want {
			t.Errorf("%d processes: the longest thread is %s, want %s", procs, c.name, want)
		}
	}
}

// TestWhatIfOwnIOLimit: a run whose I/O waited on its own pipes and
// connections (diagnosis.OwnIO.High), limited by a thread that is mostly
// blocking calls, is limited by its own threads, not by "I/O latency ...
// faster I/O would help" (QA: a pipe ping-pong). Without the readings the
// same run keeps the I/O latency limit.
func TestWhatIfOwnIOLimit(t *testing.T) {
	tr, err := tracer.ReadFile(filepath.Join(testkit.FixtureDir(), "python-web-scraping-inprocess.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	for _, own := range []bool{false, true} {
		if own {
			tr.Meta.Extra[diagnosis.ExtraIOReadings], tr.Meta.Extra[diagnosis.ExtraOwnIOReadings] = "100", "60"
		}
		p, err := WhatIf(context.Background(), tracer.Derive(tr), WhatIfOptions{Source: "web-scraping.giltrace"})
		if err != nil {
			t.Fatal(err)
		}
		if !own && !strings.HasPrefix(p.Limit, "I/O latency") {
			t.Skipf("the fixture's limit is not I/O latency: %s", p.Limit)
		}
		if got := strings.HasPrefix(p.Limit, "its own threads:"); got != own {
			t.Errorf("own I/O %v: limit %q", own, p.Limit)
		}
	}
}

// TestWhatIfListenNote: a run in which a server thread waited for
// connections (I/O "listen") a tenth of the run or more is predicted with
// a note that its waits are replayed as recorded; a run without has none.
func TestWhatIfListenNote(t *testing.T) {
	const ms = int64(1_000_000)
	for _, kind := range []string{"listen", "network"} {
		b := testkit.New("server")
		p := b.FreeThreadedProcess("server", 1)
		srv, w := b.Thread(p, "server"), b.Thread(p, "worker")
		srv.Start(0).IOBegin(1*ms, kind).IOEnd(300 * ms).End(301 * ms)
		w.Start(0).End(500 * ms)
		q, err := WhatIf(context.Background(), tracer.Derive(b.Trace()), WhatIfOptions{})
		if err != nil {
			t.Fatal(err)
		}
		noted := strings.Contains(strings.Join(q.Notes, "\n"), "server waited 299ms for connections (I/O listen: a server's accept loop), which the model replays as recorded: where its clients would come sooner, as in a faster variant, its waits would be shorter, so the predictions may hold to the recorded pace (the report's arithmetic counts them as the server's I/O; they are not what limits the run).")
		if noted != (kind == "listen") {
			t.Errorf("%s: notes %q", kind, q.Notes)
		}
	}
}

// TestCriticalThreadWithTheReportsIOWork: the critical thread takes each
// thread's I/O work from the report (diagnosis.Report.IOWorkNS): a real
// program's parent reading a pipe while its child computes (a
// multiprocessing queue's get, I/O "disk") waits for that work, and the
// child is the longest thread (QA: "limited by I/O latency: MainThread
// ... faster I/O would help", where the cores limited it).
func TestCriticalThreadWithTheReportsIOWork(t *testing.T) {
	const ms = int64(1_000_000)
	b := testkit.New("pool")
	b.Meta().Extra = map[string]string{"source": "cpython"}
	p, q := b.FreeThreadedProcess("pool", 1), b.FreeThreadedProcess("pool child 2", 2)
	m, w := b.Thread(p, "MainThread"), b.Thread(q, "worker")
	m.Start(0).IOBegin(1*ms, "disk").IOEnd(900 * ms).End(901 * ms)
	w.Start(0).End(800 * ms)
	s := tracer.Derive(b.Trace())
	if c := criticalThread(s, diagnosis.Analyze(s)); c.name != "worker" {
		t.Errorf("the longest thread is %s (needs %d ms), want the child's worker", c.name, c.endNS/ms)
	}
	// The same run of the VM (its processes independent workers: the
	// report counts the parent's read as its work): MainThread.
	delete(s.Trace.Meta.Extra, "source")
	if c := criticalThread(s, diagnosis.Analyze(s)); c.name != "MainThread" {
		t.Errorf("with the parent's read counted, the longest thread is %s, want MainThread", c.name)
	}
}

// TestListenIsNotTheLimit: a server thread's waits for a connection (I/O
// "listen": its accept loop, idle until a client comes or it is shut
// down) are not its own work when What would help looks for the longest
// thread (QA: an in-process server's serve_forever, polling until
// shutdown, was "limited by I/O latency ... faster I/O would help"); the
// same thread's network I/O is.
func TestListenIsNotTheLimit(t *testing.T) {
	const ms = int64(1_000_000)
	for _, kind := range []string{"listen", "network"} {
		b := testkit.New("server")
		p := b.FreeThreadedProcess("server", 1)
		srv, w := b.Thread(p, "server"), b.Thread(p, "worker")
		srv.Start(0).IOBegin(1*ms, kind).IOEnd(900 * ms).End(901 * ms)
		w.Start(0).End(500 * ms)
		s := tracer.Derive(b.Trace())
		c := criticalThread(s, diagnosis.Analyze(s))
		if want := map[string]string{"listen": "worker", "network": "server"}[kind]; c.name != want {
			t.Errorf("%s: the longest thread is %s, want %s", kind, c.name, want)
		}
	}
}

// TestListenNotTakenOffTwice: in a real program of several processes, a
// server's wait for a connection that overlapped another process's CPU
// work is taken off once, in the report's I/O work (review: taken off
// again whole, the server's 900 ms of network I/O after it became 101 ms,
// and the worker of the other process its longest thread).
func TestListenNotTakenOffTwice(t *testing.T) {
	const ms = int64(1_000_000)
	b := testkit.New("server")
	b.Meta().Extra = map[string]string{"source": "cpython"}
	p, q := b.FreeThreadedProcess("server", 1), b.FreeThreadedProcess("server child 2", 2)
	srv, w := b.Thread(p, "server"), b.Thread(q, "worker")
	srv.Start(0).IOBegin(1*ms, "listen").IOEnd(800*ms).IOBegin(800*ms, "network").IOEnd(1700 * ms).End(1701 * ms)
	w.Start(0).End(800 * ms)
	s := tracer.Derive(b.Trace())
	if c := criticalThread(s, diagnosis.Analyze(s)); c.name != "server" {
		t.Errorf("the longest thread is %s (needs %d ms), want the server (900 ms of network I/O)", c.name, c.endNS/ms)
	}
}

// criticalOf is criticalThread of s with its report.
func criticalOf(s *tracer.Spans) critical { return criticalThread(s, diagnosis.Analyze(s)) }

// TestWhatIfWaitsOnItsOwnPipes: the what-if of two real programs whose
// threads wait on their own pipes (I/O "own-io", CPython 3.11): a
// multiprocessing.pool.ThreadPool mapping CPU-bound tasks (its worker
// handler until the pool's cache empties) and asyncio's run_in_executor
// (the event loop on its self-pipe, and asyncio.run's shutdown thread,
// which starts before its starter waits on it). Processes on 2 cores are
// predicted 1.4x or more as fast as the recorded run; replayed as I/O of
// their lengths (and the shutdown thread at its recorded start), every
// variant ran as recorded, about 1.0x.
func TestWhatIfWaitsOnItsOwnPipes(t *testing.T) {
	for _, name := range []string{"pool-map", "aio-executor"} {
		tr, err := tracer.ReadFile("../diagnosis/testdata/" + name + ".giltrace")
		if err != nil {
			t.Fatal(err)
		}
		p, err := WhatIf(context.Background(), tracer.Derive(tr), WhatIfOptions{Source: name})
		if err != nil {
			t.Fatal(err)
		}
		rec := p.asRecorded()
		for _, r := range p.Rows {
			if r.Mode == Processes && r.Cores == 2 && r.Speedup < 1.4*rec.Speedup {
				t.Errorf("%s: processes on 2 cores %.2fx, as recorded %.2fx: want 1.4 times as fast or more", name, r.Speedup, rec.Speedup)
			}
		}
	}
}

// TestWhatIfStartedInThreadStart: in a recording of asyncio's
// run_in_executor whose shutdown thread the event loop joins only after it
// ended (diagnosis/testdata/aio-shutdown.giltrace), the shutdown thread
// starts where the loop started it (model: a wait in Thread.start), not at
// its recorded time, so that processes on 2 cores are faster than as
// recorded: predicted 1.29x (1.25-1.43x over seven recordings, 1.36-1.46x
// over the reviewer's four on 3.10-3.13), measured 1.46x untraced
// (docs/what-if.md). Held at its recorded start, every
// variant was 1.00x.
func TestWhatIfStartedInThreadStart(t *testing.T) {
	tr, err := tracer.ReadFile("../diagnosis/testdata/aio-shutdown.giltrace")
	if err != nil {
		t.Fatal(err)
	}
	p, err := WhatIf(context.Background(), tracer.Derive(tr), WhatIfOptions{Source: "aio-shutdown"})
	if err != nil {
		t.Fatal(err)
	}
	rec := p.asRecorded()
	for _, r := range p.Rows {
		if r.Mode == Processes && r.Cores == 2 && r.Speedup < 1.2*rec.Speedup {
			t.Errorf("processes on 2 cores %.2fx, as recorded %.2fx: want 1.2 times as fast or more", r.Speedup, rec.Speedup)
		}
	}
}

// TestWhatIfSeedSpread: the best option does not hang on the seed. The
// model's random choices (the waiter a release wakes, drawn durations)
// move a replay from seed to seed; a change is named only if it beats the
// run as recorded at its shortest over SpreadSeeds seeds. On the committed
// daemon-threads trace seeds 1, 2, 4 and 5 named processes for 4 % and
// seed 3 nothing (QA: a thread pool on one core was told a 1 ms switch
// interval, a 2 ms one or nothing, by seed).
func TestWhatIfSeedSpread(t *testing.T) {
	s := fixtureSpans(t, "python-daemon-threads")
	var first PredictionRow
	for seed := int64(1); seed <= 5; seed++ {
		p, err := WhatIf(context.Background(), s, WhatIfOptions{Seed: &seed})
		if err != nil {
			t.Fatal(err)
		}
		if p.SeedSpread <= 0 || p.spreadSeeds != [2]int64{seed, seed + SpreadSeeds - 1} {
			t.Errorf("seed %d: spread %v over seeds %v", seed, p.SeedSpread, p.spreadSeeds)
		}
		b := p.Best
		b.WallNS, b.Speedup, b.Verdicts, b.Near, b.SeedWallsNS = 0, 0, "", "", nil
		if seed == 1 {
			first = b
		} else if b != first {
			t.Errorf("seed %d: best %+v, seed 1's %+v", seed, b, first)
		}
	}

	// Within the spread: held back, and named in its line; beyond it,
	// named.
	replay := PredictionRow{Mode: Threads, Cores: 2, WallNS: 1000, Speedup: 1.0}
	p := &Prediction{Workload: "w", RecordedCores: 2, MeasuredWallNS: 1000, SerialNS: 1000, Measured: 1.0, Replay: replay,
		Rows:       []PredictionRow{replay, {Mode: Processes, Cores: 2, WallNS: 900, Speedup: 1.111}},
		SeedSpread: 0.11, spreadSeeds: [2]int64{1, 5}, spreadShortest: 905}
	p.choose(WhatIfOptions{}, critical{})
	if p.Best != replay || p.withinSpread.Mode != Processes {
		t.Fatalf("best %+v, held back %+v; want the replay, processes held back", p.Best, p.withinSpread)
	}
	var text strings.Builder
	if err := p.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	if want := "move the run as recorded by up to 11 % from seed to seed (seeds 1-5, wall 905ns at the shortest): a change is named best only if it beats that; processes (multiprocessing, one per thread) (wall 900ns, 10 % less at seed 1) is within that"; !strings.Contains(text.String(), want) {
		t.Errorf("no %q in:\n%s", want, text.String())
	}
	p.spreadShortest, p.withinSpread = 1000, PredictionRow{}
	if p.choose(WhatIfOptions{}, critical{}); p.Best.Mode != Processes || p.withinSpread.Cores != 0 {
		t.Errorf("beyond the spread: best %+v, held back %+v; want processes", p.Best, p.withinSpread)
	}
}

// testdataWhatIf is the prediction for testdata/file with options o.
func testdataWhatIf(t *testing.T, file string, o WhatIfOptions) *Prediction {
	t.Helper()
	tr, err := tracer.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	p, err := WhatIf(context.Background(), tracer.Derive(tr), o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// rowOf is prediction p's row of mode on cores cores (the last one
// listed), or a zero row.
func rowOf(p *Prediction, mode string, cores int) PredictionRow {
	var out PredictionRow
	for _, r := range p.Rows {
		if r.Mode == mode && r.Cores == cores {
			out = r
		}
	}
	return out
}

// TestWhatIfPoolOnMoreCores: fixtures/python/multiprocessing_pool.py (a
// Pool(2).map of two CPU-bound countdowns) recorded on 1 core, traced
// wall 787 ms (testdata/pool-1core-quiet.giltrace; 2026-12-05, CPython
// 3.11.7). Its result handler woke 3.8 ms after a worker began its result
// write, which returned 13 ms after (the worker waited for the one core):
// taken for no write, the handler's 394 ms read kept its length and held
// processes on 2 cores at 722 ms. Recorded on 2 cores, the program's traced
// wall is 559 ms (the python-multiprocessing-pool fixture); untraced it
// runs in 0.44-0.47 s on 2 cores and 0.74-0.76 s on 1. On the busy
// machine's recording (testdata/pool-1core.giltrace) the worker handler
// and the task handler had kept 879 and 872 ms (a write that returned 2.4
// ms after the wake-up; a task queue's put 4.4 ms before its get returned,
// the GIL idle between: tracer.IdleNotifyWindow), and every row on 2 cores
// ended with them.
func TestWhatIfPoolOnMoreCores(t *testing.T) {
	for _, tc := range []struct {
		file     string
		min, max time.Duration
	}{
		{"pool-1core-quiet.giltrace", 500 * time.Millisecond, 650 * time.Millisecond},
		{"pool-1core.giltrace", 0, 1600 * time.Millisecond},
		// QA's Pool(4).imap_unordered (972 ms; 1.07 s while its worker
		// handler, woken after two result writes began as near, kept its
		// length) and a parent's Queue.get of two children's results (594
		// ms; 804 ms while it kept its 435 ms), both recorded on 1 core
		// under taskset beside a loaded machine (docs/what-if.md).
		{"pool4-imap-1core.giltrace", 0, 1000 * time.Millisecond},
		{"queue-get-1core.giltrace", 0, 650 * time.Millisecond},
	} {
		p := testdataWhatIf(t, tc.file, WhatIfOptions{Cores: 2})
		two := rowOf(p, Processes, 2)
		if w := time.Duration(two.WallNS); w < tc.min || w > tc.max {
			t.Errorf("%s: processes on 2 cores %v, want %v-%v", tc.file, w, tc.min, tc.max)
		}
		if p.keptWaits || slices.ContainsFunc(p.Notes, func(n string) bool { return strings.Contains(n, "keep their recorded length") }) {
			t.Errorf("%s: a wait between processes kept its length: %q", tc.file, p.Notes)
		}
	}
}

// TestWhatIfProcessWaits: in a real program of several processes, the
// waits that the trace shows another process ended (a write on a pipe
// between them, a child's exit) end in the model when that process gets
// there, and the note says how many. testdata/join-1core.giltrace is
// testdata/join2.py (a parent joining 2 CPU-bound children) recorded on 1
// core: its waits for the children kept their recorded length, and it was
// predicted 1.02-1.03x on 2 cores (1.57 s), beside a note and a limit that
// said so; untraced, it runs in 0.87-0.91 s on 2 cores and 1.34-1.36 s on
// 1 (QA, 2026-12-05). Now processes on 2 cores are predicted 0.97 s (the
// traced run was 1.57 s on 1 core). A run of one process has no such
// note.
func TestWhatIfProcessWaits(t *testing.T) {
	p := testdataWhatIf(t, "join-1core.giltrace", WhatIfOptions{Cores: 2})
	two := rowOf(p, Processes, 2)
	if two.WallNS < int64(900*time.Millisecond) || two.WallNS > int64(1050*time.Millisecond) {
		t.Errorf("processes on 2 cores: %v, want 0.9-1.05 s (untraced, the program runs in 0.87-0.91 s); rows %+v", time.Duration(two.WallNS), p.Rows)
	}
	if !slices.ContainsFunc(p.Notes, func(n string) bool {
		return strings.HasPrefix(n, "The run had 3 processes: ") && strings.Contains(n, "of its waits that the trace shows another process ended") && !strings.Contains(n, "keep their recorded length")
	}) {
		t.Errorf("no note on the processes' waits: %q", p.Notes)
	}
	if p.keptWaits || strings.Contains(p.Limit, "may not say what more cores would give") {
		t.Errorf("limit %q says a wait between processes kept its length", p.Limit)
	}
	pool, err := WhatIf(context.Background(), fixtureSpans(t, "python-multiprocessing-pool"), WhatIfOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(pool.Notes, func(n string) bool {
		return strings.HasPrefix(n, "The run had 3 processes: ") && strings.Contains(n, " of its waits that the trace shows another process ended") && !strings.Contains(n, ": 0 of its waits")
	}) {
		t.Errorf("no note on the pool's processes' waits: %q", pool.Notes)
	}
	one, err := WhatIf(context.Background(), fixtureSpans(t, "python-countdown"), WhatIfOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range one.Notes {
		if strings.HasPrefix(n, "The run had") {
			t.Errorf("a run of one process noted %q", n)
		}
	}
}

// TestWhatIfRowSeeds: each threads row is the run of the median wall of
// RowSeeds seeds, and lists their walls; medianRow leaves an outlier out.
// The trace (testdata, from QA) is a multiprocessing.Pool(2) recorded on 1
// core: as threads on 1 core at 2 ms, seed 1 once made the two workers hand
// the GIL to each other for 830 ms while three threads timed out behind
// them, 2.79 s where the other intervals and seeds took 1.93-1.95 s, and
// the row showed 2.79 s (0.77x). (Since its task handler's wait ends at
// its notifier, tracer.IdleNotifyWindow, no seed does so on this trace.)
func TestWhatIfRowSeeds(t *testing.T) {
	tr, err := tracer.ReadFile(filepath.Join("testdata", "pool-1core.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	seed := int64(1)
	p, err := WhatIf(context.Background(), tracer.Derive(tr), WhatIfOptions{Seed: &seed, Cores: 4})
	if err != nil {
		t.Fatal(err)
	}
	threads := 0
	for _, r := range p.Rows {
		if r.Mode != Threads {
			if r.SeedWallsNS != nil {
				t.Errorf("%s row with seed walls %v", r.Mode, *r.SeedWallsNS)
			}
			continue
		}
		threads++
		if r.SeedWallsNS == nil {
			t.Errorf("threads row %+v without its seeds' walls", r)
			continue
		}
		w := *r.SeedWallsNS
		sorted := slices.Clone(w[:])
		slices.Sort(sorted)
		if r.WallNS != sorted[1] {
			t.Errorf("threads row on %d cores at %v: wall %d, seeds' walls %v", r.Cores, time.Duration(r.SwitchInterval), r.WallNS, w)
		}
	}
	if threads < 4 {
		t.Errorf("%d threads rows: %+v", threads, p.Rows)
	}
	row := func(wall int64, verdicts string) PredictionRow {
		return PredictionRow{Mode: Threads, Cores: 1, WallNS: wall, Verdicts: verdicts}
	}
	for _, tc := range []struct {
		runs []PredictionRow
		want PredictionRow
	}{
		{[]PredictionRow{row(2790, "convoy"), row(1930, "gil-bound"), row(1950, "cpu-saturated")}, row(1950, "cpu-saturated")},
		{[]PredictionRow{row(1930, "a"), row(1930, "b"), row(1950, "c")}, row(1930, "a")}, // equal walls: the run's own seed
		{[]PredictionRow{row(1950, "a"), row(1930, "b"), row(1930, "c")}, row(1930, "b")},
		{[]PredictionRow{row(10, "a"), row(30, "b"), row(20, "c"), row(40, "d")}, row(20, "c")}, // even: the lower middle
	} {
		if got := medianRow(tc.runs); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("medianRow(%+v) = %+v, want %+v", tc.runs, got, tc.want)
		}
	}
}

// TestWhatIfKeptWaitLimit: a long wait between processes that the model
// keeps at its recorded length (no write or exit of another process was
// seen to end it) makes a limit by the cores say so: the rows on more
// cores may not show what more cores would give, and never that they
// predict no gain (QA: a pool recorded on 1 core was told both). The
// pool's trace, with its worker handler's 879 ms select made a wait for
// a child's exit (I/O "wait"), which no exit ended: the rows on 2 cores
// still gain, from less than they would.
func TestWhatIfKeptWaitLimit(t *testing.T) {
	tr, err := tracer.ReadFile(filepath.Join("testdata", "pool-1core.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	wait := slices.Index(tr.Strings, "wait")
	if wait < 0 {
		t.Fatal(`no I/O "wait" in the trace`)
	}
	changed := 0
	for i, e := range tr.Events {
		// The worker handler's select, from 919.255 ms, made a wait for a
		// child's exit, which none ended then.
		if e.Kind == tracer.KindIOBegin && tr.Threads[e.Thread].Name == "Thread-1 (_handle_workers)" && e.Time/int64(time.Millisecond) == 919 {
			tr.Events[i].Arg = uint64(wait)
			changed++
		}
	}
	if changed != 1 {
		t.Fatalf("%d calls of the worker handler at 919 ms, want 1", changed)
	}
	seed := int64(1)
	p, err := WhatIf(context.Background(), tracer.Derive(tr), WhatIfOptions{Seed: &seed, Cores: 4})
	if err != nil {
		t.Fatal(err)
	}
	if !p.keptWaits || !strings.HasPrefix(p.Limit, "the cores: on 2 cores processes would run ") || !strings.HasSuffix(p.Limit, "(predicted), or faster: a wait between its processes keeps its recorded length (the note below)") {
		t.Errorf("kept %v, limit %q, notes %q", p.keptWaits, p.Limit, p.Notes)
	}

	// VM runs of 2 processes on 2 cores whose threads wait for the other
	// process: the rows on 4 cores may fall short, whether the cores
	// (a short wait) or the work (a long one) limit the run; without a
	// wait, the two counters have nothing to keep (the multiprocessing
	// fixture).
	vmRun := func(wait string) *tracer.Spans {
		w, err := workload.Parse("procs.yaml", []byte(`name: procs
clock: virtual
cores: 2
processes: 2
threads:
  - {name: counter, run: count}
functions:
  count:
    - compute: 200ms
    - io: {duration: `+wait+`, kind: wait}
    - compute: 100ms
`))
		if err != nil {
			t.Fatal(err)
		}
		vt, err := vm.Run(context.Background(), w, vm.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return tracer.Derive(vt)
	}
	for _, tc := range []struct {
		s           *tracer.Spans
		kept        bool
		limitBegins string
	}{
		{vmRun("5ms"), true, "the cores: "},
		{vmRun("100ms"), true, "the work itself: "},
		{fixtureSpans(t, "multiprocessing"), false, "the cores: "},
	} {
		p, err := WhatIf(context.Background(), tc.s, WhatIfOptions{Seed: &seed, Cores: 4})
		if err != nil {
			t.Fatal(err)
		}
		mayNot := strings.Contains(p.Limit, "the rows on more cores may not say what more cores would give")
		noGain := strings.Contains(p.Limit, "predict no more than") || strings.Contains(p.Limit, "more cores would not help")
		if p.keptWaits != tc.kept || mayNot != tc.kept || noGain == tc.kept || !strings.HasPrefix(p.Limit, tc.limitBegins) {
			t.Errorf("%s: kept %v, limit %q, notes %q", tc.s.Trace.Meta.Workload, p.keptWaits, p.Limit, p.Notes)
		}
	}
}

// TestWhatIfLimitHoldsGIL: a longest thread whose work is mostly native
// calls that keep the GIL is not told that more workers would help (QA:
// the C extension fixture, 95 % native+GIL); processes or calls that
// release the GIL would.
func TestWhatIfLimitHoldsGIL(t *testing.T) {
	p, err := WhatIf(context.Background(), fixtureSpans(t, "python-c-extension-holding-gil"), WhatIfOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.Limit, "mostly native calls that keep the GIL") || strings.Contains(p.Limit, "more workers would help") {
		t.Errorf("limit %q", p.Limit)
	}
}

// TestWhatIfRecordedCoresNotAPowerOfTwo: a run recorded on 6 cores,
// predicted with the default --cores (8), runs every mode on 6 cores too,
// and its best option there is a mode without the GIL (QA: 8 CPU-bound
// threads recorded on 6 cores ran 1, 2, 4 and 8 cores and were told
// "best on 6 cores: threads, as recorded, predicted 1.00x").
func TestWhatIfRecordedCoresNotAPowerOfTwo(t *testing.T) {
	tr, err := virtualRun(t, `name: cpu8
threads:
  - {name: w, count: 8, run: work}
functions:
  work:
    - compute: 50ms
`, 6)
	if err != nil {
		t.Fatal(err)
	}
	p, err := WhatIf(context.Background(), tracer.Derive(tr), WhatIfOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range AllModes {
		if got, want := modeCores(p, m), []int{1, 2, 4, 6, 8}; !slices.Equal(got, want) {
			t.Errorf("%s rows on %v cores, want %v", m, got, want)
		}
	}
	if p.Best.Cores != 6 || p.Best.Mode == Threads || p.Best.Speedup < 5 {
		t.Errorf("best %+v, want processes or free-threaded on 6 cores, about 6x", p.Best)
	}
}

// TestWhatIfPartialTrace: the what-if of a partial trace (a run stopped
// by a deadlock) says so above its best option, and in whatif.json; the
// model's header says so too (QA: a run deadlocked at 10 us was told that
// processes would cut it by 95 %, with no word of the deadlock).
func TestWhatIfPartialTrace(t *testing.T) {
	tr, err := virtualRun(t, `name: dl
threads:
  - {name: x, run: fx}
  - {name: y, run: fy}
functions:
  fx: [{compute: 2ms}, {join: y}, {notify: go}]
  fy: [{compute: 1ms}, {wait: {lock: go, until: notify}}]
`, 0)
	if err == nil || tr == nil {
		t.Fatalf("Run: %v, want a deadlock and its trace", err)
	}
	for _, partial := range []bool{true, false} {
		if !partial {
			delete(tr.Meta.Extra, "interrupted")
		}
		p, err := WhatIf(context.Background(), tracer.Derive(tr), WhatIfOptions{Cores: 2})
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		if err := p.WriteText(&b); err != nil {
			t.Fatal(err)
		}
		const want = `warning: the trace is partial (interrupted (every thread is waiting for a notify or a lock that no running thread will give (deadlock): x joins y; y waits for a notify on "go"))`
		if got := strings.Contains(b.String(), want); got != partial || (p.Partial != "") != partial {
			t.Errorf("partial %v: Partial %q, text:\n%s", partial, p.Partial, b.String())
		}
		if partial && !strings.Contains(string(p.Model), "# The trace is partial (interrupted (every thread is waiting") {
			t.Errorf("the model's header does not say the trace is partial:\n%.600s", p.Model)
		}
	}
}

// TestWhatIfProcessesAsThreadsNamed: a run of several processes whose
// best option is its threads in one process says so, not "threads, as
// recorded" (QA: a run of 3 processes recorded on 1 core was told "best
// on 1 core: threads, as recorded, ... 5 % less wall time").
func TestWhatIfProcessesAsThreadsNamed(t *testing.T) {
	tr, err := virtualRun(t, `name: procs
processes: 3
threads:
  - {name: MainThread, run: parent, process: 1}
  - {name: results, run: collect, process: 1}
  - {name: MainThread, run: work, process: 2}
  - {name: MainThread, run: work, process: 3}
  - {name: helper, run: help}
functions:
  parent: [{compute: 5ms}, {join: results}]
  collect: [{io: {duration: 500ms, kind: pipe, until: res}}, {io: {duration: 500ms, kind: pipe, until: res}}]
  work: [{compute: 100ms}, {notify: res}]
  help: [{sleep: 10ms}]
`, 1)
	if err != nil {
		t.Fatal(err)
	}
	p, err := WhatIf(context.Background(), tracer.Derive(tr), WhatIfOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := p.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	if p.Best.Mode != Threads {
		t.Fatalf("best %+v: want threads, whose name this tests (the model changed: find another run whose best is threads)", p.Best)
	}
	if s := b.String(); strings.Contains(s, "threads, as recorded") || !strings.Contains(s, "best on 1 core: threads (every process's threads in one process, under one GIL)") {
		t.Errorf("a run of 3 processes, its best as threads:\n%s", s)
	}
}

// TestLimitDelayedStart: a thread that starts late by itself (start_after),
// with no starter and less work before it than its delay, is limited by
// when it started, and the other threads' work is not blamed (QA: "after
// worker-2's 10.0ms of work and 5.00ms of blocking calls ... shortening
// that serial work, or starting the workers sooner, would" for a 50 ms
// start_after).
func TestLimitDelayedStart(t *testing.T) {
	for _, main := range []string{"", "  - {name: main, run: main}\n"} {
		// With a main thread joining them, its join is no start of late
		// (review: it was named late's starter, its 1 ms of work the
		// serial work to shorten).
		tr, err := virtualRun(t, `name: late
threads:
`+main+`  - {name: worker, count: 2, run: work}
  - {name: late, run: late_job, start_after: 50ms}
functions:
  main: [{compute: 1ms}, {join: worker}, {join: late}]
  work: [{compute: 10ms}, {io: 5ms}]
  late_job: [{compute: 20ms}]
`, 2)
		if err != nil {
			t.Fatal(err)
		}
		p, err := WhatIf(context.Background(), tracer.Derive(tr), WhatIfOptions{Cores: 2})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(p.Limit, "when late started: it ends 70.0ms into the run, but its own work is 20.0ms; it started at 50.0ms, and no thread started it then") ||
			!strings.Contains(p.Limit, "start_after in a workload") || strings.Contains(p.Limit, "shortening that serial work") {
			t.Errorf("main %v: limit %q", main != "", p.Limit)
		}
	}
}

// virtualRun runs workload src in virtual time on cores simulated cores
// (0: a core per thread), failing the test if it does not load.
func virtualRun(t *testing.T, src string, cores int) (*tracer.Trace, error) {
	t.Helper()
	w, err := workload.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	return vm.Run(context.Background(), w, vm.Options{ClockMode: workload.ClockVirtual, Cores: cores})
}

// modeCores are the cores of mode m's rows of p (not the sweep's).
func modeCores(p *Prediction, m string) []int {
	var out []int
	for _, r := range p.Rows {
		if r.Mode == m && r.SwitchInterval == 0 {
			out = append(out, r.Cores)
		}
	}
	return out
}

// TestWhatIfSwitchIntervalOnOneCore: scripts/whatif/sleeper.py (60 sleeps
// of 1 ms beside two CPU-bound daemon threads) recorded with record --cpus
// 0 at 5 ms (testdata/sleeper-1core.giltrace, CPython 3.12.1, QA). Timed
// untraced on 1 CPU it runs 0.25, 0.38, 0.96, 1.57 and 2.91 s at 1, 2, 5,
// 10 and 20 ms; the threads rows on 1 core follow it up to 5 ms (334, 580
// and 929 ms), and fall short above it, where the daemons' modelled work
// runs out (docs/what-if.md, "Accuracy"). Before the VM kept a released
// core for the thread the release woke, 1 ms was the slowest row (1.06 s).
func TestWhatIfSwitchIntervalOnOneCore(t *testing.T) {
	p := testdataWhatIf(t, "sleeper-1core.giltrace", WhatIfOptions{})
	at := map[time.Duration]int64{}
	for _, r := range p.Rows {
		if r.Mode == Threads && r.Cores == 1 && r.SwitchInterval > 0 {
			at[time.Duration(r.SwitchInterval)] = r.WallNS
		}
	}
	ms := time.Millisecond
	t.Logf("threads on 1 core by switch interval: %v", at)
	if !(at[ms] < at[2*ms] && at[2*ms] < at[5*ms] && at[5*ms] <= at[10*ms] && at[10*ms] <= at[20*ms]) || 2*at[ms] > at[5*ms] {
		t.Errorf("walls %v: want them to grow with the interval, 1 ms at most half of 5 ms", at)
	}
}
