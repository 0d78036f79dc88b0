package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/giltrace/giltrace/exporters/report"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

func TestReportArgs(t *testing.T) {
	testArgs(t, reportCmd, []argsCase[reportOptions]{
		{[]string{"run.giltrace"}, &reportOptions{File: "run.giltrace"}, false, ""},
		{[]string{"run.giltrace", "--json"}, &reportOptions{File: "run.giltrace", JSON: true}, false, ""},
		{nil, nil, true, ""},
		{[]string{"a", "b"}, nil, true, ""},
	})
}

func TestReport(t *testing.T) {
	tr := testkit.Countdown(10)
	path, _ := writeTrace(t, tr)

	// The file's report is the trace's report: the round trip loses nothing.
	var want bytes.Buffer
	if err := report.New(&want, report.Text).Export(context.Background(), tracer.Derive(testkit.Countdown(10))); err != nil {
		t.Fatal(err)
	}
	out, err := runRoot("report", path)
	if err != nil || out != want.String() {
		t.Fatalf("report = %q, %v; want %q", out, err, want.String())
	}
	if !strings.Contains(out, "Verdict: gil-bound") {
		t.Errorf("countdown report has no gil-bound verdict:\n%s", out)
	}

	out, err = runRoot("report", "--json", path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("report --json is not JSON: %v\n%s", err, out)
	}
	for _, k := range []string{"workload", "gil_mode", "switch_interval_ns", "processes", "wall_ns", "events", "dropped_events", "threads",
		"gil_held_fraction", "parallelism", "handoffs", "drop_requests", "forced_switches", "reacquire_latency_ns", "speedup", "verdicts"} {
		if _, ok := m[k]; !ok {
			t.Errorf("report --json has no %q", k)
		}
	}
	sub := map[string][]string{
		"reacquire_latency_ns": {"p50", "p99", "max"},
		"speedup":              {"achieved", "amdahl_ceiling", "as_processes", "without_gil"},
	}
	for k, fields := range sub {
		obj, _ := m[k].(map[string]any)
		for _, f := range fields {
			if _, ok := obj[f]; !ok {
				t.Errorf("report --json has no %s.%s", k, f)
			}
		}
	}
	if th := m["threads"].([]any)[0].(map[string]any); th["native_holding_ns"] == nil {
		t.Errorf("report --json threads have no native_holding_ns")
	}
	if v := m["verdicts"].([]any); len(v) == 0 || v[0].(map[string]any)["code"] != "gil-bound" {
		t.Errorf("verdicts = %v, want gil-bound first", v)
	}

	if _, err := runRoot("report", path+".missing"); err == nil || exitCode(err) != 1 {
		t.Errorf("report of a missing file: err = %v, want exit status 1", err)
	}
}

func TestReportTruncated(t *testing.T) {
	// A trace of several event records (a real program's, streamed): its
	// first three quarters keep complete events to report. (A cut that
	// keeps none is refused: TestReportNoEvents.)
	b, err := os.ReadFile(testkit.FixtureDir() + "/python-countdown.giltrace")
	if err != nil {
		t.Fatal(err)
	}
	cut := t.TempDir() + "/cut.giltrace"
	if err := os.WriteFile(cut, b[:len(b)*3/4], 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runRoot("report", cut)
	if err != nil || !strings.Contains(out, "warning:") || !strings.Contains(out, "(file truncated)") || strings.Contains(out, " 0 events") {
		t.Fatalf("report of a cut file = %q, %v; want a warning and the complete part's report", out, err)
	}
}

// TestReportNoEvents: a file cut off before its first events is refused
// (exit 1, naming the file and why), not reported as all zeros.
func TestReportNoEvents(t *testing.T) {
	cut := cutBeforeEvents(t)
	for _, args := range [][]string{{"report", cut}, {"report", "--json", cut}} {
		out, err := runRoot(args...)
		if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "reporting "+cut+": the trace holds no events") ||
			!strings.Contains(err.Error(), "cut off before its first events") || strings.Contains(out, "ceiling for 0 threads") {
			t.Fatalf("%v = %q, %v; want an error naming %s and no report", args, out, err, cut)
		}
	}
}

// TestCheckHasEventsOneThread: one thread is "its 1 thread".
func TestCheckHasEventsOneThread(t *testing.T) {
	err := checkHasEvents(&tracer.Trace{Threads: make([]tracer.Thread, 1), Truncated: true}, "x.giltrace", "reporting", "report")
	if want := "reporting x.giltrace: the trace holds no events of its 1 thread (the file was cut off before its first events were written): nothing to report"; err == nil || err.Error() != want {
		t.Errorf("%v, want %s", err, want)
	}
}

