package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestCompareArgs(t *testing.T) {
	testArgs(t, compareCmd, []argsCase[compareOptions]{
		{[]string{"w.yaml"}, &compareOptions{File: "w.yaml", Threads: []int{1, 2, 4, 8}, Modes: []string{"threads", "processes", "free-threaded"}, Runs: 1}, false, ""},
		{[]string{"w.yaml", "--threads", "1,3", "--modes", "threads,processes", "--switch-interval", "5ms,1ms", "--runs", "3", "-o", "out", "--json"},
			&compareOptions{File: "w.yaml", Threads: []int{1, 3}, Modes: []string{"threads", "processes"},
				SwitchIntervals: []time.Duration{5 * time.Millisecond, time.Millisecond}, Runs: 3, Dir: "out", JSON: true}, false, ""},
		{[]string{"w.yaml", "--out", "d"}, &compareOptions{File: "w.yaml", Threads: []int{1, 2, 4, 8}, Modes: []string{"threads", "processes", "free-threaded"}, Runs: 1, Dir: "d"}, false, ""},
		{[]string{"w.yaml", "-o", "/nonexistent/c.giltrace"}, nil, true, "names a directory"},
		{[]string{"w.yaml", "--output", "d"}, &compareOptions{File: "w.yaml", Threads: []int{1, 2, 4, 8}, Modes: []string{"threads", "processes", "free-threaded"}, Runs: 1, Dir: "d"}, false, ""},
		{[]string{"w.yaml", "--switch-interval", "1ms,2ms,1ms"}, &compareOptions{File: "w.yaml", Threads: []int{1, 2, 4, 8}, Modes: []string{"threads", "processes", "free-threaded"},
			SwitchIntervals: []time.Duration{time.Millisecond, 2 * time.Millisecond}, Runs: 1}, false, ""}, // a repeat runs once (QA)
		{[]string{"w.yaml", "--runs", "0"}, nil, true, ""},
		{[]string{"w.yaml", "--runs", "101"}, nil, true, "invalid --runs 101: must be from 1 to 100"},
		{nil, nil, true, ""},
		{[]string{"w.yaml", "--threads", "0"}, nil, true, ""},
		{[]string{"w.yaml", "--threads", "two"}, nil, true, ""},
		{[]string{"w.yaml", "--modes", "green"}, nil, true, ""},
		{[]string{"w.yaml", "--switch-interval", "5"}, nil, true, ""},
		{[]string{"w.yaml", "--switch-interval", "0"}, nil, true, "--switch-interval"},
		{[]string{"w.yaml", "--switch-interval", "1ns"}, nil, true, "--switch-interval 1ns: expected 1µs to 1h0m0s"},
		{[]string{"w.yaml", "--switch-interval", "2500ns"}, nil, true, "--switch-interval 2.5µs is not a whole number of microseconds, in which CPython keeps the switch interval (sys.setswitchinterval); use 2µs or 3µs"},
		{[]string{"w.yaml", "--switch-interval", "5ms,2h"}, nil, true, "--switch-interval 2h0m0s: expected 1µs to 1h0m0s"},
		{[]string{"w.yaml", "--modes", ""}, nil, true, "invalid --modes: empty"},
		{[]string{"w.yaml", "--threads", "100000"}, nil, true, "100000: expected 1 to 1024"},
		{[]string{"w.yaml", "--cores", "0"}, nil, true, "--cores 0: expected 1 to 4096"},
		{[]string{"w.yaml", "--ipc-cost", "-5ms"}, nil, true, "--ipc-cost -5ms"},
		{[]string{"w.yaml", "--ipc-cost", "0"}, &compareOptions{File: "w.yaml", Threads: []int{1, 2, 4, 8}, Modes: []string{"threads", "processes", "free-threaded"}, Runs: 1}, false, ""},
	})
}

