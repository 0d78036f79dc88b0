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