// TestRunDirArgument: a run's directory names its trace (DIR/run.giltrace)
// for report, export, model and compare (QA: "giltrace view
// giltrace-out/countdown" failed, "not a regular file (a directory)"); a
// directory without one is still refused.
func TestRunDirArgument(t *testing.T) {
	dir := t.TempDir()
	if err := tracer.WriteFile(filepath.Join(dir, traceName), testkit.Countdown(10)); err != nil {
		t.Fatal(err)
	}
	want, err := runRoot("report", filepath.Join(dir, traceName))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := runRoot("report", dir); err != nil || got != want {
		t.Errorf("report DIR = %q, %v; want report DIR/run.giltrace's", got, err)
	}
	if _, err := runRoot("export", dir, "--format", "folded"); err != nil {
		t.Errorf("export DIR: %v", err)
	} else if _, err := os.Stat(filepath.Join(dir, "flame.folded")); err != nil {
		t.Errorf("export DIR wrote no flame.folded beside the run's trace: %v", err)
	}
	if got, err := runRoot("model", dir); err != nil || !strings.Contains(got, "threads:") {
		t.Errorf("model DIR = %.200q, %v; want the run's model", got, err)
	}
	empty := t.TempDir()
	if _, err := runRoot("report", empty); err == nil || !strings.Contains(err.Error(), "a directory") || !strings.Contains(err.Error(), "holds no run.giltrace nor run.giltrace.partial") {
		t.Errorf("report of a directory without a run: %v, want it refused as a directory with no run.giltrace", err)
	}
	// A killed record's directory: its partial trace, read as far as it
	// was written, with the warning.
	killed := t.TempDir()
	b, err := os.ReadFile(testkit.FixtureDir() + "/python-countdown.giltrace")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(killed, partialName), b[:len(b)*3/4], 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := runRoot("report", killed); err != nil || !strings.Contains(out, "(file truncated)") {
		t.Errorf("report of a killed record's directory: %v; want its partial trace's report, truncated:\n%.300s", err, out)
	}
	// A run.giltrace that is no file is named, not passed over.
	odd := t.TempDir()
	if err := os.Mkdir(filepath.Join(odd, traceName), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := runRoot("report", odd); err == nil || !strings.Contains(err.Error(), filepath.Join(odd, traceName)+": not a regular file") {
		t.Errorf("report of a directory whose run.giltrace is a directory: %v", err)
	}
	// view and compare, as parsed (each serves or predicts at length).
	var files []string
	view := viewCmd(func(_ *cobra.Command, o *viewOptions) error { files = append(files, o.File); return nil })
	cmp := compareCmd(func(_ *cobra.Command, o *compareOptions) error { files = append(files, o.File); return nil })
	for _, c := range []*cobra.Command{view, cmp} {
		c.SetArgs([]string{dir})
		c.SetOut(io.Discard)
		c.SetErr(io.Discard)
		if err := c.Execute(); err != nil {
			t.Fatalf("%s DIR: %v", c.Name(), err)
		}
	}
	if want := []string{filepath.Join(dir, traceName), filepath.Join(dir, traceName)}; !slices.Equal(files, want) {
		t.Errorf("view and compare of DIR read %q, want %q", files, want)
	}
}

// TestReportPointsToWhatIf: the report of a real program's run ends by
// saying how to predict what would help, and where record kept the
// prediction when it is beside the trace (QA: no hint); a workload's run,
// whose compare runs the workload, and --json have no such line.
func TestReportPointsToWhatIf(t *testing.T) {
	py := testkit.FixtureDir() + "/python-countdown.giltrace"
	out, err := runRoot("report", py)
	if want := "giltrace compare " + py + " predicts it"; err != nil || !strings.Contains(out, want) || strings.Contains(out, "record kept it") {
		t.Errorf("report of a real run, no whatif/ beside it: %v; want %q and no word of a kept prediction:\n%s", err, want, out[max(len(out)-400, 0):])
	}
	// A run's directory, as record leaves it.
	dir := t.TempDir()
	b, err := os.ReadFile(py)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, traceName), b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "whatif"), 0o755); err != nil {
		t.Fatal(err)
	}
	tr, err := tracer.ReadFile(py)
	if err != nil {
		t.Fatal(err)
	}
	// Another run's prediction in the same directory (compare of another
	// trace there writes the same whatif/) is not this run's (QA).
	for _, other := range []bool{true, false} {
		wall := tr.Duration()
		if other {
			wall++
		}
		js := fmt.Sprintf(`{"workload": %q, "measured_wall_ns": %d}`, tr.Meta.Workload, wall)
		if err := os.WriteFile(filepath.Join(dir, "whatif", "whatif.json"), []byte(js), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err = runRoot("report", dir)
		want := "record kept it beside the run (" + filepath.Join(dir, "whatif") + "); giltrace compare " + filepath.Join(dir, traceName) + " predicts it"
		if err != nil || strings.Contains(out, want) == other {
			t.Errorf("report of a real run's directory, another run's prediction %v: %v; has %q: %v", other, err, want, !other)
		}
	}
	if out, err := runRoot("report", "--json", py); err != nil || strings.Contains(out, "predicts it") {
		t.Errorf("report --json of a real run: %v; has the text hint", err)
	}
	vmRun := testkit.FixtureDir() + "/convoy.giltrace"
	if out, err := runRoot("report", vmRun); err != nil || strings.Contains(out, "predicts it") {
		t.Errorf("report of a workload's run: %v; has the real run's hint", err)
	}
}