// A thread count that the workload cannot run (here 100 processes, past
// the limit of 64) is a usage error before any variant runs: nothing is
// written.
func TestCompareChecksVariantsFirst(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cmp")
	_, err := runRoot("compare", "../../fixtures/countdown.yaml", "--threads", "100", "-o", dir)
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "processes-100") {
		t.Fatalf("compare --threads 100: err = %v, want a usage error naming processes-100", err)
	}
	if _, serr := os.Stat(dir); !os.IsNotExist(serr) {
		t.Fatalf("compare --threads 100 wrote %s (stat: %v)", dir, serr)
	}
	// It says what to do (QA: it named the flags to check, not --modes),
	// and without processes the same sizes run.
	if !strings.Contains(err.Error(), "100 processes: at most 64 processes: leave processes out (--modes threads,free-threaded) or keep --threads at 64 or fewer") || strings.Contains(err.Error(), "check --threads") {
		t.Errorf("compare --threads 100: %v", err)
	}
	if _, err := runRoot("compare", "../../fixtures/countdown.yaml", "--threads", "1,100", "--modes", "threads,free-threaded", "-o", dir); err != nil {
		t.Errorf("compare --threads 1,100 --modes threads,free-threaded: %v", err)
	}
}

func TestCompareMissingWorkload(t *testing.T) {
	if _, err := runRoot("compare", "no-such-workload.yaml"); err == nil || exitCode(err) != 1 {
		t.Fatalf("compare of a missing file: err = %v, want exit status 1", err)
	}
}

// compare refuses a named pipe at once, with its path and what it is,
// whatever its name (a trace's, a workload's or neither), instead of
// blocking in the open until a writer comes.
func TestCompareRefusesFIFO(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"fifo.giltrace", "fifo.yaml", "fifo"} {
		fifo := filepath.Join(dir, name)
		if err := syscall.Mkfifo(fifo, 0o644); err != nil {
			t.Skip("no named pipes here:", err)
		}
		done := make(chan error, 1)
		go func() {
			_, err := runRoot("compare", fifo, "-o", filepath.Join(dir, "out"))
			done <- err
		}()
		select {
		case err := <-done:
			if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), fifo+": not a regular file (a named pipe)") {
				t.Errorf("compare %s: err = %v; want %q", name, err, fifo+": not a regular file (a named pipe)")
			}
		case <-time.After(10 * time.Second):
			// Unblock the open with a writer, so that the test ends.
			if w, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
				w.Close()
			}
			<-done
			t.Errorf("compare %s blocks on a named pipe", name)
		}
	}
}

// compare tells a trace by its name too: an empty (or cut-off) file named
// *.giltrace gets the trace reader's message, as report gives it, not the
// workload loader's "empty workload". A file of another name is a trace if
// it starts with the trace magic.
func TestCompareEmptyTrace(t *testing.T) {
	dir := t.TempDir()
	zero := filepath.Join(dir, "zero.giltrace")
	if err := os.WriteFile(zero, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, want := runRoot("report", zero)
	if want == nil || !strings.Contains(want.Error(), "file cut off at byte 0") {
		t.Fatalf("report of an empty trace: %v", want)
	}
	_, err := runRoot("compare", zero, "-o", filepath.Join(dir, "out"))
	if err == nil || err.Error() != want.Error() || exitCode(err) != 1 {
		t.Errorf("compare of an empty trace: err = %v; want report's %v", err, want)
	}
	for _, tc := range []struct{ name, content, want string }{
		{"run.giltrace.partial", "", "file cut off at byte 0"}, // a record's stream, cut off before its header
		{"trace.bin", "GILTRACE", "file cut off at byte 8"},    // the magic, without the name
	} {
		p := filepath.Join(dir, tc.name)
		if err := os.WriteFile(p, []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := runRoot("compare", p, "-o", filepath.Join(dir, "out"))
		if err == nil || !strings.Contains(err.Error(), "reading trace "+p+": "+tc.want) {
			t.Errorf("compare of %s holding %q: err = %v; want the trace reader's %q", tc.name, tc.content, err, tc.want)
		}
	}
}

// compare RUN.giltrace refuses, as usage errors naming the flag, the
// flags of a workload's comparison that its prediction cannot apply,
// before it reads the trace.
func TestCompareRecordedRunRefusesWorkloadFlags(t *testing.T) {
	trace := filepath.Join(t.TempDir(), "run.giltrace") // never read
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--modes", "processes"}, "--modes: a recorded run"},
		{[]string{"--threads", "3"}, "--threads: a recorded run keeps its program's threads"},
		{[]string{"--runs", "3"}, "--runs 3: a recorded run"},
	} {
		_, err := runRoot(append([]string{"compare", trace}, tc.args...)...)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("compare RUN.giltrace %q: err = %v; want a usage error containing %q", tc.args, err, tc.want)
		}
	}
}

