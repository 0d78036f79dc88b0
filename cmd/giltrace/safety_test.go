package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/giltrace/giltrace/compare"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

var errWrite = errors.New("the exporter failed")

// TestWriteFileFailureKeepsPath: a failed output leaves whatever was at
// its path as it was, and no temporary file.
func TestWriteFileFailureKeepsPath(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "trace.json")
	os.WriteFile(old, []byte("good"), 0o640)
	target := filepath.Join(dir, "target.json")
	os.WriteFile(target, []byte("target"), 0o644)
	link := filepath.Join(dir, "link.json")
	os.Symlink("target.json", link)
	fail := func(w io.Writer) error { w.Write([]byte("partial")); return errWrite }
	for _, path := range []string{old, link, filepath.Join(dir, "new.json")} {
		if err := writeFile(context.Background(), path, fail); !errors.Is(err, errWrite) {
			t.Errorf("%s: %v, want the exporter's error", path, err)
		}
	}
	for path, want := range map[string]string{old: "good", target: "target", link: "target"} {
		if b, err := os.ReadFile(path); err != nil || string(b) != want {
			t.Errorf("%s after a failure: %q, %v; want %q", path, b, err, want)
		}
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink did not survive: %v", err)
	}
	if fi, _ := os.Stat(old); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode changed to %v", fi.Mode())
	}
	assertNoTemp(t, dir)
	if _, err := os.Stat(filepath.Join(dir, "new.json")); err == nil {
		t.Error("a failed output created its file")
	}
}

// TestWriteFileReplaces: a successful output replaces a file atomically,
// writes a symlink's target (the link stays), writes a device in place,
// and refuses a directory.
func TestWriteFileReplaces(t *testing.T) {
	dir := t.TempDir()
	ok := func(w io.Writer) error { _, err := w.Write([]byte("new")); return err }
	old := filepath.Join(dir, "old.json")
	os.WriteFile(old, []byte("old content"), 0o644)
	os.WriteFile(filepath.Join(dir, "target.json"), []byte("target"), 0o644)
	link := filepath.Join(dir, "link.json")
	os.Symlink("target.json", link)
	for _, p := range []string{old, link} {
		if err := writeFile(context.Background(), p, ok); err != nil {
			t.Fatal(err)
		}
		if b, _ := os.ReadFile(p); string(b) != "new" {
			t.Errorf("%s = %q", p, b)
		}
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink was replaced: %v", err)
	}
	if err := writeFile(context.Background(), "/dev/null", ok); err != nil {
		t.Errorf("/dev/null: %v", err)
	}
	if err := writeFile(context.Background(), dir, ok); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("a directory: %v", err)
	}
	assertNoTemp(t, dir)
}

func assertNoTemp(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp") || strings.HasSuffix(e.Name(), ".partial") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

// TestExportDevFull: exporting to /dev/full fails with the device's error
// and leaves the device node in place (it used to be removed).
func TestExportDevFull(t *testing.T) {
	before, err := os.Stat("/dev/full")
	if err != nil {
		t.Skip("no /dev/full:", err)
	}
	path, _ := writeTrace(t, testkit.Mixed())
	out, err := runRoot("export", path, "--format", "chrome", "-o", "/dev/full")
	if err == nil || !strings.Contains(err.Error(), "no space left") || !strings.Contains(err.Error(), "/dev/full") {
		t.Errorf("export to /dev/full: %v\n%s", err, out)
	}
	after, err := os.Stat("/dev/full")
	if err != nil || after.Mode() != before.Mode() {
		t.Fatalf("/dev/full after the export: %v, %v (was %v)", after, err, before.Mode())
	}
}

// TestExportStdoutError: -o - reports a failing stdout.
func TestExportStdoutError(t *testing.T) {
	path, _ := writeTrace(t, testkit.Mixed())
	cmd := newRootCmd()
	cmd.SetArgs([]string{"export", path, "--format", "chrome", "-o", "-"})
	cmd.SetOut(failWriter{})
	cmd.SetErr(io.Discard)
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "stdout") {
		t.Errorf("export to a failing stdout: %v", err)
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, syscall.EPIPE }

// TestRecordReplacesPreviousRun: recording into a directory that holds
// another run replaces all of its outputs, and leaves other files alone.
func TestRecordReplacesPreviousRun(t *testing.T) {
	w := writeWorkload(t, small)
	dir := filepath.Join(t.TempDir(), "out")
	if out, err := runRoot("record", w, "-o", dir, "--formats", "all"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o644)
	out, err := runRoot("record", w, "-o", dir, "--formats", "report")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "replaced the previous run in "+dir) {
		t.Errorf("no word of the replaced run:\n%s", out)
	}
	var names []string
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != ".giltrace-outputs notes.txt report.txt run.giltrace" {
		t.Errorf("directory holds %s; want the new run's files and notes.txt", got)
	}
}

