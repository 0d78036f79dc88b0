package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/exporters/flamegraph"
	"github.com/giltrace/giltrace/exporters/pprof"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/model"
	"github.com/giltrace/giltrace/tracer"
	"github.com/google/pprof/profile"
)

func TestExportArgs(t *testing.T) {
	testArgs(t, exportCmd, []argsCase[exportOptions]{
		{[]string{"run.giltrace", "--format", "chrome"}, &exportOptions{File: "run.giltrace", Format: "chrome"}, false, ""},
		{[]string{"-f", "pprof-wait", "run.giltrace", "-o", "w.pb.gz"}, &exportOptions{File: "run.giltrace", Format: "pprof-wait", Out: "w.pb.gz"}, false, ""},
		{[]string{"run.giltrace", "--format=folded", "-o", "-"}, &exportOptions{File: "run.giltrace", Format: "folded", Out: "-"}, false, ""},
		{[]string{"run.giltrace"}, nil, true, "--format is required (formats: pprof-wait, pprof-blame, pprof-wall, chrome, folded, flamegraph, report, report-json, perfetto, text, otlp)"},
		{[]string{"run.giltrace", "--format", "svg"}, nil, true, `unknown format "svg" (formats: pprof-wait, pprof-blame, pprof-wall, chrome, folded, flamegraph, report, report-json, perfetto, text, otlp)`},
		{[]string{"--format", "chrome"}, nil, true, "export: accepts 1 argument, received 0 (usage: "},
		{[]string{"a", "b", "--format", "chrome"}, nil, true, "export: accepts 1 argument, received 2 (usage: "},
		{[]string{"run.giltrace", "--format", "chrome", "--bogus"}, nil, true, "bogus"},
	})
}

// exported is what exporter e writes for tr.
func exported(t *testing.T, e func(*bytes.Buffer) exporter, tr *tracer.Trace) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := e(&b).Export(context.Background(), tracer.Derive(tr)); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestExport(t *testing.T) {
	path, _ := writeTrace(t, testkit.Mixed())
	tr, err := tracer.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Dir(path)

	// Default: the format's file name next to the trace.
	out, err := runRoot("export", path, "--format", "pprof-blame")
	next := filepath.Join(dir, "gil-blame.pb.gz")
	if err != nil || out != "wrote "+next+"\n" {
		t.Fatalf("export = %q, %v", out, err)
	}
	want := exported(t, func(b *bytes.Buffer) exporter { return pprof.NewBlame(b) }, tr)
	if got, _ := os.ReadFile(next); !bytes.Equal(got, want) {
		t.Errorf("%s differs from the blame profile of the trace", next)
	}

	// -o FILE.
	file := filepath.Join(t.TempDir(), "page.html")
	if out, err := runRoot("export", path, "-f", "flamegraph", "-o", file); err != nil {
		t.Fatalf("export -o: %v\n%s", err, out)
	}
	want = exported(t, func(b *bytes.Buffer) exporter { return flamegraph.NewHTML(b) }, tr)
	if got, _ := os.ReadFile(file); !bytes.Equal(got, want) {
		t.Errorf("%s differs from the flame graph of the trace", file)
	}

	// -o -: stdout.
	out, err = runRoot("export", path, "-f", "folded", "-o", "-")
	want = exported(t, func(b *bytes.Buffer) exporter { return flamegraph.NewFolded(b) }, tr)
	if err != nil || out != string(want) {
		t.Errorf("export -o - = %q, %v; want %q", out, err, want)
	}

	// Every format works on a recorded fixture.
	for _, o := range outputs() {
		fixture := filepath.Join("..", "..", "fixtures", "traces", "convoy.giltrace")
		if _, err := os.Stat(fixture); err != nil {
			t.Skip("no fixture traces")
		}
		file := filepath.Join(t.TempDir(), o.File)
		if out, err := runRoot("export", fixture, "-f", o.Name, "-o", file); err != nil {
			t.Errorf("export %s: %v\n%s", o.Name, err, out)
		}
		if st, err := os.Stat(file); err != nil || st.Size() == 0 {
			t.Errorf("export %s wrote nothing: %v", o.Name, err)
		}
	}
}

