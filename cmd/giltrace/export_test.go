package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/exporters/flamegraph"
	"github.com/giltrace/giltrace/exporters/pprof"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
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
	// A trace that is not a run's keeps the old default: beside it.
	other := filepath.Join(t.TempDir(), "mine.giltrace")
	b, _ := os.ReadFile(trace)
	os.WriteFile(other, b, 0o644)
	if _, err := runRoot("export", other, "--format", "text"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(other), manifestName)); !os.IsNotExist(err) {
		t.Errorf("an export beside a lone trace wrote a list: %v", err)
	}
}