// TestRecordKeepsUnlistedOutputNames: a file under an output's name that
// the previous run did not write (the user's, made after it) is not
// removed by the next record, which removes only what the previous one
// listed as written.
func TestRecordKeepsUnlistedOutputNames(t *testing.T) {
	w := writeWorkload(t, small)
	dir := filepath.Join(t.TempDir(), "out")
	if out, err := runRoot("record", w, "-o", dir, "--formats", "report,pprof-wait"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var mine []string
	for _, name := range runFiles() {
		p := filepath.Join(dir, name)
		if _, err := os.Lstat(p); os.IsNotExist(err) {
			os.WriteFile(p, []byte("mine"), 0o644)
			mine = append(mine, name)
		}
	}
	if len(mine) == 0 {
		t.Fatal("the first run wrote every output")
	}
	out, err := runRoot("record", w, "-o", dir, "--formats", "none")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, name := range mine {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != "mine" {
			t.Errorf("the user's %s after the second record: %q, %v", name, b, err)
		}
	}
	for _, name := range []string{"report.txt", ".giltrace-outputs"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("the previous run's %s is still there (%v)", name, err)
		}
	}
}

// TestRecordClearsSubdirs: recording into a directory removes the previous
// run's compare/ and whatif/ (the files giltrace listed as written in
// them, then the directories once empty), and leaves the user's files,
// those under giltrace's names included, and the directory holding them.
func TestRecordClearsSubdirs(t *testing.T) {
	w := writeWorkload(t, small)
	dir := filepath.Join(t.TempDir(), "out")
	if out, err := runRoot("record", w, "-o", dir, "--formats", "none"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if out, err := runRoot("compare", w, "-o", filepath.Join(dir, "compare"), "--threads", "1,2", "--modes", "threads", "--switch-interval", "1ms,500us"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// whatif/ as compare RUN.giltrace leaves it: its files, listed.
	whatif := filepath.Join(dir, "whatif")
	os.Mkdir(whatif, 0o755)
	for _, f := range compare.PredictionFiles {
		os.WriteFile(filepath.Join(whatif, f), []byte("old"), 0o644)
	}
	if err := listCompares(whatif, compare.PredictionFiles); err != nil {
		t.Fatal(err)
	}
	mine := filepath.Join(dir, "compare", "mine.svg")
	os.WriteFile(mine, []byte("mine"), 0o644)
	// A file of the user's under a name compare writes, not listed.
	os.WriteFile(filepath.Join(dir, "compare", "threads-9.giltrace"), []byte("mine"), 0o644)
	if out, err := runRoot("record", w, "-o", dir, "--formats", "none"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if _, err := os.Stat(whatif); !os.IsNotExist(err) {
		t.Errorf("the previous run's whatif/ is still there (%v)", err)
	}
	var names []string
	ents, _ := os.ReadDir(filepath.Join(dir, "compare"))
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != "mine.svg threads-9.giltrace" {
		t.Errorf("compare/ holds %q; want only the user's mine.svg threads-9.giltrace", got)
	}
}

// TestRunSubdirNames: the names clearRun takes for giltrace's own are
// those compare writes.
func TestRunSubdirNames(t *testing.T) {
	var files []string
	for _, f := range (&compare.Prediction{}).Files() {
		files = append(files, f.Name)
	}
	if !slices.Equal(files, compare.PredictionFiles) {
		t.Errorf("prediction files %q, compare.PredictionFiles %q", files, compare.PredictionFiles)
	}
	var charts []string
	for _, f := range (&compare.Result{}).Charts() {
		charts = append(charts, f.Name)
	}
	if !slices.Equal(charts, compare.ChartFiles) {
		t.Errorf("charts %q, compare.ChartFiles %q", charts, compare.ChartFiles)
	}
	for _, v := range []compare.Variant{{Mode: "threads", Threads: 4}, {Mode: "free-threaded", Threads: 16}, {Mode: "processes", Threads: 2, SwitchInterval: 500 * time.Microsecond}, {Mode: "threads", Threads: 1, SwitchInterval: time.Minute}} {
		if !isCompareFile(v.Name() + ".giltrace") {
			t.Errorf("%s.giltrace is not taken for a comparison's trace", v.Name())
		}
	}
	for _, f := range []string{"speedup.svg", "overlap.png"} {
		if !isCompareFile(f) {
			t.Errorf("%s is not taken for a comparison's chart", f)
		}
	}
	for _, f := range []string{"notes.txt", "threads.giltrace", "run.giltrace", "my-threads-4.giltrace"} {
		if isCompareFile(f) {
			t.Errorf("%s is taken for a comparison's file", f)
		}
	}
}

// mountTmpfs mounts a tmpfs of size bytes on a new directory, unmounted at
// the end of the test. It needs root (CI runs as root).
func mountTmpfs(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("full-disk tests mount a tmpfs: they need root (CI runs as root)")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (%v: %s): full-disk tests need mount rights", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// fill leaves about free bytes free on the file system of dir.
func fill(t *testing.T, dir string, free int64) {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	avail := int64(st.Bavail) * int64(st.Bsize)
	if n := avail - free; n > 0 {
		if err := os.WriteFile(filepath.Join(dir, "filler"), make([]byte, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFullDiskExport: an export that fills the disk leaves the previous
// good file at its path.
func TestFullDiskExport(t *testing.T) {
	disk := mountTmpfs(t, "1m")
	path, _ := writeTrace(t, testkit.Mixed())
	out := filepath.Join(disk, "trace.json")
	os.WriteFile(out, []byte(`{"good": true}`), 0o644)
	fill(t, disk, 0)
	_, err := runRoot("export", path, "--format", "chrome", "-o", out)
	if err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("export on a full disk: %v", err)
	}
	if b, _ := os.ReadFile(out); string(b) != `{"good": true}` {
		t.Errorf("the previous file became %q", b)
	}
	// model -o the same way (it wrote the path in place: half a model).
	_, err = runRoot("model", path, "-o", out)
	if err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("model on a full disk: %v", err)
	}
	if b, _ := os.ReadFile(out); string(b) != `{"good": true}` {
		t.Errorf("model: the previous file became %q", b)
	}
	assertNoTemp(t, disk)
}

// TestFullDiskRecord: when the disk fills while writing the outputs, the
// trace and the outputs already written stay, the report is printed, and
// the error names what failed.
func TestFullDiskRecord(t *testing.T) {
	disk := mountTmpfs(t, "1m")
	w := writeWorkload(t, small)
	dir := filepath.Join(disk, "out")
	os.Mkdir(dir, 0o755)
	fill(t, disk, 3*4096) // the trace and a small profile or two: a page each
	var stdout, stderr bytes.Buffer
	// Virtual time: the same trace and outputs on every run, so that the
	// trace fits one page whatever the machine's load (in real time the
	// CPU-bound thread's switches, and the trace's size, vary).
	err := record(context.Background(), &recordOptions{Workload: w, Out: dir, Clock: "virtual", Cores: 2}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("record on a full disk: %v", err)
	}
	if !strings.Contains(stdout.String(), "Threads (time in each state") {
		t.Errorf("no report printed:\n%s", stdout.String())
	}
	if _, err := tracer.ReadFile(filepath.Join(dir, traceName)); err != nil {
		t.Errorf("the trace: %v", err)
	}
	// The outputs are written two at a time, so which of them fit before
	// the disk filled varies; each one there must be whole.
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	outputs := 0
	for _, e := range entries {
		if e.Name() == traceName || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		outputs++
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil || len(b) == 0 {
			t.Errorf("output %s: %d bytes, %v", e.Name(), len(b), err)
			continue
		}
		if strings.HasSuffix(e.Name(), ".gz") {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err == nil {
				_, err = io.Copy(io.Discard, zr)
			}
			if err != nil {
				t.Errorf("output %s is not whole: %v", e.Name(), err)
			}
		}
	}
	if outputs == 0 {
		t.Errorf("no output written before the disk filled (%d entries)", len(entries))
	}
	assertNoTemp(t, dir)
}

// TestFullDiskTrace: when not even the trace fits, the report is still
// printed and the error says where the run's prefix is.
func TestFullDiskTrace(t *testing.T) {
	disk := mountTmpfs(t, "1m")
	w := writeWorkload(t, small)
	dir := filepath.Join(disk, "out")
	os.Mkdir(dir, 0o755)
	fill(t, disk, 0)
	var stdout, stderr bytes.Buffer
	err := record(context.Background(), &recordOptions{Workload: w, Out: dir}, &stdout, &stderr)
	if err == nil || !strings.Contains(err.Error(), "no space left") || !strings.Contains(err.Error(), partialName) {
		t.Fatalf("record on a full disk: %v", err)
	}
	if !strings.Contains(stdout.String(), "Threads (time in each state") {
		t.Errorf("no report printed:\n%s", stdout.String())
	}
	// The trace line says the trace was not saved (QA: it named an empty
	// file as the trace).
	if !strings.Contains(stdout.String(), "\ntrace: not saved") {
		t.Errorf("the report's trace line:\n%s", stdout.String())
	}
}

// TestFullDiskTraceVirtual: a virtual-time run is computed before the
// stream's first flush (every 250 ms of real time), so a disk that fills
// leaves its partial file with a header and no event: the error must say
// so, not call it the run's prefix, and say that recording it again gives
// the same run.
func TestFullDiskTraceVirtual(t *testing.T) {
	disk := mountTmpfs(t, "1m")
	dir := filepath.Join(disk, "out")
	os.Mkdir(dir, 0o755)
	fill(t, disk, 4096) // the header, the meta and the tables; not convoy's events
	var stdout, stderr bytes.Buffer
	err := record(context.Background(), &recordOptions{Workload: "../../fixtures/convoy.yaml", Out: dir, Clock: "virtual", Cores: 2}, &stdout, &stderr)
	partial := filepath.Join(dir, partialName)
	if err == nil || !strings.Contains(err.Error(), "no space left") {
		t.Fatalf("record on a full disk: %v", err)
	}
	// The file, a header and tables without an event, is removed: of no
	// use, it kept the disk full (QA).
	if _, err := os.Lstat(partial); !os.IsNotExist(err) {
		t.Errorf("%s, which held no event: %v, want removed", partial, err)
	}
	for _, want := range []string{"no complete event of the run reached the disk: its " + partial + ", which held none, was removed", "virtual-time run is the same bytes every time: record it again"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("record on a full disk: %v\nwant %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "prefix") {
		t.Errorf("record on a full disk calls an eventless file the run's prefix: %v", err)
	}
}

// TestPartialHolds: the error of a run whose trace could not be written
// says what its partial file holds: nothing, no complete event, or the
// run's prefix with its count of events.
func TestPartialHolds(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.giltrace.partial")
	os.WriteFile(empty, nil, 0o644)
	var b bytes.Buffer
	if err := tracer.Write(&b, testkit.Mixed()); err != nil {
		t.Fatal(err)
	}
	whole := filepath.Join(dir, "whole.giltrace.partial")
	os.WriteFile(whole, b.Bytes(), 0o644)
	cut := filepath.Join(dir, "cut.giltrace.partial")
	os.WriteFile(cut, b.Bytes()[:b.Len()-20], 0o644) // the one events record cut off: 0 events
	for _, tc := range []struct {
		path    string
		virtual bool
		want    string
	}{
		{empty, false, "nothing of the run reached the disk: its empty " + empty + " was removed"},
		{cut, true, "no complete event of the run reached the disk: its " + cut + ", which held none, was removed; a virtual-time run is the same bytes every time: record it again where the disk has room"},
		{cut, false, cut + " holds no complete event of the run"}, // removed by the first
		{whole, false, "the run's prefix, 53 events, is in " + whole},
	} {
		if got := partialHolds(tc.path, tc.virtual); got != tc.want {
			t.Errorf("partialHolds(%s, %v) = %q, want %q", filepath.Base(tc.path), tc.virtual, got, tc.want)
		}
	}
	for _, p := range []string{empty, cut} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s: %v, want removed", filepath.Base(p), err)
		}
	}
}

// TestRecordThroughSymlink: a run.giltrace that is a symbolic link (to a
// trace kept elsewhere) is written through, and stays a link.
func TestRecordThroughSymlink(t *testing.T) {
	w := writeWorkload(t, small)
	dir := filepath.Join(t.TempDir(), "out")
	os.Mkdir(dir, 0o755)
	target := filepath.Join(t.TempDir(), "kept.giltrace")
	os.Symlink(target, filepath.Join(dir, traceName))
	if out, err := runRoot("record", w, "-o", dir, "--formats", "none"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if fi, err := os.Lstat(filepath.Join(dir, traceName)); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf("the link was replaced: %v", err)
	}
	if _, err := tracer.ReadFile(target); err != nil {
		t.Fatal(err)
	}
	assertNoTemp(t, dir)
}

// TestWriteFIFONoReader: -o naming a named pipe that no one reads is an
// error at once, not a wait for a reader forever.
func TestWriteFIFONoReader(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Skip("no named pipes here:", err)
	}
	done := make(chan error, 1)
	go func() {
		done <- writeFile(context.Background(), fifo, func(w io.Writer) error { _, err := w.Write([]byte("x")); return err })
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "named pipe with no reader") {
			t.Errorf("writing a FIFO with no reader: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("writing a FIFO with no reader blocked")
	}
}

// TestRecordWithoutManifest: a previous run that did not list its outputs
// (recorded by an older giltrace, or stopped before the list was written)
// has them left, with a warning naming them: they cannot be told from the
// user's files. Nor are they replaced: an output whose name such a file
// has is not written, and record fails saying so, the file as it was (QA:
// a user's report.txt was replaced beside a warning that it was left). A
// manifest that is a link is the user's: not written through, with a
// warning.
func TestRecordWithoutManifest(t *testing.T) {
	w := writeWorkload(t, small)
	dir := filepath.Join(t.TempDir(), "out")
	if out, err := runRoot("record", w, "-o", dir, "--formats", "report,folded"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if err := os.Remove(filepath.Join(dir, ".giltrace-outputs")); err != nil {
		t.Fatal(err)
	}
	report := filepath.Join(dir, "report.txt")
	if err := os.WriteFile(report, []byte("the user's notes"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runRoot("record", w, "-o", dir, "--formats", "report")
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), report+": not written by giltrace (not listed in .giltrace-outputs), left as it is") {
		t.Errorf("record over an unlisted report.txt: %v (exit %d), want its output refused\n%s", err, exitCode(err), out)
	}
	if b, _ := os.ReadFile(report); string(b) != "the user's notes" {
		t.Errorf("report.txt replaced: %.60q", b)
	}
	if !strings.Contains(out, "did not list its outputs (.giltrace-outputs is missing: it wrote none, with --formats none, or was recorded by an older giltrace") || !strings.Contains(out, "flame.folded") {
		t.Errorf("no warning naming the unlisted outputs:\n%s", out)
	}
	if !strings.Contains(out, "so flame.folded, report.txt, which may be its outputs or your files, were left") {
		t.Errorf("the warning's number:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "flame.folded")); err != nil {
		t.Errorf("an unlisted output was removed: %v", err)
	}
	if out, err := runRoot("record", w, "-o", dir, "--formats", "chrome"); err != nil {
		t.Fatalf("an output no file is in the way of: %v\n%s", err, out)
	}

	precious := filepath.Join(t.TempDir(), "precious")
	os.WriteFile(precious, []byte("precious"), 0o644)
	link := filepath.Join(dir, ".giltrace-outputs")
	os.Remove(link)
	if err := os.Symlink(precious, link); err != nil {
		t.Fatal(err)
	}
	out, err = runRoot("record", w, "-o", dir, "--formats", "text")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if b, _ := os.ReadFile(precious); string(b) != "precious" {
		t.Errorf("the manifest was written through a link: %q", b)
	}
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the link is gone: %v, %v", fi, err)
	}
	if !strings.Contains(out, "not a regular file") {
		t.Errorf("no warning about the linked manifest:\n%s", out)
	}
}

// closedPipe is a standard output whose reader has gone (record ... | head).
type closedPipe struct{}

func (closedPipe) Write([]byte) (int, error) {
	return 0, &os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.EPIPE}
}

// TestClosedStdout: a record whose standard output is a closed pipe still
// writes its outputs and their list, sends the run over OTLP (which comes
// after the report), and returns the broken pipe alone, which main turns
// into SIGPIPE's exit status without a message.
func TestClosedStdout(t *testing.T) {
	clearOTLPEnv(t)
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/traces" {
			requests.Add(1)
		}
	}))
	defer srv.Close()
	dir := filepath.Join(t.TempDir(), "out")
	var stderr bytes.Buffer
	err := record(context.Background(), &recordOptions{Workload: "../../fixtures/convoy.yaml", Out: dir, Clock: "virtual", Cores: 2, OTLP: srv.URL}, closedPipe{}, &stderr)
	if rest, broken := brokenStdout(err); !broken || rest != nil {
		t.Fatalf("record to a closed pipe: %v (broken %v, rest %v)", err, broken, rest)
	}
	if requests.Load() != 1 {
		t.Errorf("record to a closed pipe sent %d requests over OTLP, want 1; stderr:\n%s", requests.Load(), stderr.String())
	}
	for _, f := range []string{"run.giltrace", "report.txt", "gil-wait.pb.gz", manifestName} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("record to a closed pipe: %v", err)
		}
	}
}

