package diagnosis

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// TestLimitNamesTheProcess: a thread that bounds the estimates is named
// with its process when a thread of another process has its name (every
// process has a MainThread): web_scraping's site, a child process, was
// "bounded by MainThread". A name of its own stays bare.
func TestLimitNamesTheProcess(t *testing.T) {
	tr, err := tracer.ReadFile(filepath.Join(testkit.FixtureDir(), "python-web-scraping.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	l := Analyze(tracer.Derive(tr)).Speedup.Limit
	if l.Kind != LimitThread || l.Name != "MainThread" || !strings.HasPrefix(l.Process, "web_scraping child ") ||
		!strings.HasPrefix(l.Text, "MainThread (web_scraping child ") {
		t.Errorf("limit %+v, want the child's MainThread named with its process", l)
	}
	// One process: its MainThread bounds the estimates, named alone.
	tr, err = tracer.ReadFile(filepath.Join(testkit.FixtureDir(), "python-daemon-threads.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	if l := Analyze(tracer.Derive(tr)).Speedup.Limit; l.Kind != LimitThread || l.Name != "MainThread" || l.Process != "" || !strings.HasPrefix(l.Text, "MainThread, ") {
		t.Errorf("limit %+v, want MainThread of the one process, named alone", l)
	}
}

// TestNoVerdictNamesTheProcess: the thread whose own work bounds a run
// with no verdict is named with its process when another process has a
// thread of its name; the JSON's thread stays the name.
func TestNoVerdictNamesTheProcess(t *testing.T) {
	const ms = int64(1_000_000)
	b := testkit.New("two-mains")
	p1, p2 := b.Process("app", 1), b.Process("app child 2", 2)
	f := b.Func("compute", 3)
	gil1, gil2 := tracer.LockID(0), tracer.LockID(1)
	m1, w1, m2 := b.Thread(p1, "MainThread"), b.Thread(p1, "W"), b.Thread(p2, "MainThread")
	m1.Start(0).Acquire(1_000, gil1, tracer.AcquireUncontended).Call(2_000, f)
	// W waits for the GIL all along, which keeps scales off.
	w1.Start(1*ms).Wait(1*ms+1_000, gil1)
	m2.Start(2*ms).Acquire(2*ms+1_000, gil2, tracer.AcquireUncontended).Call(2*ms+2_000, f).Return(7*ms).Release(7*ms+1_000, gil2, tracer.ReleaseThreadEnd).End(7*ms + 2_000)
	m1.Return(100*ms).Release(100*ms+1_000, gil1, tracer.ReleaseThreadEnd).End(100*ms + 2_000)
	w1.Acquire(100*ms+3_000, gil1, tracer.AcquireAfterWait).Release(100*ms+4_000, gil1, tracer.ReleaseThreadEnd).End(100*ms + 5_000)
	tr := b.Trace()
	tr.Meta.Cores = 2
	if err := tr.CheckValid(); err != nil {
		t.Fatal(err)
	}
	r := Analyze(tracer.Derive(tr))
	nv := r.NoVerdict
	if nv == nil {
		t.Fatalf("verdicts %s, no NoVerdict", r.VerdictCodes())
	}
	if nv.Thread != "MainThread" || !strings.HasPrefix(nv.Text, "MainThread (app)'s own work") || !strings.Contains(nv.Advice, "Shorten MainThread (app)'s own work") {
		t.Errorf("no verdict %+v, want MainThread (app) named with its process", nv)
	}
}
