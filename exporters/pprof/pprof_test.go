package pprof_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/exporters/pprof"
	"github.com/giltrace/giltrace/internal/golden"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
	"github.com/google/pprof/profile"
)

var kinds = []pprof.Kind{pprof.KindWait, pprof.KindBlame, pprof.KindWall}

func export(t testing.TB, tr *tracer.Trace, k pprof.Kind) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := pprof.New(&buf, k).Export(context.Background(), tracer.Derive(tr)); err != nil {
		t.Fatalf("exporting %v profile: %v", k, err)
	}
	return buf.Bytes()
}

// TestGolden checks every trace x profile against testdata/CASE.KIND.txt,
// the text form of the profile read back from the written bytes, and that
// exporting twice gives the same bytes.
func TestGolden(t *testing.T) {
	for _, c := range testkit.All(t) {
		for _, k := range kinds {
			t.Run(c.Name+"/"+k.String(), func(t *testing.T) {
				data := export(t, c.Trace, k)
				if again := export(t, c.Trace, k); !bytes.Equal(data, again) {
					t.Fatal("two exports of the same trace differ")
				}
				p, err := profile.Parse(bytes.NewReader(data))
				if err != nil {
					t.Fatalf("parsing the written profile: %v", err)
				}
				if err := p.CheckValid(); err != nil {
					t.Fatalf("CheckValid: %v", err)
				}
				golden.Check(t, filepath.Join("testdata", c.Name+"."+k.String()+".txt"), []byte(p.String()))
			})
		}
	}
}

func TestProfileLabels(t *testing.T) {
	s := tracer.Derive(testkit.Scenarios()[1].Trace) // mixed: a guest lock, I/O, two processes
	for _, k := range kinds {
		p, err := pprof.Profile(s, k)
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Sample) == 0 {
			t.Fatalf("%v: no samples", k)
		}
		var lock bool
		for _, smp := range p.Sample {
			for _, name := range []string{"thread", "state", "process"} {
				if len(smp.Label[name]) != 1 || smp.Label[name][0] == "" {
					t.Errorf("%v: sample %v lacks label %s", k, smp.Label, name)
				}
			}
			if k == pprof.KindBlame && len(smp.Label["waiter"]) != 1 {
				t.Errorf("blame sample %v lacks label waiter", smp.Label)
			}
			if l := smp.Label["lock"]; len(l) > 0 {
				lock = true
				// In the blame profile the state is the holder's, which may be anything.
				if l[0] != "cache" || (k != pprof.KindBlame && smp.Label["state"][0] == "gil-wait") {
					t.Errorf("%v: lock label on %v", k, smp.Label)
				}
			}
			for _, loc := range smp.Location {
				if fn := loc.Line[0].Function; fn.Filename != "test.yaml" && fn.Name[0] != '[' {
					t.Errorf("%v: function %s in file %q", k, fn.Name, fn.Filename)
				}
			}
		}
		if !lock {
			t.Errorf("%v: no sample has the lock label of the guest lock wait", k)
		}
		if p.TimeNanos == 0 || p.DurationNanos != s.Trace.Duration() || len(p.Mapping) != 1 || len(p.Comments) == 0 {
			t.Errorf("%v: header time %d duration %d mappings %d comments %d", k, p.TimeNanos, p.DurationNanos, len(p.Mapping), len(p.Comments))
		}
	}
}

func TestUnknownKind(t *testing.T) {
	err := pprof.New(&bytes.Buffer{}, 0).Export(context.Background(), tracer.Derive(testkit.Scenarios()[0].Trace))
	if err == nil {
		t.Fatal("exporting kind 0 succeeded")
	}
}

func TestCanceled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := pprof.NewWait(&bytes.Buffer{}).Export(ctx, tracer.Derive(testkit.Scenarios()[0].Trace)); err == nil {
		t.Fatal("export with a canceled context succeeded")
	}
}

// TestEmpty checks that a trace without events gives valid, empty profiles.
func TestEmpty(t *testing.T) {
	for _, k := range kinds {
		p, err := profile.Parse(bytes.NewReader(export(t, testkit.New("empty").Trace(), k)))
		if err != nil || len(p.Sample) != 0 || p.CheckValid() != nil {
			t.Errorf("%v: %v, %d samples", k, err, len(p.Sample))
		}
	}
}

// TestBlameManyWaiters: 400 threads queueing for one GIL make more blame
// parts than the per-event budget; the blame profile then sums the held
// parts per holder stack without the waiter label, and still charges
// exactly the waits' total, with as many samples as holders, not
// holders x waiters.
func TestBlameManyWaiters(t *testing.T) {
	tr := testkit.CPUThreads(400, 500)
	s := tracer.Derive(tr)
	parts := 0
	for i := range s.Waits {
		parts += s.BlameParts(&s.Waits[i])
	}
	if parts <= pprof.BlamePartsPerEvent*len(tr.Events)+pprof.MinBlameParts {
		t.Fatalf("only %d blame parts for %d events: the budget is not exceeded", parts, len(tr.Events))
	}
	blame, err := pprof.Profile(s, pprof.KindBlame)
	if err != nil {
		t.Fatal(err)
	}
	var waited, charged int64
	for _, w := range s.Waits {
		waited += w.End - w.Start
	}
	for _, smp := range blame.Sample {
		charged += smp.Value[1]
		if smp.Label["state"][0] != "handoff" && smp.Label["waiter"] != nil {
			t.Errorf("held part with a waiter label: %v", smp.Label)
		}
	}
	if charged != waited {
		t.Errorf("blame charges %d ns, the waits total %d", charged, waited)
	}
	if n := len(blame.Sample); n > 2*len(tr.Threads)+len(s.Waits) {
		t.Errorf("%d samples for %d threads", n, len(tr.Threads))
	}
}

// TestCommentsOnce: the metadata's Extra does not repeat a key the
// comments give already with the same value (QA: a virtual run's cores and
// every run's processes were listed twice); a different value is kept.
func TestCommentsOnce(t *testing.T) {
	tr := *testkit.Scenarios()[0].Trace
	tr.Meta.Cores = 2
	tr.Meta.Extra = map[string]string{"clock": "virtual", "cores": "2", "processes": "7", "seed": "1"}
	p, err := pprof.Profile(tracer.Derive(&tr), pprof.KindWall)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, c := range p.Comments {
		count[c]++
	}
	for _, want := range []string{"cores: 2", "clock: virtual", "seed: 1", fmt.Sprintf("processes: %d", len(tr.Procs)), "processes: 7"} {
		if count[want] != 1 {
			t.Errorf("comment %q %d times, want once:\n%s", want, count[want], strings.Join(p.Comments, "\n"))
		}
	}
}
