package chrome_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/exporters/chrome"
	"github.com/giltrace/giltrace/internal/chrometest"
	"github.com/giltrace/giltrace/internal/golden"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

type namedTrace struct {
	name string
	t    *tracer.Trace
}

// scenarios are the built traces every test runs on.
func scenarios() []namedTrace {
	return []namedTrace{
		{"scenario-countdown", testkit.Countdown(4)},
		{"scenario-mixed", testkit.Mixed()},
	}
}

func export(t testing.TB, tr *tracer.Trace) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := chrome.New(&buf).Export(context.Background(), tracer.Derive(tr)); err != nil {
		t.Fatalf("export: %v", err)
	}
	return buf.Bytes()
}

func validate(t testing.TB, out []byte) *chrometest.Summary {
	t.Helper()
	sum, err := chrometest.Validate(bytes.NewReader(out))
	if err != nil {
		t.Fatalf("output breaks Perfetto's importer rules:\n%v", err)
	}
	return sum
}

// TestGolden compares every trace's output with its golden file (go test
// -update rewrites them), checks that a second export gives the same
// bytes, and runs the validator over it. Scenario goldens are plain JSON,
// to be read as examples; fixture goldens, recorded runs of thousands of
// events, are gzipped and compared decompressed.
func TestGolden(t *testing.T) {
	for _, c := range allTraces(t) {
		t.Run(c.name, func(t *testing.T) {
			got := export(t, c.t)
			if again := export(t, c.t); !bytes.Equal(got, again) {
				t.Fatal("two exports of one trace differ")
			}
			validate(t, got)
			path := filepath.Join("testdata", c.name+".json")
			if strings.HasPrefix(c.name, "fixture-") {
				path += ".gz"
			}
			golden.Check(t, path, got)
		})
	}
}

// TestGoldenFilesAreValid runs the validator over every committed golden,
// including ones whose trace is not built by this test.
func TestGoldenFilesAreValid(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("testdata", "*.json*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no golden files")
	}
	for _, p := range paths {
		if _, err := chrometest.Validate(bytes.NewReader(golden.Read(t, p))); err != nil {
			t.Errorf("%s:\n%v", p, err)
		}
	}
}

func TestCountdownTracks(t *testing.T) {
	tr := testkit.Countdown(4)
	spans := tracer.Derive(tr)
	sum := validate(t, export(t, tr))

	if got := sum.Processes[1]; got != "python" {
		t.Errorf("process 1 is named %q, want python", got)
	}
	gil, t1, t2 := sum.TID(1, "GIL"), sum.TID(1, "T1"), sum.TID(1, "T2")
	if gil == 0 || t1 == 0 || t2 == 0 {
		t.Fatalf("tracks GIL, T1, T2 = tids %d, %d, %d; want all present; threads: %v", gil, t1, t2, sum.Threads)
	}
	if !(sum.Threads[gil].SortIndex < sum.Threads[t1].SortIndex && sum.Threads[t1].SortIndex < sum.Threads[t2].SortIndex) {
		t.Errorf("sort indexes GIL %d, T1 %d, T2 %d: want GIL, T1, T2 in order",
			sum.Threads[gil].SortIndex, sum.Threads[t1].SortIndex, sum.Threads[t2].SortIndex)
	}
	name := map[int]string{t1: "T1", t2: "T2"}

	// The GIL track: one slice per hold, named after the holder, plus an
	// instant per drop request and per forced switch.
	var holders, instants []string
	for _, s := range sum.Slices[chrometest.Track{PID: 1, TID: gil}] {
		if s.Dur == 0 {
			instants = append(instants, s.Name)
			continue
		}
		holders = append(holders, s.Name)
	}
	var want []string
	for _, h := range spans.Holds {
		want = append(want, tr.Threads[h.Thread].Name)
	}
	if strings.Join(holders, " ") != strings.Join(want, " ") {
		t.Errorf("GIL track holders = %v, want %v", holders, want)
	}
	drops, forced := count(instants, "drop request"), count(instants, "forced switch")
	if drops != len(spans.DropRequests) || drops != 4 {
		t.Errorf("drop request instants = %d, want %d", drops, len(spans.DropRequests))
	}
	if forced != 4 {
		t.Errorf("forced switch instants = %d, want 4", forced)
	}

	// A flow per handoff, from the releasing thread's running slice to the
	// acquiring thread's.
	if len(sum.Flows) != len(spans.Handoffs) || len(sum.Flows) != 5 {
		t.Fatalf("flows = %d, want %d (the handoffs)", len(sum.Flows), len(spans.Handoffs))
	}
	for i, f := range sum.Flows {
		h := spans.Handoffs[i]
		if name[f.From.TID] != tr.Threads[h.From].Name || name[f.To.TID] != tr.Threads[h.To].Name {
			t.Errorf("flow %d goes %s -> %s, want %s -> %s", i, name[f.From.TID], name[f.To.TID],
				tr.Threads[h.From].Name, tr.Threads[h.To].Name)
		}
		if f.FromSlice != "running" || f.ToSlice != "running" {
			t.Errorf("flow %d binds %q -> %q, want running -> running", i, f.FromSlice, f.ToSlice)
		}
	}

	// The waiting counter equals, at every change, the number of threads
	// in a gil-wait state span (counted here by brute force).
	if got, want := sum.Counters["1/GIL/waiting"], waitingSeries(spans, 0); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("GIL waiting counter = %v, want %v", got, want)
	}
	if sum.Metadata["workload"] != "countdown" || sum.Metadata["gil_mode"] != "cpython" {
		t.Errorf("metadata = %v", sum.Metadata)
	}
}