// TestBrokenStdout: standard output's broken pipe is found in a join, and
// the other errors are kept; another file's is an error like any.
func TestBrokenStdout(t *testing.T) {
	pipe := fmt.Errorf("printing the report: %w", &os.PathError{Op: "write", Path: "/dev/stdout", Err: syscall.EPIPE})
	other := errors.New("writing flame.html: no space left on device")
	fifo := fmt.Errorf("exporting: %w", &os.PathError{Op: "write", Path: "out.fifo", Err: syscall.EPIPE})
	for _, c := range []struct {
		err    error
		broken bool
		rest   error
	}{
		{pipe, true, nil},
		{errors.Join(nil, pipe), true, nil},
		{errors.Join(other, pipe), true, other},
		{other, false, other},
		{errors.Join(other, errors.Join(pipe)), true, other},
		{fifo, false, fifo}, // a closed pipe at -o FILE is printed
	} {
		rest, broken := brokenStdout(c.err)
		if broken != c.broken || (rest == nil) != (c.rest == nil) || rest != nil && rest.Error() != c.rest.Error() {
			t.Errorf("brokenStdout(%v) = %v, %v; want %v, %v", c.err, rest, broken, c.rest, c.broken)
		}
	}
}

// TestManifestListsOnlyWritten: while record writes its outputs, the
// directory's list of them (which the next record into it removes) holds
// only outputs already in place, whenever the command is killed. QA: they
// were listed before they were written; an attach stopped while writing
// left report.txt listed and unwritten, and a file the user put there
// later was removed by the next record.
func TestManifestListsOnlyWritten(t *testing.T) {
	w := writeWorkload(t, small)
	dir := filepath.Join(t.TempDir(), "out")
	var mu sync.Mutex
	var bad []string
	seen := 0
	beforeOutput = func(string) {
		mu.Lock()
		defer mu.Unlock()
		seen++
		for name := range readManifest(dir) {
			if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
				bad = append(bad, name)
			}
		}
	}
	defer func() { beforeOutput = nil }()
	if out, err := runRoot("record", w, "-o", dir, "--formats", "report,folded,pprof-wait"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if seen != 3 || len(bad) > 0 {
		t.Errorf("%d outputs begun; listed before they were written: %q", seen, bad)
	}
	if got := len(readManifest(dir)); got != 3 {
		t.Errorf("%d outputs listed at the end, want 3", got)
	}
}