func TestExportErrors(t *testing.T) {
	// A missing file is not a usage error.
	_, err := runRoot("export", filepath.Join(t.TempDir(), "none.giltrace"), "-f", "chrome")
	if err == nil || exitCode(err) != 1 {
		t.Errorf("missing file: err = %v, want exit 1", err)
	}
	// An unwritable output names the file and leaves no partial file.
	path, _ := writeTrace(t, testkit.Countdown(2))
	bad := filepath.Join(t.TempDir(), "no", "dir", "out.json")
	_, err = runRoot("export", path, "-f", "chrome", "-o", bad)
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("unwritable output: err = %v, want it to name %s", err, bad)
	}
}

// TestExportReportPrediction: export --format report (and report-json) of
// a real program's trace writes record's report, with what would help
// (QA: exporting again next to the trace replaced record's report.txt
// with one without it); a workload's has none, as record's.
func TestExportReportPrediction(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		fixture string
		want    bool
	}{{"python-countdown", true}, {"countdown", false}} {
		src, err := os.ReadFile(filepath.Join(testkit.FixtureDir(), tc.fixture+".giltrace"))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, tc.fixture+".giltrace")
		if err := os.WriteFile(path, src, 0o644); err != nil {
			t.Fatal(err)
		}
		text, err := runRoot("export", path, "--format", "report", "-o", "-")
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Contains(text, "What would help"); got != tc.want {
			t.Errorf("%s: report with what would help %v, want %v:\n%s", tc.fixture, got, tc.want, text)
		}
		js, err := runRoot("export", path, "--format", "report-json", "-o", "-")
		if err != nil {
			t.Fatal(err)
		}
		var rep map[string]json.RawMessage
		if err := json.Unmarshal([]byte(js), &rep); err != nil {
			t.Fatal(err)
		}
		if _, got := rep["what_if"]; got != tc.want {
			t.Errorf("%s: report.json with what_if %v, want %v", tc.fixture, got, tc.want)
		}
	}
}