// waitingSeries is the number of threads of process p in gil-wait at time
// 0 and after every change, without repeats: summed from the state spans
// (the exporter counts from the waits).
func waitingSeries(s *tracer.Spans, p tracer.ProcID) []float64 {
	delta := map[int64]int{0: 0}
	for _, sp := range s.States {
		if sp.State == tracer.StateGILWait && s.Trace.Threads[sp.Thread].Proc == p {
			delta[sp.Start]++
			delta[sp.End]--
		}
	}
	times := make([]int64, 0, len(delta))
	for at := range delta {
		times = append(times, at)
	}
	slices.Sort(times)
	var out []float64
	n := 0
	for _, at := range times {
		n += delta[at]
		if len(out) == 0 || out[len(out)-1] != float64(n) {
			out = append(out, float64(n))
		}
	}
	return out
}

// TestTracksMatchSpans checks every trace's output against its spans: a
// named track per thread in its process, a GIL track per process with a
// GIL whose slices are the holds by holder, an arrow per handoff, and the
// waiting counter.
func TestTracksMatchSpans(t *testing.T) {
	for _, c := range allTraces(t) {
		t.Run(c.name, func(t *testing.T) {
			tr := c.t
			spans := tracer.Derive(tr)
			sum := validate(t, export(t, tr))
			for _, th := range tr.Threads {
				pid := tr.Procs[th.Proc].PID
				if sum.TID(pid, th.Name) == 0 {
					t.Errorf("no track %q in process %d", th.Name, pid)
				}
			}
			for p, pr := range tr.Procs {
				gil := sum.TID(pr.PID, "GIL")
				if (pr.GIL == tracer.NoLock) != (gil == 0) {
					t.Errorf("process %d: GIL lock %d, GIL track tid %d", pr.PID, pr.GIL, gil)
					continue
				}
				if gil == 0 {
					continue
				}
				var got, want []string
				for _, s := range sum.Slices[chrometest.Track{PID: pr.PID, TID: gil}] {
					if s.Cat == "gil" && s.Dur > 0 {
						got = append(got, s.Name)
					}
				}
				for _, h := range spans.Holds {
					if h.Lock == pr.GIL && h.End > h.Start {
						want = append(want, tr.Threads[h.Thread].Name)
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("process %d: GIL track holders %v, want %v", pr.PID, got, want)
				}
				key := fmt.Sprintf("%d/GIL/waiting", pr.PID)
				if got, want := sum.Counters[key], waitingSeries(spans, tracer.ProcID(p)); fmt.Sprint(got) != fmt.Sprint(want) {
					t.Errorf("process %d: waiting counter %v, want %v", pr.PID, got, want)
				}
			}
			// An arrow per handoff to another thread: a thread taking back
			// the lock it released gets none, as in Perfetto and the view.
			handoffs := 0
			for _, h := range spans.Handoffs {
				if h.From != h.To {
					handoffs++
				}
			}
			if len(sum.Flows) != handoffs {
				t.Errorf("flows = %d, want %d handoffs to another thread", len(sum.Flows), handoffs)
			}
		})
	}
}

func count(xs []string, x string) int {
	n := 0
	for _, s := range xs {
		if s == x {
			n++
		}
	}
	return n
}

func TestMixedTracks(t *testing.T) {
	tr := testkit.Mixed()
	spans := tracer.Derive(tr)
	sum := validate(t, export(t, tr))

	if sum.TID(2, "GIL") != 0 {
		t.Error("the free-threaded process has a GIL track")
	}
	for _, th := range []struct {
		pid  int
		name string
	}{{1, "GIL"}, {1, "worker-1"}, {1, "worker-2"}, {2, "ft-1"}, {2, "ft-2"}} {
		if sum.TID(th.pid, th.name) == 0 {
			t.Errorf("no track %q in process %d", th.name, th.pid)
		}
	}
	// Mixed has one GIL re-acquire by the thread that released it: no
	// arrow.
	if len(sum.Flows) != len(spans.Handoffs)-1 {
		t.Errorf("flows = %d, want %d handoffs less the re-acquire", len(sum.Flows), len(spans.Handoffs)-1)
	}
	cats := map[string]int{}
	for _, f := range sum.Flows {
		cats[f.Cat]++
	}
	if cats["lock"] != 1 || cats["gil"] != len(spans.Handoffs)-2 {
		t.Errorf("flow categories = %v, want one guest-lock handoff and the rest GIL", cats)
	}
	// Every state appears on worker tracks, always innermost, inside the
	// calls: a state slice is never a parent.
	states := map[string]bool{}
	for trk, slices := range sum.Slices {
		if trk.TID == sum.TID(1, "GIL") {
			continue
		}
		for i, s := range slices {
			if s.Cat != "state" {
				continue
			}
			states[s.Name] = true
			if i+1 < len(slices) && slices[i+1].Depth > s.Depth {
				t.Errorf("state slice %q at %d ns has a child", s.Name, s.Start)
			}
		}
	}
	for st := tracer.State(0); int(st) < tracer.NumStates; st++ {
		if !states[st.String()] {
			t.Errorf("no %q slice", st)
		}
	}
	if got, want := sum.Counters["1/GIL/waiting"], waitingSeries(spans, 0); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("GIL waiting counter = %v, want %v", got, want)
	}
	if _, ok := sum.Counters["2/GIL/waiting"]; ok {
		t.Error("the free-threaded process has a waiting counter")
	}
}