// TestRecordKeepsAnEarlierPartial: the streamed trace an earlier run left
// (killed, or stopped by a full disk: the only copy of what it recorded)
// is kept under a new name, said, when the next record streams into its
// name (QA: truncated without a word). A run.giltrace that is a directory
// is found before the run, not after it.
func TestRecordKeepsAnEarlierPartial(t *testing.T) {
	w := writeWorkload(t, small)
	dir := t.TempDir()
	partial := filepath.Join(dir, partialName)
	earlier := tracer.Magic + "earlier" // a trace's start
	os.WriteFile(partial, []byte(earlier), 0o644)
	os.WriteFile(partial+".1", []byte("earliest"), 0o644)
	out, err := runRoot("record", w, "-o", dir, "--formats", "none")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if b, _ := os.ReadFile(partial + ".2"); string(b) != earlier {
		t.Errorf("%s.2: %q, want the earlier run's partial trace", partial, b)
	}
	if b, _ := os.ReadFile(partial + ".1"); string(b) != "earliest" {
		t.Errorf("%s.1: %q, want it as it was", partial, b)
	}
	if !strings.Contains(out, "giltrace: kept "+partial+", the trace of an earlier run that did not finish") {
		t.Errorf("not said:\n%s", out)
	}
	if _, err := tracer.ReadFile(filepath.Join(dir, traceName)); err != nil {
		t.Errorf("the new run: %v", err)
	}

	// A file that is not a trace under the partial's name is kept, and not
	// called a run's; one under the trace's name is not replaced: the run
	// is refused before it starts (QA: notes named run.giltrace were "the
	// previous run", replaced).
	notes := t.TempDir()
	os.WriteFile(filepath.Join(notes, partialName), []byte("partial of mine"), 0o644)
	out, err = runRoot("record", w, "-o", notes, "--formats", "none")
	if err != nil || !strings.Contains(out, "giltrace: kept "+filepath.Join(notes, partialName)+", a file that is not a trace, as") {
		t.Errorf("a partial that is not a trace: %v\n%s", err, out)
	}
	os.WriteFile(filepath.Join(notes, traceName), []byte("my precious notes"), 0o644)
	out, err = runRoot("record", w, "-o", notes, "--formats", "none")
	if err == nil || !strings.Contains(err.Error(), `run.giltrace is not a giltrace trace (it starts with "my precious note")`) {
		t.Errorf("a run.giltrace that is not a trace: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(filepath.Join(notes, traceName)); string(b) != "my precious notes" {
		t.Errorf("the user's run.giltrace: %q", b)
	}
	// The same through a link: its target is what would be replaced (QA).
	linkedNotes := t.TempDir()
	notesFile := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(notesFile, []byte("my precious notes"), 0o644)
	os.Symlink(notesFile, filepath.Join(linkedNotes, traceName))
	out, err = runRoot("record", w, "-o", linkedNotes, "--formats", "none")
	if err == nil || !strings.Contains(err.Error(), "is not a giltrace trace") {
		t.Errorf("a run.giltrace linked to a file that is not a trace: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(notesFile); string(b) != "my precious notes" {
		t.Errorf("the linked notes: %q", b)
	}

	// A link under the partial's name is refused: its target is not
	// written through (QA: it was replaced by the trace, and the link
	// renamed run.giltrace).
	linked := t.TempDir()
	target := filepath.Join(t.TempDir(), "target.txt")
	os.WriteFile(target, []byte("precious"), 0o644)
	os.Symlink(target, filepath.Join(linked, partialName))
	out, err = runRoot("record", w, "-o", linked, "--formats", "none")
	if err == nil || !strings.Contains(err.Error(), "run.giltrace.partial is not a regular file (a symbolic link)") {
		t.Errorf("a link named run.giltrace.partial: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(target); string(b) != "precious" {
		t.Errorf("the link's target: %q, want it as it was", b)
	}

	other := t.TempDir()
	os.Mkdir(filepath.Join(other, traceName), 0o755)
	start := time.Now()
	out, err = runRoot("record", writeWorkload(t, longWorkload), "-o", other, "--formats", "none")
	if err == nil || !strings.Contains(err.Error(), "run.giltrace is a directory") {
		t.Errorf("record into a directory whose run.giltrace is a directory: %v\n%s", err, out)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("refused after %v: want before the run", d)
	}
}

// TestFullDiskKeepsTheCompleteStream: a virtual run streams its trace,
// then rewrites it canonically, which needs room for a second copy. On a
// disk with room for one, the streamed trace, complete, takes its place,
// with a warning (QA: a full disk discarded a complete trace of 1.92 M
// events, kept only as run.giltrace.partial behind an error).
func TestFullDiskKeepsTheCompleteStream(t *testing.T) {
	w := writeWorkload(t, `name: stream
clock: virtual
threads: [{name: w, count: 4, run: work, repeat: 20000}]
functions:
  work: [{io: {duration: 1us, kind: network}}, {compute: {loops: 200}}]
`)
	ref := filepath.Join(t.TempDir(), "ref")
	if out, err := runRoot("record", w, "-o", ref, "--formats", "none"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want, err := tracer.ReadFile(filepath.Join(ref, traceName))
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := os.Stat(filepath.Join(ref, traceName))
	disk := mountTmpfs(t, "16m")
	dir := filepath.Join(disk, "out")
	os.Mkdir(dir, 0o755)
	fill(t, disk, fi.Size()*3/2) // room for the stream, not for a second copy
	out, err := runRoot("record", w, "-o", dir, "--formats", "none")
	if err != nil {
		t.Fatalf("record on a disk with room for one copy: %v\n%s", err, out)
	}
	if !strings.Contains(out, "no space left") || !strings.Contains(out, "the streamed trace, which holds the whole run, is kept instead") {
		t.Errorf("no warning:\n%s", out)
	}
	got, err := tracer.ReadFile(filepath.Join(dir, traceName))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Events) != len(want.Events) || got.Dropped != want.Dropped {
		t.Errorf("kept %d events (%d dropped), want the run's %d", len(got.Events), got.Dropped, len(want.Events))
	}
	if _, err := os.Stat(filepath.Join(dir, partialName)); err == nil {
		t.Errorf("%s left beside the trace", partialName)
	}
}

// TestRecordThroughDanglingLink: a run.giltrace that is a link to nothing
// is written through, and record does not say it replaced a run (QA).
func TestRecordThroughDanglingLink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(t.TempDir(), "kept.giltrace")
	if err := os.Symlink(target, filepath.Join(dir, traceName)); err != nil {
		t.Fatal(err)
	}
	out, err := runRoot("record", writeWorkload(t, small), "-o", dir, "--formats", "none")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if strings.Contains(out, "replaced the previous run") {
		t.Errorf("said it replaced a run:\n%s", out)
	}
	if _, err := tracer.ReadFile(target); err != nil {
		t.Errorf("the link's target: %v", err)
	}
}

// TestLinksUnderOutputNames: a symbolic link of the user's under an
// output's name is not written through, by record (in a fresh directory:
// a live link and a dangling one) nor by export beside a trace, and -o
// naming the trace being read (or a link to it) is refused (QA: a link
// named report.txt had its target replaced, a dangling one made a file
// outside the directory; `export run.giltrace -f text -o run.giltrace`
// replaced the trace with its text).
func TestLinksUnderOutputNames(t *testing.T) {
	w := writeWorkload(t, small)
	outside := t.TempDir()
	target := filepath.Join(outside, "target.txt")
	os.WriteFile(target, []byte("precious"), 0o644)
	dir := t.TempDir()
	os.Symlink(target, filepath.Join(dir, "report.txt"))
	os.Symlink(filepath.Join(outside, "absent.json"), filepath.Join(dir, "report.json"))
	out, err := runRoot("record", w, "-o", dir, "--formats", "report,report-json,folded")
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "report.txt")) || !strings.Contains(err.Error(), filepath.Join(dir, "report.json")) || !strings.Contains(err.Error(), "a symbolic link (giltrace writes none)") {
		t.Errorf("record with links under two outputs' names: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(target); string(b) != "precious" {
		t.Errorf("the link's target: %q, want it as it was", b)
	}
	if _, err := os.Lstat(filepath.Join(outside, "absent.json")); !os.IsNotExist(err) {
		t.Errorf("the dangling link's target was made: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "flame.folded")); err != nil {
		t.Errorf("the other output: %v", err)
	}

	// export beside a trace (not a run's directory): the link is left.
	other := t.TempDir()
	trace := filepath.Join(other, "a.giltrace")
	copyFile(t, filepath.Join(dir, traceName), trace)
	os.Symlink(target, filepath.Join(other, "flame.folded"))
	if out, err := runRoot("export", trace, "-f", "folded"); err == nil {
		t.Errorf("export with a link under the output's name: no error\n%s", out)
	}
	if b, _ := os.ReadFile(target); string(b) != "precious" {
		t.Errorf("the link's target after export: %q", b)
	}

	// -o naming the input, directly or through a link, is refused.
	os.Symlink(trace, filepath.Join(other, "link.giltrace"))
	for _, args := range [][]string{
		{"export", trace, "-f", "text", "-o", trace},
		{"export", filepath.Join(other, "link.giltrace"), "-f", "text", "-o", trace},
		{"model", trace, "-o", trace},
		{"model", trace, "-o", filepath.Join(other, "link.giltrace")},
	} {
		out, err := runRoot(args...)
		if err == nil || !strings.Contains(err.Error(), "is the trace being read") {
			t.Errorf("%v: %v\n%s", args, err, out)
		}
	}
	if _, err := tracer.ReadFile(trace); err != nil {
		t.Errorf("the trace after the refused commands: %v", err)
	}
}

// TestPredictionLeavesLinks: record's what-if files (whatif/) leave a
// link of the user's under their names, as every output does, and name it.
func TestPredictionLeavesLinks(t *testing.T) {
	tr, err := tracer.ReadFile(filepath.Join(testkit.FixtureDir(), "python-countdown.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	pred, _, err := predict(context.Background(), newRun(tr), "countdown", "", false)
	if err != nil || pred == nil {
		t.Fatalf("predict: %v, %v", pred, err)
	}
	dir := filepath.Join(t.TempDir(), "whatif")
	os.Mkdir(dir, 0o755)
	target := filepath.Join(t.TempDir(), "mine.yaml")
	os.WriteFile(target, []byte("mine"), 0o644)
	os.Symlink(target, filepath.Join(dir, "model.yaml"))
	written, err := writePrediction(context.Background(), pred, dir)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "model.yaml")) || len(written) == 0 {
		t.Errorf("written %v, err %v: want the others written and model.yaml named", written, err)
	}
	if b, _ := os.ReadFile(target); string(b) != "mine" {
		t.Errorf("the link's target: %q", b)
	}
}