// TestExportReportCutTrace: export --format report and report-json of a
// real program's trace cut off mid-write, at any of several points, write
// the report of its complete part with a warning, as report does, and
// model and compare work on it (QA: cut at 40000 bytes, a multiprocessing
// pool's trace made a model of 3 processes with threads in the first only,
// which did not load, and export failed with "a bug in giltrace"). A cut
// before the first events is refused by report too: left out.
func TestExportReportCutTrace(t *testing.T) {
	dir := t.TempDir()
	exported := 0
	for _, tc := range []struct {
		fixture string
		cuts    []int
	}{
		{"python-multiprocessing-pool", []int{35000, 40000, 45000, 50000, 55000, 60000, 64000}},
		{"python-daemon-threads", []int{25000, 40000}},
		{"python-web-scraping-inprocess", []int{50000, 90000}},
	} {
		src, err := os.ReadFile(filepath.Join(testkit.FixtureDir(), tc.fixture+".giltrace"))
		if err != nil {
			t.Skip("no fixture traces")
		}
		for _, n := range tc.cuts {
			path := filepath.Join(dir, fmt.Sprintf("%s-%d.giltrace", tc.fixture, n))
			if err := os.WriteFile(path, src[:n], 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := runRoot("report", "--json", path); err != nil {
				t.Fatalf("report of %s cut at %d: %v\n%s", tc.fixture, n, err, out)
			}
			for _, f := range []string{"report", "report-json"} {
				file := filepath.Join(dir, fmt.Sprintf("%s-%d.%s", tc.fixture, n, f))
				out, err := runRoot("export", path, "-f", f, "-o", file)
				if err != nil || !strings.Contains(out, "cut off at byte") || strings.Contains(out, "a bug") {
					t.Errorf("export %s of %s cut at %d: %v\n%s", f, tc.fixture, n, err, out)
					continue
				}
				b, err := os.ReadFile(file)
				if f == "report-json" && err == nil {
					var rep map[string]json.RawMessage
					err = json.Unmarshal(b, &rep)
					if _, ok := rep["what_if"]; err == nil && !ok {
						t.Errorf("export %s of %s cut at %d: no what_if (%s)", f, tc.fixture, n, out)
					}
				}
				if err != nil {
					t.Errorf("export %s of %s cut at %d: %v", f, tc.fixture, n, err)
				}
				exported++
			}
		}
	}
	if exported < 10 {
		t.Errorf("%d reports exported, want 10 at least", exported)
	}
	cut := filepath.Join(dir, "python-multiprocessing-pool-40000.giltrace")
	if out, err := runRoot("model", cut, "-o", filepath.Join(dir, "model.yaml")); err != nil {
		t.Errorf("model of %s: %v\n%s", cut, err, out)
	}
	if out, err := runRoot("compare", cut, "-o", filepath.Join(dir, "whatif")); err != nil || !strings.Contains(out, "What would help") {
		t.Errorf("compare %s: %v\n%s", cut, err, out)
	}
}

// TestExportReportPredictionFails: a real program's report whose
// prediction cannot be made (a run of more threads than a model can have)
// is exported without what would help, with a warning that says why, as
// record writes it, not refused.
func TestExportReportPredictionFails(t *testing.T) {
	b := testkit.New("many")
	b.Meta().Extra = map[string]string{"source": "cpython"}
	p := b.Process("python", 1)
	gil := tracer.LockID(0)
	for i := range model.MaxThreads + 1 {
		t0 := int64(i) * 1000
		b.Thread(p, fmt.Sprintf("T%d", i)).Start(t0).Acquire(t0+10, gil, tracer.AcquireUncontended).
			Release(t0+500, gil, tracer.ReleaseThreadEnd).End(t0 + 510)
	}
	path, _ := writeTrace(t, b.Trace())
	for _, f := range []string{"report", "report-json"} {
		file := filepath.Join(t.TempDir(), "report")
		out, err := runRoot("export", path, "-f", f, "-o", file)
		if err != nil || !strings.Contains(out, "giltrace: warning: predicting what would help: ") ||
			!strings.Contains(out, "too many threads to model") || !strings.Contains(out, "exporting the report without it") {
			t.Errorf("export %s: %v\n%s", f, err, out)
		}
		if b, err := os.ReadFile(file); err != nil || len(b) == 0 || bytes.Contains(b, []byte("What would help")) || bytes.Contains(b, []byte(`"what_if"`)) {
			t.Errorf("export %s wrote %d bytes (%v), want the report without what would help", f, len(b), err)
		}
	}
}

// TestExportIntoRun: export's default path in a run's directory is
// record's: a user's file under the output's name is not replaced, and an
// output written joins the run's list, so that the next record into the
// directory removes it and does not call it the user's (QA).
func TestExportIntoRun(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	if _, err := runRoot("record", "../../fixtures/convoy.yaml", "--clock", "virtual", "-o", dir, "--formats", "report"); err != nil {
		t.Fatal(err)
	}
	trace := filepath.Join(dir, traceName)
	if _, err := runRoot("export", trace, "--format", "text"); err != nil {
		t.Fatal(err)
	}
	if _, err := runRoot("export", trace, "--format", "text"); err != nil {
		t.Fatalf("exporting the same output again: %v", err)
	}
	if !readManifest(dir)["run.txt"] || !readManifest(dir)["report.txt"] {
		t.Errorf("the list after export: %v", readManifest(dir))
	}
	mine := filepath.Join(dir, "flame.folded")
	if err := os.WriteFile(mine, []byte("my notes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := runRoot("export", trace, "--format", "folded")
	if err == nil || !strings.Contains(err.Error(), mine+": not written by giltrace") {
		t.Errorf("export over a user's file: %v", err)
	}
	if b, _ := os.ReadFile(mine); string(b) != "my notes\n" {
		t.Errorf("the user's file became %q", b)
	}
	os.Remove(mine)
	// The next record removes the exported output with the run's, and
	// writes it again when asked.
	if _, err := runRoot("record", "../../fixtures/convoy.yaml", "--clock", "virtual", "--seed", "7", "-o", dir, "--formats", "report"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "run.txt")); !os.IsNotExist(err) {
		t.Errorf("the previous run's exported run.txt outlived it: %v", err)
	}
	if _, err := runRoot("export", trace, "--format", "text"); err != nil {
		t.Fatal(err)
	}
	if _, err := runRoot("record", "../../fixtures/convoy.yaml", "--clock", "virtual", "--seed", "8", "-o", dir, "--formats", "report,text"); err != nil {
		t.Errorf("record after an export: %v", err)
	}
	// -o naming the default path beside the run's trace: written, and
	// listed, so that the next record removes it (QA: it called it a
	// file of the user's and kept it beside its own run).
	pf := filepath.Join(dir, "trace.perfetto-trace")
	if _, err := runRoot("export", trace, "-f", "perfetto", "-o", pf); err != nil {
		t.Fatal(err)
	}
	if !readManifest(dir)["trace.perfetto-trace"] {
		t.Errorf("-o at the default path not listed: %v", readManifest(dir))
	}
	if out, err := runRoot("record", "../../fixtures/convoy.yaml", "--clock", "virtual", "--seed", "9", "-o", dir, "--formats", "report,perfetto"); err != nil {
		t.Errorf("record after an export -o at the default path: %v\n%s", err, out)
	}
	// A trace that is not a run's keeps the old default, beside it, and
	// lists what it wrote there, as beside a run's (TestExportBesideAnyTrace).
	other := filepath.Join(t.TempDir(), "mine.giltrace")
	b, _ := os.ReadFile(trace)
	os.WriteFile(other, b, 0o644)
	if _, err := runRoot("export", other, "--format", "text"); err != nil {
		t.Fatal(err)
	}
	if !readManifest(filepath.Dir(other))["run.txt"] {
		t.Errorf("an export beside a lone trace did not list its output: %v", readManifest(filepath.Dir(other)))
	}
}

// TestExportWarnings: a run on a busy machine is flagged, with the figure,
// in every output that has room for words (issue 14): the report, the
// pprof profiles' comments, trace.json's metadata and a global instant,
// the Perfetto trace's Warnings track, the flame graph page; folded
// stacks and the text dump have none (the dump keeps the figures, as the
// trace's metadata). A run the machine served is flagged in none.
func TestExportWarnings(t *testing.T) {
	const warning = "busy machine: the run obtained "
	for _, busy := range []bool{true, false} {
		tr := testkit.Countdown(3)
		if tr.Meta.Extra == nil {
			tr.Meta.Extra = map[string]string{}
		}
		tr.Meta.Extra["cpu_ns"] = fmt.Sprint(tr.Duration()) // a core's worth: what the threads wanted
		if busy {
			tr.Meta.Extra["cpu_ns"] = fmt.Sprint(tr.Duration() / 10)
		}
		path, _ := writeTrace(t, tr)
		dir := filepath.Dir(path)
		for _, f := range []string{"report", "report-json", "pprof-wait", "pprof-blame", "pprof-wall", "chrome", "perfetto", "flamegraph"} {
			out := filepath.Join(dir, f+".out")
			if msg, err := runRoot("export", path, "-f", f, "-o", out); err != nil {
				t.Fatalf("export -f %s: %v\n%s", f, err, msg)
			}
			b, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			var text string
			switch {
			case f == "report-json": // the flag and the figures, for scripts
				if got := strings.Contains(string(b), `"busy_machine": true`) && strings.Contains(string(b), `"obtained_share": 0.1`); got != busy {
					t.Errorf("busy %v: report.json flags it: %v", busy, got)
				}
				continue
			case strings.HasPrefix(f, "pprof-"):
				p, err := profile.Parse(bytes.NewReader(b))
				if err != nil {
					t.Fatal(err)
				}
				text = strings.Join(p.Comments, "\n")
			case f == "chrome":
				var doc struct {
					Metadata    map[string]any `json:"metadata"`
					TraceEvents []struct {
						Ph, S, Cat, Name string
						Args             map[string]any
					} `json:"traceEvents"`
				}
				if err := json.Unmarshal(b, &doc); err != nil {
					t.Fatal(err)
				}
				text = fmt.Sprint(doc.Metadata["warnings"])
				instants := 0
				for _, e := range doc.TraceEvents {
					if e.Cat == "warning" {
						instants++
						if e.Ph != "i" || e.S != "g" || e.Name != "Warning: busy machine" || !strings.HasPrefix(fmt.Sprint(e.Args["text"]), warning) {
							t.Errorf("trace.json's warning instant: %+v", e)
						}
					}
				}
				if busy != (instants == 1) {
					t.Errorf("busy %v: trace.json has %d warning instants", busy, instants)
				}
			default:
				text = string(b)
			}
			if got := strings.Contains(text, warning); got != busy {
				t.Errorf("busy %v: %s says %q: %v", busy, f, warning, got)
			}
		}
	}
}

// TestExportBesideAnyTrace: export's default path beside a trace not named
// run.giltrace keeps a file of the user's there, as beside a run's, and
// writes its output again when asked; a trace beside a run's does not
// replace the run's outputs. QA: `export a.giltrace -f report` replaced
// the user's report.txt; `export other.giltrace -f folded` in a run's
// directory replaced the run's flame.folded.
func TestExportBesideAnyTrace(t *testing.T) {
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join("..", "..", "fixtures", "traces", "convoy.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	a := filepath.Join(dir, "a.giltrace")
	if err := os.WriteFile(a, src, 0o644); err != nil {
		t.Fatal(err)
	}
	mine := filepath.Join(dir, "report.txt")
	if err := os.WriteFile(mine, []byte("my notes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = runRoot("export", a, "--format", "report")
	if err == nil || !strings.Contains(err.Error(), mine+": not written by giltrace") {
		t.Errorf("export over a user's file beside a trace: %v", err)
	}
	if b, _ := os.ReadFile(mine); string(b) != "my notes\n" {
		t.Errorf("the user's file became %q", b)
	}
	for range 2 { // written, then replaced: its own
		if _, err := runRoot("export", a, "--format", "folded"); err != nil {
			t.Fatal(err)
		}
	}
	if !readManifest(dir)["flame.folded"] {
		t.Errorf("the list after export: %v", readManifest(dir))
	}

	run := filepath.Join(t.TempDir(), "run")
	if _, err := runRoot("record", "../../fixtures/countdown.yaml", "--clock", "virtual", "-o", run, "--formats", "folded"); err != nil {
		t.Fatal(err)
	}
	folded := filepath.Join(run, "flame.folded")
	before, err := os.ReadFile(folded)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(run, "other.giltrace")
	if err := os.WriteFile(other, src, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = runRoot("export", other, "--format", "folded")
	if err == nil || !strings.Contains(err.Error(), "is a run's directory") {
		t.Errorf("export of another trace over a run's output: %v", err)
	}
	if after, _ := os.ReadFile(folded); string(after) != string(before) {
		t.Errorf("the run's flame.folded was replaced")
	}
	if _, err := runRoot("export", other, "--format", "folded", "-o", filepath.Join(run, "other.folded")); err != nil {
		t.Errorf("export with -o beside a run: %v", err)
	}
}