// The legacy GIL has no switch interval: --switch-interval for a legacy
// workload is a usage error naming the mode and the check interval, in
// compare and in record, with nothing written.
func TestLegacyRefusesSwitchInterval(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	for _, args := range [][]string{
		{"compare", "../../fixtures/countdown-legacy.yaml", "--switch-interval", "1ms,10ms", "-o", dir},
		{"record", "../../fixtures/countdown-legacy.yaml", "--switch-interval", "1ms", "-o", dir},
		{"record", "../../fixtures/countdown.yaml", "--gil", "legacy", "--switch-interval", "1ms", "-o", dir},
	} {
		_, err := runRoot(args...)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "legacy GIL (gil.mode legacy)") || !strings.Contains(err.Error(), "check_interval") {
			t.Errorf("%q: err = %v; want a usage error naming the legacy GIL and its check interval", args, err)
		}
		if _, serr := os.Stat(dir); !os.IsNotExist(serr) {
			t.Errorf("%q wrote %s", args, dir)
		}
	}
}

// A file's cores: with --clock real is a usage error (exit 2) for record
// and compare alike, naming the file's line and the fix, with nothing
// written (QA: record exited 1, compare 2 with a hint at --threads).
func TestFileCoresWithClockReal(t *testing.T) {
	wl := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(wl, []byte("cores: 3\nname: c\nthreads:\n  - {name: w, run: work}\nfunctions:\n  work:\n    - compute: 1ms\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "out")
	if _, err := runRoot("record", wl, "-o", dir); err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), wl+":1: cores: 3: simulated cores need virtual time") || !strings.Contains(err.Error(), "--clock virtual") {
		t.Errorf("record without a clock: err = %v (exit %d); want a usage error naming the file's cores", err, exitCode(err))
	}
	for _, cmd := range []string{"record", "compare"} {
		dir := filepath.Join(t.TempDir(), "out")
		_, err := runRoot(cmd, wl, "--clock", "real", "-o", dir)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), wl+":1: cores: 3: simulated cores need virtual time") || !strings.Contains(err.Error(), "without --clock real") {
			t.Errorf("%s: err = %v (exit %d); want a usage error naming the file's cores", cmd, err, exitCode(err))
		}
		if _, serr := os.Stat(dir); !os.IsNotExist(serr) {
			t.Errorf("%s wrote %s", cmd, dir)
		}
	}
}

// --cores on a real-time workload without --clock virtual is a usage
// error (exit 2) naming the flag and the fix, with nothing written; with a
// workload in virtual time (clock: virtual) it is accepted.
func TestCoresNeedVirtualTime(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	_, err := runRoot("record", "../../fixtures/countdown.yaml", "--cores", "4", "-o", dir)
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "--cores 4: simulated cores need virtual time") || !strings.Contains(err.Error(), "--clock virtual") {
		t.Errorf("err = %v (exit %d); want a usage error asking for --clock virtual", err, exitCode(err))
	}
	if _, serr := os.Stat(dir); !os.IsNotExist(serr) {
		t.Errorf("wrote %s", dir)
	}
	wl := filepath.Join(t.TempDir(), "v.yaml")
	if err := os.WriteFile(wl, []byte("name: v\nclock: virtual\nthreads:\n  - {name: w, run: work}\nfunctions:\n  work:\n    - compute: 1ms\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := runRoot("record", wl, "--cores", "4", "--formats", "none", "-o", dir); err != nil {
		t.Errorf("--cores with a workload in virtual time: %v", err)
	}
}

