package compare

import (
	"bytes"
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
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
// running, GIL wait and I/O within 10 points of the measured share.
const replayTolerance = 0.10

// TestReplayRealTraces replays the model of every recorded real CPython
// fixture (fixtures/traces/python-*.giltrace) as recorded, in virtual time,
// and checks it against the run: the wall time, and each thread's split of
// its wall into running, GIL wait and I/O. lock_contention is left out: the
// recorder does not see when an uncontended critical section starts and
// ends, so its model cannot serialise the work; so is a thread that spent
// more than a tenth of its wall waiting for other threads (the main thread
// joining its workers): in the replay its joins race the joined threads'
// first hold of the GIL, which moves its own split but not the run's wall
// (docs/what-if.md).
func TestReplayRealTraces(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join(testkit.FixtureDir(), "python-*.giltrace"))
	if len(paths) == 0 {
		t.Fatal("no recorded real CPython traces in fixtures/traces (scripts/record-python-traces.sh)")
	}
	for _, path := range paths {
		name := filepath.Base(path)
		if name == "python-lock-contention.giltrace" || name == "python-multiprocessing-pool.giltrace" {
			continue
		}
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
			replay, err := Replay(context.Background(), p.Model, tr.Meta.Cores)
			if err != nil {
				t.Fatal(err)
			}
			rs := tracer.Derive(replay)
			byName := map[string]tracer.ThreadID{}
			for id, th := range replay.Threads {
				byName[th.Name] = tracer.ThreadID(id)
			}
			for id, th := range tr.Threads {
				want := s.ThreadTotals(tracer.ThreadID(id))
				rid, ok := byName[th.Name]
				if !ok || float64(want[tracer.StateLockWait]) > 0.1*float64(want.Sum()) {
					continue // a thread that did nothing the model keeps, or a joiner
				}
				got := rs.ThreadTotals(rid)
				for _, st := range []tracer.State{tracer.StateRunning, tracer.StateGILWait, tracer.StateIO} {
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
