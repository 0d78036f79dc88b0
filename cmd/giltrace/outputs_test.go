package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/exporters/perfetto"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
	"github.com/spf13/cobra"
)

func TestParseFormats(t *testing.T) {
	all := []string{"pprof-wait", "pprof-blame", "pprof-wall", "chrome", "folded", "flamegraph", "report", "report-json"}
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{"", all, false},
		{"all", all, false},
		{"none", nil, false},
		{"chrome", []string{"chrome"}, false},
		{"text,chrome", []string{"chrome", "text"}, false}, // text only when named
		{"folded, pprof-wait,folded", []string{"pprof-wait", "folded"}, false},
		{"pprof", nil, true},
		{"chrome,", nil, true},
		{"pprof-wait,,folded", nil, true},
		{"all,chrome", nil, true},
		{"all,text", nil, true},
		{"text, none", nil, true},
	}
	for _, tc := range tests {
		got, err := parseFormats(tc.in)
		if tc.wantErr {
			if err == nil || !strings.Contains(err.Error(), "formats: pprof-wait, pprof-blame") {
				t.Errorf("parseFormats(%q) = %q, %v; want an error listing the formats", tc.in, got, err)
			}
			// all and none are valid alone: combined, the error says so
			// rather than calling them unknown (did you mean "all"?).
			if strings.Contains(tc.in, "all") || strings.Contains(tc.in, "none") {
				if err == nil || !strings.Contains(err.Error(), "cannot be combined with other formats") || strings.Contains(err.Error(), "unknown format") {
					t.Errorf("parseFormats(%q) = %v; want an error saying all and none cannot be combined", tc.in, err)
				}
			}
			// An empty name: a comma too many, not an unknown format "".
			if strings.Contains(","+tc.in+",", ",,") || strings.HasSuffix(tc.in, ",") {
				if err == nil || !strings.Contains(err.Error(), "an empty name in the list") || strings.Contains(err.Error(), "unknown format") {
					t.Errorf("parseFormats(%q) = %v; want an error naming the empty entry", tc.in, err)
				}
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("parseFormats(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestOutputsUnique checks that no two formats share a name or a file.
func TestOutputsUnique(t *testing.T) {
	names, files := map[string]bool{}, map[string]bool{}
	for _, o := range outputs() {
		if names[o.Name] || files[o.File] || o.About == "" || o.New == nil {
			t.Errorf("format %+v repeats a name or file, or lacks a description or constructor", o)
		}
		names[o.Name], files[o.File] = true, true
	}
}

// TestWriteOutputs writes every format and checks each file holds what
// its exporter writes for the trace.
func TestWriteOutputs(t *testing.T) {
	tr := testkit.Mixed()
	dir := t.TempDir()
	names, _ := parseFormats("all")
	names = append(names, "perfetto", "text") // the formats "all" leaves out
	written, err := writeOutputs(context.Background(), dir, newRun(tr), names)
	if err != nil {
		t.Fatal(err)
	}
	if len(written) != len(outputs()) {
		t.Errorf("wrote %q, want one file per format", written)
	}
	for _, o := range outputs() {
		got, err := os.ReadFile(filepath.Join(dir, o.File))
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		r := newRun(tr)
		if err := o.New(&want, r).Export(context.Background(), r.spans); err != nil {
			t.Fatal(err)
		}
		if len(got) == 0 || !bytes.Equal(got, want.Bytes()) {
			t.Errorf("%s: %d bytes, the exporter writes %d", o.File, len(got), want.Len())
		}
	}
}

// TestWriteOutputsErrors checks that every failure is reported, each
// naming its file.
func TestWriteOutputsErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	_, err := writeOutputs(context.Background(), dir, newRun(testkit.Mixed()), []string{"pprof-wait", "flamegraph"})
	if err == nil {
		t.Fatal("writing into a missing directory succeeded")
	}
	for _, f := range []string{"gil-wait.pb.gz", "flame.html"} {
		if !strings.Contains(err.Error(), filepath.Join(dir, f)) {
			t.Errorf("error %q does not name %s", err, f)
		}
	}
	// A failing export removes its partial file and the others still get written.
	dir = t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	written, err := writeOutputs(ctx, dir, newRun(testkit.Mixed()), []string{"folded", "flamegraph"})
	if err == nil || len(written) != 0 {
		t.Fatalf("canceled writes: %q, %v", written, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("failed outputs left files behind: %v", entries)
	}
}

func TestRecordFormatsArgs(t *testing.T) {
	for _, tc := range []struct {
		args  []string
		want  string
		usage bool
	}{
		{[]string{"w.yaml"}, "", false},
		{[]string{"w.yaml", "--formats", "none"}, "none", false},
		{[]string{"w.yaml", "--formats=pprof-wait,chrome"}, "pprof-wait,chrome", false},
		{[]string{"w.yaml", "--formats", "svg"}, "", true},
	} {
		var got *recordOptions
		cmd := recordCmd(func(_ *cobra.Command, o *recordOptions) error { got = o; return nil })
		cmd.SetArgs(tc.args)
		cmd.SetOut(&strings.Builder{})
		cmd.SetErr(&strings.Builder{})
		err := cmd.Execute()
		if tc.usage {
			if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "flamegraph") {
				t.Errorf("%q: err = %v, want a usage error listing the formats", tc.args, err)
			}
			continue
		}
		if err != nil || got.Formats != tc.want {
			t.Errorf("%q: formats %q, err %v; want %q", tc.args, got.Formats, err, tc.want)
		}
	}
}

// TestRecordOutputs records a small workload and checks which outputs
// land in the directory: all by default, the chosen ones with --formats.
func TestRecordOutputs(t *testing.T) {
	w := writeWorkload(t, small)
	files := func(dir string) []string {
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		return names
	}
	dir := filepath.Join(t.TempDir(), "all")
	out, err := runRoot("record", w, "-o", dir, "--threads", "1")
	if err != nil {
		t.Fatalf("record: %v\n%s", err, out)
	}
	want := []string{".giltrace-outputs", "flame.folded", "flame.html", "gil-blame.pb.gz", "gil-wait.pb.gz", "report.json", "report.txt", "run.giltrace", "trace.json", "wall.pb.gz"}
	if got := files(dir); !slices.Equal(got, want) {
		t.Errorf("record wrote %q, want %q", got, want)
	}
	if !strings.Contains(out, "outputs: "+filepath.Join(dir, "gil-wait.pb.gz")) {
		t.Errorf("record does not list its outputs:\n%s", out)
	}
	// The outputs are those of the trace file.
	tr, err := tracer.ReadFile(filepath.Join(dir, "run.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	o, _ := lookupOutput("folded")
	var folded bytes.Buffer
	r := newRun(tr)
	if err := o.New(&folded, r).Export(context.Background(), r.spans); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "flame.folded")); !bytes.Equal(got, folded.Bytes()) {
		t.Error("flame.folded is not the folded stacks of run.giltrace")
	}

	for _, tc := range []struct{ formats, want string }{
		{"pprof-wait,chrome", ".giltrace-outputs gil-wait.pb.gz run.giltrace trace.json"},
		{"none", "run.giltrace"},
	} {
		dir := filepath.Join(t.TempDir(), "some")
		if out, err := runRoot("record", w, "-o", dir, "--threads", "1", "--formats", tc.formats); err != nil {
			t.Fatalf("record --formats %s: %v\n%s", tc.formats, err, out)
		}
		if got := strings.Join(files(dir), " "); got != tc.want {
			t.Errorf("record --formats %s wrote %s, want %s", tc.formats, got, tc.want)
		}
	}
}

// TestBySize checks that record's default outputs swap trace.json for
// trace.perfetto-trace past perfetto.LargeRun events, with a note, and
// keep formats named explicitly.
func TestBySize(t *testing.T) {
	all, _ := parseFormats("")
	small := &run{trace: &tracer.Trace{Events: make([]tracer.Event, 10)}}
	large := &run{trace: &tracer.Trace{Events: make([]tracer.Event, perfetto.LargeRun+1)}}
	var note strings.Builder
	if got := bySize("", all, small, &note); !slices.Equal(got, all) || note.Len() > 0 {
		t.Errorf("small run: %q, note %q", got, note.String())
	}
	got := bySize("all", all, large, &note)
	if slices.Contains(got, "chrome") || !slices.Contains(got, "perfetto") || len(got) != len(all) || !strings.Contains(note.String(), "trace.perfetto-trace") {
		t.Errorf("large run: %q, note %q", got, note.String())
	}
	note.Reset()
	if got := bySize("chrome", []string{"chrome"}, large, &note); !slices.Equal(got, []string{"chrome"}) || note.Len() > 0 {
		t.Errorf("large run, chrome named: %q, note %q", got, note.String())
	}
}

// TestPerfettoSizeRatio measures trace.perfetto-trace against trace.json
// on fixtures/traces/convoy.giltrace, as docs/outputs.md does, and checks
// that the format's help line and docs/outputs.md give that ratio ("about
// a sixth") and the docs the two sizes.
func TestPerfettoSizeRatio(t *testing.T) {
	const fixture = "../../fixtures/traces/convoy.giltrace"
	dir := t.TempDir()
	size := map[string]int64{}
	for _, f := range []string{"chrome", "perfetto"} {
		out := filepath.Join(dir, f)
		if _, err := runRoot("export", fixture, "-f", f, "-o", out); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(out)
		if err != nil {
			t.Fatal(err)
		}
		size[f] = fi.Size()
	}
	ratio := float64(size["chrome"]) / float64(size["perfetto"])
	words := map[int]string{3: "a third", 4: "a quarter", 5: "a fifth", 6: "a sixth", 7: "a seventh", 8: "an eighth"}
	want, ok := words[int(ratio+0.5)]
	if !ok {
		t.Fatalf("JSON %d bytes, Perfetto %d bytes: ratio %.2f", size["chrome"], size["perfetto"], ratio)
	}
	want = "about " + want
	for _, o := range outputs() {
		if o.Name == "perfetto" && !strings.Contains(o.About, want+" of trace.json's size") {
			t.Errorf("perfetto's help line %q; measured %.2fx (%d against %d bytes): want %q", o.About, ratio, size["perfetto"], size["chrome"], want)
		}
	}
	doc, err := os.ReadFile("../../docs/outputs.md")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.Join(strings.Fields(string(doc)), " ")
	for _, w := range []string{
		want + " of the size",
		fmt.Sprintf("%s bytes against %s bytes of `trace.json` (%.1fx", thousands(size["perfetto"]), thousands(size["chrome"]), ratio),
	} {
		if !strings.Contains(text, w) {
			t.Errorf("docs/outputs.md lacks %q (measured on %s)", w, fixture)
		}
	}
}

// thousands writes n with commas: 229699 as 229,699.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// TestSizedNames: the formats a message names as not written are those
// record picks for the run's size (QA: trace.json named for a run of
// 1.92 M events, whose output is trace.perfetto-trace).
func TestSizedNames(t *testing.T) {
	all := []string{"pprof-wait", "chrome", "report"}
	if got := sizedNames("", all, perfetto.LargeRun+1); !slices.Equal(got, []string{"pprof-wait", "perfetto", "report"}) {
		t.Errorf("a large run: %q", got)
	}
	if got := sizedNames("all", all, perfetto.LargeRun); !slices.Equal(got, all) {
		t.Errorf("at the bound: %q", got)
	}
	if got := sizedNames("chrome,report", all, perfetto.LargeRun+1); !slices.Equal(got, all) {
		t.Errorf("formats named: %q", got)
	}
}