// TestCompareRefusesPinnedProcesses: a workload whose thread groups are
// pinned to processes (a model of a multiprocessing program) has no
// variants to compare: a usage error that says so and what to do, not
// one that blames --threads, --cores and --switch-interval.
func TestCompareRefusesPinnedProcesses(t *testing.T) {
	wl := filepath.Join(t.TempDir(), "pp.yaml")
	if err := os.WriteFile(wl, []byte("name: pp\nprocesses: 2\nthreads:\n  - {name: a, run: f, process: 1}\n  - {name: b, run: f, process: 2}\nfunctions:\n  f: [{compute: 1ms}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := runRoot("compare", wl, "-o", filepath.Join(t.TempDir(), "out"))
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "compare the recorded run instead") || strings.Contains(err.Error(), "check --threads") {
		t.Errorf("err = %v (exit %d)", err, exitCode(err))
	}
}

// compare --cores N runs the recorded run's prediction on 1, 2, 4 ... and
// N cores, N included (QA: --cores 3 ran 1 and 2), and names its best
// option on the recorded machine's cores, which ran; a workload's
// comparison runs on N simulated cores.
func TestCompareCores(t *testing.T) {
	dir := t.TempDir()
	out, err := runRoot("compare", "../../fixtures/traces/python-countdown.giltrace", "--cores", "3", "--json", "-o", filepath.Join(dir, "whatif"))
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Rows []struct {
			Mode     string `json:"mode"`
			Cores    int    `json:"cores"`
			Interval int64  `json:"switch_interval_ns"`
		} `json:"rows"`
		Best struct {
			Cores int `json:"cores"`
		} `json:"best"`
	}
	if err := json.Unmarshal([]byte(out), &p); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	var cores []int
	for _, r := range p.Rows {
		if r.Mode == "processes" && r.Interval == 0 {
			cores = append(cores, r.Cores)
		}
	}
	if !slices.Equal(cores, []int{1, 2, 3}) || p.Best.Cores != 2 {
		t.Errorf("compare RUN --cores 3: processes on %v cores, best on %d; want 1, 2 and 3, best on the recorded 2", cores, p.Best.Cores)
	}
	out, err = runRoot("compare", "../../fixtures/countdown.yaml", "--cores", "3", "--threads", "4", "--modes", "processes", "--json", "-o", filepath.Join(dir, "cmp"))
	if err != nil {
		t.Fatal(err)
	}
	var r struct {
		Cores int `json:"cores"`
		Rows  []struct {
			Threads int     `json:"threads"`
			Speedup float64 `json:"speedup"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if r.Cores != 3 || len(r.Rows) != 2 || r.Rows[1].Threads != 4 || r.Rows[1].Speedup < 2.9 || r.Rows[1].Speedup > 3 {
		t.Errorf("compare countdown.yaml --cores 3: %s; want 4 processes 3x as fast as 1 on 3 cores", out)
	}
}

// compare WORKLOAD.yaml --ipc-cost is a usage error that says why and
// where the cost applies, with nothing written: it was ignored without a
// word, the processes rows the same as without it. --ipc-cost 0 (none)
// is accepted.
func TestCompareWorkloadRefusesIPCCost(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cmp")
	_, err := runRoot("compare", "../../fixtures/countdown.yaml", "--ipc-cost", "5ms", "-o", dir)
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "--ipc-cost 5ms: a workload's processes run what its file says") ||
		!strings.Contains(err.Error(), "giltrace record --clock virtual ../../fixtures/countdown.yaml") {
		t.Errorf("compare countdown.yaml --ipc-cost 5ms: err = %v; want a usage error saying why, and how to apply it", err)
	}
	if _, serr := os.Stat(dir); !os.IsNotExist(serr) {
		t.Errorf("compare --ipc-cost 5ms wrote %s (stat: %v)", dir, serr)
	}
	if _, err := runRoot("compare", "../../fixtures/countdown.yaml", "--ipc-cost", "0", "--threads", "1", "--modes", "threads", "-o", dir); err != nil {
		t.Errorf("compare countdown.yaml --ipc-cost 0: %v", err)
	}
}

// TestCompareNamesStaleVariants: a comparison into a directory that holds
// an earlier one's variant traces, of variants it does not run, says so
// and leaves them (QA: they were left without a word).
func TestCompareNamesStaleVariants(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "cmp")
	if _, err := runRoot("compare", "../../fixtures/countdown.yaml", "--threads", "1", "--modes", "threads,processes", "-o", dir); err != nil {
		t.Fatal(err)
	}
	out, err := runRoot("compare", "../../fixtures/countdown.yaml", "--threads", "1", "--modes", "threads", "-o", dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "note: processes-1.giltrace in "+dir+" is an earlier comparison's") || strings.Contains(out, "threads-1.giltrace in") {
		t.Errorf("output:\n%s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "processes-1.giltrace")); err != nil {
		t.Errorf("the earlier trace: %v", err)
	}
}

// TestCompareKeepsTheUsersFiles: compare replaces only the files it
// listed as its own in the directory (QA: -o DIR replaced a user's
// speedup.png, threads-1.giltrace and model.yaml without a word). A
// directory holding one of them under a name compare writes is refused
// before anything runs; a second compare into its own directory replaces
// its files.
func TestCompareKeepsTheUsersFiles(t *testing.T) {
	w := "../../fixtures/countdown.yaml"
	dir := t.TempDir()
	for _, name := range []string{"speedup.png", "threads-1.giltrace"} {
		d := filepath.Join(dir, "theirs-"+name)
		os.Mkdir(d, 0o755)
		os.WriteFile(filepath.Join(d, name), []byte("mine"), 0o644)
		_, err := runRoot("compare", w, "--threads", "1,2", "--modes", "threads", "-o", d)
		if err == nil || !strings.Contains(err.Error(), filepath.Join(d, name)+": not written by giltrace compare") || !strings.Contains(err.Error(), "nothing was compared") {
			t.Errorf("%s: err = %v, want a refusal naming it", name, err)
		}
		if b, _ := os.ReadFile(filepath.Join(d, name)); string(b) != "mine" {
			t.Errorf("the user's %s replaced", name)
		}
		if ents, _ := os.ReadDir(d); len(ents) != 1 {
			t.Errorf("%s: %d files in the directory after the refusal, want the user's alone", name, len(ents))
		}
	}
	own := filepath.Join(dir, "own", "cmp")
	for range 2 {
		if out, err := runRoot("compare", w, "--threads", "1,2", "--modes", "threads", "-o", own); err != nil {
			t.Fatalf("a compare into its own directory: %v\n%s", err, out)
		}
	}
	listed := readListing(filepath.Join(own, compareManifest))
	for _, name := range []string{"speedup.svg", "speedup.png", "overlap.svg", "overlap.png", "threads-1.giltrace", "threads-2.giltrace"} {
		if !listed[name] {
			t.Errorf("%s not listed in %s: %v", name, compareManifest, listed)
		}
	}

	// A recorded run's what-if, into a directory with the user's model.yaml.
	run := filepath.Join(dir, "run")
	if out, err := runRoot("record", writeWorkload(t, small), "-o", run, "--formats", "none"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	wi := filepath.Join(dir, "wi")
	os.Mkdir(wi, 0o755)
	os.WriteFile(filepath.Join(wi, "model.yaml"), []byte("mine"), 0o644)
	if _, err := runRoot("compare", filepath.Join(run, traceName), "-o", wi); err == nil || !strings.Contains(err.Error(), filepath.Join(wi, "model.yaml")+": not written by giltrace compare") {
		t.Errorf("what-if: err = %v, want a refusal naming model.yaml", err)
	}
	if b, _ := os.ReadFile(filepath.Join(wi, "model.yaml")); string(b) != "mine" {
		t.Errorf("the user's model.yaml replaced")
	}
	// Into its default directory, twice.
	for range 2 {
		if out, err := runRoot("compare", filepath.Join(run, traceName)); err != nil {
			t.Fatalf("what-if into whatif/: %v\n%s", err, out)
		}
	}
	if !readListing(filepath.Join(run, "whatif", compareManifest))["model.yaml"] {
		t.Errorf("whatif/model.yaml not listed")
	}
}

// TestRemoveEmptyDirs: what a command made and left empty goes, deepest
// first; a directory holding anything stays, and so do its parents.
func TestRemoveEmptyDirs(t *testing.T) {
	root := t.TempDir()
	deep := filepath.Join(root, "a", "b", "c")
	made := missingDirs(deep)
	if want := []string{deep, filepath.Join(root, "a", "b"), filepath.Join(root, "a")}; !slices.Equal(made, want) {
		t.Fatalf("missingDirs = %q, want %q", made, want)
	}
	os.MkdirAll(deep, 0o755)
	os.WriteFile(filepath.Join(root, "a", "kept"), nil, 0o644)
	removeEmptyDirs(made)
	if _, err := os.Stat(filepath.Join(root, "a", "b")); !os.IsNotExist(err) {
		t.Errorf("a/b: %v, want removed", err)
	}
	if _, err := os.Stat(filepath.Join(root, "a", "kept")); err != nil {
		t.Errorf("a/kept: %v", err)
	}
	// A file put where a directory was to be made is not removed.
	f := filepath.Join(root, "f")
	made = missingDirs(filepath.Join(f, "x"))
	os.WriteFile(f, nil, 0o644)
	removeEmptyDirs(made)
	if _, err := os.Stat(f); err != nil {
		t.Errorf("the file in the way: %v", err)
	}
}

// TestRecordLeavesNoEmptyDirs: a record that recorded nothing leaves no
// giltrace-out/ behind in the working directory (QA).
func TestRecordLeavesNoEmptyDirs(t *testing.T) {
	t.Chdir(t.TempDir())
	if _, err := runRoot("record", "--", "/bin/true"); err == nil {
		t.Fatal("recorded /bin/true")
	}
	if _, err := os.Stat("giltrace-out"); !os.IsNotExist(err) {
		t.Errorf("giltrace-out: %v, want none", err)
	}
}

// TestCompareDirAcrossRecords: a prediction written into a run's compare/
// (compare -o D/compare) is cleared by the next record into D, list and
// all, and the next compare there is not refused (review: the list went,
// the files stayed, unlisted); a link of the user's under a name compare
// writes is refused, not replaced nor written through (review).
func TestCompareDirAcrossRecords(t *testing.T) {
	d := filepath.Join(t.TempDir(), "D")
	w := writeWorkload(t, small)
	cmp := filepath.Join(d, "compare")
	for range 2 {
		if out, err := runRoot("record", w, "-o", d, "--formats", "none"); err != nil {
			t.Fatalf("record: %v\n%s", err, out)
		}
		if out, err := runRoot("compare", filepath.Join(d, traceName), "-o", cmp); err != nil {
			t.Fatalf("compare into %s: %v\n%s", cmp, err, out)
		}
	}

	c := filepath.Join(t.TempDir(), "C")
	os.MkdirAll(c, 0o755)
	mine := filepath.Join(filepath.Dir(c), "mine.txt")
	os.WriteFile(mine, []byte("mine"), 0o644)
	for _, name := range []string{"threads-1.giltrace", "speedup.png"} {
		link := filepath.Join(c, name)
		os.Remove(link)
		if err := os.Symlink(mine, link); err != nil {
			t.Fatal(err)
		}
		_, err := runRoot("compare", "../../fixtures/countdown.yaml", "--threads", "1,2", "--modes", "threads", "-o", c)
		if err == nil || !strings.Contains(err.Error(), link) || !strings.Contains(err.Error(), ": not written by giltrace compare") {
			t.Errorf("%s a link: err = %v, want a refusal", name, err)
		}
		if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
			t.Errorf("the user's link %s: %v, %v", name, fi, err)
		}
		if b, _ := os.ReadFile(mine); string(b) != "mine" {
			t.Errorf("the link's target written through")
		}
	}
}

// TestCompareSaysProcessesUnused: a workload's processes: is not used by
// compare's variants, and the table says so, in the text and the JSON
// (QA: processes: 2 was dropped without a word).
func TestCompareSaysProcessesUnused(t *testing.T) {
	tmp := t.TempDir()
	wl := filepath.Join(tmp, "p2.yaml")
	if err := os.WriteFile(wl, []byte("name: p2\nprocesses: 2\nthreads: [{name: w, run: work}]\nfunctions: {work: [{compute: 1ms}]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runRoot("compare", wl, "--threads", "1,2", "-o", filepath.Join(tmp, "out"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "note: "+wl+"'s processes: 2 is not used here") {
		t.Errorf("no note of processes: 2:\n%s", out)
	}
	out, err = runRoot("compare", wl, "--threads", "1", "--json", "-o", filepath.Join(tmp, "out2"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `"notes": [`) {
		t.Errorf("JSON without notes:\n%s", out)
	}
}

// TestCompareTooManyThreadsNamesTheFlag: a --threads whose variants would
// run more threads than a workload may names --threads alone, and the
// process count in the singular (QA: "--threads, --cores and
// --switch-interval" for a thread count).
func TestCompareTooManyThreadsNamesTheFlag(t *testing.T) {
	w := writeWorkload(t, "name: two\nthreads:\n  - {name: a, run: f}\n  - {name: b, run: f}\nfunctions:\n  f: [{compute: 1ms}]\n")
	_, err := runRoot("compare", w, "--threads", "1,600", "--modes", "threads", "-o", t.TempDir())
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "1200 threads in 1 process: at most 1024 threads (check --threads)") {
		t.Errorf("err = %v (exit %d)", err, exitCode(err))
	}
}