func TestExportErrors(t *testing.T) {
	withPID := func(pid int) *tracer.Trace {
		tr := testkit.Countdown(1)
		tr.Procs[0].PID = pid
		return tr
	}
	twoProcs := testkit.Mixed()
	twoProcs.Procs[1].PID = twoProcs.Procs[0].PID
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct {
		name string
		ctx  context.Context
		tr   *tracer.Trace
		w    interface{ Write([]byte) (int, error) }
		want string
	}{
		{"pid 0", context.Background(), withPID(0), &bytes.Buffer{}, "pid 0"},
		{"shared pid", context.Background(), twoProcs, &bytes.Buffer{}, "share pid"},
		{"write fails", context.Background(), testkit.Countdown(2), failWriter{}, "disk full"},
		{"cancelled", cancelled, bigTrace(t, 20_000), &bytes.Buffer{}, "context canceled"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := chrome.New(c.w).Export(c.ctx, tracer.Derive(c.tr))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want one containing %q", err, c.want)
			}
		})
	}
}

// TestEmptyTrace: a trace in which no thread ran (cut off at once, or
// without threads) is still a valid trace, with one instant saying so.
func TestEmptyTrace(t *testing.T) {
	b := testkit.New("empty")
	p := b.Process("python", 3)
	b.Thread(p, "never-started")
	for name, tr := range map[string]*tracer.Trace{"no events": b.Trace(), "no processes": testkit.New("nothing").Trace()} {
		t.Run(name, func(t *testing.T) {
			sum := validate(t, export(t, tr))
			if sum.Phases["i"] != 1 || sum.Phases["X"] != 0 || len(sum.Flows) != 0 {
				t.Errorf("phases = %v, want one instant and no slices", sum.Phases)
			}
		})
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// allTraces is the scenarios, then every recorded fixture trace
// (fixtures/traces/NAME.giltrace, golden testdata/fixture-NAME.json).
func allTraces(t *testing.T) []namedTrace {
	paths, err := filepath.Glob(filepath.Join("..", "..", "fixtures", "traces", "*.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	out := scenarios()
	for _, p := range paths {
		tr, err := tracer.ReadFile(p)
		if err != nil {
			t.Fatalf("fixture: %v", err)
		}
		out = append(out, namedTrace{"fixture-" + strings.TrimSuffix(filepath.Base(p), ".giltrace"), tr})
	}
	return out
}

// TestWarnings: the run's warnings (WithWarnings) are in the metadata, one
// a line, and each a global instant at time 0 that Perfetto's importer
// accepts; without them neither.
func TestWarnings(t *testing.T) {
	ws := []string{"busy machine: the run obtained 40 % of the CPU time its threads wanted", "tracing cost: 9 events"}
	var buf bytes.Buffer
	if err := chrome.New(&buf).WithWarnings(ws).Export(context.Background(), tracer.Derive(testkit.Countdown(4))); err != nil {
		t.Fatal(err)
	}
	sum := validate(t, buf.Bytes())
	if got := sum.Metadata["warnings"]; got != strings.Join(ws, "\n") {
		t.Errorf("metadata warnings %q", got)
	}
	plain := validate(t, export(t, testkit.Countdown(4)))
	if sum.Phases["i"] != plain.Phases["i"]+2 {
		t.Errorf("%d instants, want the %d without warnings and 2", sum.Phases["i"], plain.Phases["i"])
	}
	if _, ok := plain.Metadata["warnings"]; ok {
		t.Error("metadata warnings without any")
	}
	for _, name := range []string{`"name":"Warning: busy machine"`, `"name":"Warning: tracing cost"`} {
		if !bytes.Contains(buf.Bytes(), []byte(name)) {
			t.Errorf("no instant %s", name)
		}
	}
}
