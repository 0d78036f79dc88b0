package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/giltrace/giltrace/source/cpython"
	"github.com/giltrace/giltrace/tracer"
	"golang.org/x/sys/unix"
)

// python is a CPython 3.11 with symbols (the machine image's pyenv build),
// or the test is skipped (failed in CI) when it or uprobes are missing.
func python(t *testing.T) string {
	t.Helper()
	const path = "/root/.pyenv/versions/3.11.7/bin/python3.11"
	skip := func(why string) {
		if os.Getenv("CI") != "" {
			t.Fatalf("tracing real CPython: %s", why)
		}
		t.Skipf("tracing real CPython: %s", why)
	}
	if _, err := os.Stat(path); err != nil {
		skip(err.Error())
	}
	if err := cpython.Check(); err != nil {
		skip(err.Error())
	}
	return path
}

// twoThreads prints a line, runs two CPU-bound threads briefly and exits
// with status 3.
const twoThreads = `import sys, threading
def spin(n):
    while n > 0:
        n -= 1
print("hello from python")
ts = [threading.Thread(target=spin, args=(3000000,), name="spinner-%d" % i) for i in range(2)]
for t in ts: t.start()
for t in ts: t.join()
sys.exit(3)
`

// TestRecordPython runs giltrace record -- python3 app.py in process: the
// program's output and exit status pass through, the trace and the outputs
// are written, and the report names the program's threads.
func TestRecordPython(t *testing.T) {
	py := python(t)
	dir := t.TempDir()
	app := filepath.Join(dir, "app.py")
	if err := os.WriteFile(app, []byte(twoThreads), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	cmd := newRootCmd()
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs([]string{"record", "-o", out, "--json", "--", py, app})
	err := cmd.ExecuteContext(context.Background())
	if code := exitCode(err); code != 3 {
		t.Fatalf("exit status %d (%v), want the program's 3; stderr:\n%s", code, err, stderr.String())
	}
	// The probes are removed while the run is saved and reported
	// (Options.CloseLater): gone when the command returns.
	ownProbesGone(t)
	// With --json, stdout is the document alone; the program's output
	// goes to stderr.
	text := stdout.String()
	if !strings.Contains(stderr.String(), "hello from python\n") || strings.Contains(text, "hello from python") {
		t.Errorf("the program's output is not on stderr alone: stdout %.200q, stderr %.200q", text, stderr.String())
	}
	var rep struct {
		WhatIf *struct {
			Best struct {
				Mode    string  `json:"mode"`
				Speedup float64 `json:"speedup"`
			} `json:"best"`
			Limit string `json:"limit"`
		} `json:"what_if"`
		Workload   string `json:"workload"`
		ExitStatus *int   `json:"exit_status"`
		Threads    []struct {
			Name      string `json:"name"`
			RunningNS int64  `json:"running_ns"`
			GILWaitNS int64  `json:"gil_wait_ns"`
		} `json:"threads"`
	}
	if err := json.Unmarshal([]byte(text), &rep); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, text)
	}
	names := map[string]bool{}
	for _, th := range rep.Threads {
		names[th.Name] = true
	}
	if rep.Workload != "app" || len(rep.Threads) != 3 || !names["MainThread"] || !names["spinner-0"] || !names["spinner-1"] {
		t.Errorf("workload %q, threads %v, want MainThread, spinner-0 and spinner-1", rep.Workload, names)
	}
	if rep.ExitStatus == nil || *rep.ExitStatus != 3 {
		t.Errorf("exit_status %v in the report, want the program's 3", rep.ExitStatus)
	}
	if b, err := os.ReadFile(filepath.Join(out, "report.txt")); err != nil || !strings.Contains(string(b), "The program exited with status 3") {
		t.Errorf("report.txt does not say the program failed (%v):\n%.400s", err, b)
	} else if !strings.Contains(string(b), "\nWhat would help (predicted") {
		t.Errorf("report.txt lacks what would help, which record prints:\n%s", b)
	}
	// report.json is what record --json printed: the what_if field too.
	if b, err := os.ReadFile(filepath.Join(out, "report.json")); err != nil {
		t.Error(err)
	} else if got := strings.TrimPrefix(text, "hello from python\n"); string(b) != got {
		t.Errorf("report.json differs from what record --json printed:\n%.600s\nprinted:\n%.600s", b, got)
	}
	// Two CPU-bound threads: processes (or free-threading) would help, the
	// GIL limits threads; unless the interpreter's start-up, which a
	// loaded machine stretched (647 ms in one CI run), is most of the run:
	// then the prediction says so and promises nothing.
	if w := rep.WhatIf; w == nil || w.Limit == "" {
		t.Errorf("what would help: %+v, want a prediction and its limit", w)
	} else if strings.Contains(w.Limit, "the interpreter's start-up") {
		t.Logf("the start-up is most of this run: %s", w.Limit)
	} else if w.Best.Mode == "threads" || w.Best.Speedup <= 1 {
		t.Errorf("what would help: %+v, want processes or free-threading with a speedup", w)
	}
	tr, err := tracer.ReadFile(filepath.Join(out, "run.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	if tr.Meta.Extra["source"] != "cpython" || len(tr.Events) == 0 {
		t.Errorf("trace meta %v, %d events", tr.Meta.Extra, len(tr.Events))
	}
	// giltrace ran on the program's CPUs: its own CPU time is recorded
	// (the busy-machine warning's; diagnosis.ExtraRecorderCPU).
	if ns, err := strconv.ParseInt(tr.Meta.Extra["recorder_cpu_ns"], 10, 64); err != nil || ns <= 0 {
		t.Errorf("recorder_cpu_ns %q (%v), want giltrace's own CPU time", tr.Meta.Extra["recorder_cpu_ns"], err)
	}
	for _, f := range []string{"gil-wait.pb.gz", "trace.json", "flame.html", "report.txt", "report.json", "whatif/model.yaml", "whatif/whatif.svg"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
}

// TestRecordPythonErrors: a command that is not CPython is refused with
// exit status 2 (a usage error, as attach's refusal of one) and a message
// naming it, and writes nothing.
func TestRecordPythonErrors(t *testing.T) {
	python(t)
	out := filepath.Join(t.TempDir(), "out")
	cmd := newRootCmd()
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs([]string{"record", "-o", out, "--", "/bin/true"})
	err := cmd.ExecuteContext(context.Background())
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), "not a CPython interpreter") {
		t.Fatalf("err = %v (exit %d), want a 'not a CPython interpreter' error, exit 2", err, exitCode(err))
	}
	// The program never ran: no status of its own to name (QA: "the
	// program itself exited with status -1").
	if strings.Contains(err.Error(), "the program itself exited") {
		t.Errorf("err = %v: names a status of a program that never ran", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("%s exists after a failed start: %v", out, err)
	}
}

// TestRecordPythonCPUs: record --cpus runs the program, its children
// and its threads on those CPUs, as taskset -c would, and the trace's
// cores are theirs; giltrace's own affinity is what it was once record
// returns. A workload, and a CPU giltrace may not use, are refused.
func TestRecordPythonCPUs(t *testing.T) {
	py := python(t)
	var own unix.CPUSet
	if err := unix.SchedGetaffinity(0, &own); err != nil {
		t.Fatal(err)
	}
	first := -1
	for c := 0; c < 1024 && first < 0; c++ {
		if own.IsSet(c) {
			first = c
		}
	}
	dir := t.TempDir()
	app := filepath.Join(dir, "app.py")
	if err := os.WriteFile(app, []byte(`import os, threading
def show(who):
    print(who, sorted(os.sched_getaffinity(0)), flush=True)
show("main")
t = threading.Thread(target=show, args=("thread",)); t.start(); t.join()
pid = os.fork()
if pid == 0:
    show("child")
    os._exit(0)
os.waitpid(pid, 0)
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	cmd := newRootCmd()
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs([]string{"record", "--cpus", strconv.Itoa(first), "-o", out, "--formats", "none", "--", py, app})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("record --cpus %d: %v\n%s", first, err, stderr.String())
	}
	for _, who := range []string{"main", "thread", "child"} {
		if want := fmt.Sprintf("%s [%d]\n", who, first); !strings.Contains(stdout.String(), want) {
			t.Errorf("the program printed %q, want %q", stdout.String(), want)
		}
	}
	tr, err := tracer.ReadFile(filepath.Join(out, "run.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	if tr.Meta.Cores != 1 || tr.Meta.Extra["cpus"] != strconv.Itoa(first) {
		t.Errorf("trace cores %d, cpus %q; want 1 and %d", tr.Meta.Cores, tr.Meta.Extra["cpus"], first)
	}
	// Off the program's CPU (when it may use another), giltrace took none
	// of its time.
	if own.Count() > 1 && tr.Meta.Extra["recorder_cpu_ns"] != "" {
		t.Errorf("recorder_cpu_ns %q with --cpus, giltrace kept off them", tr.Meta.Extra["recorder_cpu_ns"])
	}
	var after unix.CPUSet
	if err := unix.SchedGetaffinity(0, &after); err != nil || after != own {
		t.Errorf("giltrace's affinity after record: %v (%v), want %v as before", after, err, own)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"record", "--cpus", "1024", "--", py, app}, `--cpus "1024": CPU 1024 is past the last`},
		{[]string{"record", "--cpus", "0-2x", "--", py, app}, `is not a CPU number`},
		{[]string{"record", "--cpus", "0", filepath.Join("..", "..", "fixtures", "countdown.yaml")}, "--cpus applies to a real program"},
	} {
		cmd := newRootCmd()
		cmd.SetOut(io.Discard)
		cmd.SetErr(io.Discard)
		cmd.SetArgs(append(tc.args[:1], append([]string{"-o", filepath.Join(dir, "refused")}, tc.args[1:]...)...))
		if err := cmd.ExecuteContext(context.Background()); err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v (exit %d), want a usage error with %q", tc.args, err, exitCode(err), tc.want)
		}
	}
	if first+1 < 1024 && !own.IsSet(first+1) {
		// A CPU giltrace may not use (a taskset around the test).
		cmd := newRootCmd()
		cmd.SetArgs([]string{"record", "--cpus", strconv.Itoa(first + 1), "-o", filepath.Join(dir, "refused"), "--", py, app})
		if err := cmd.ExecuteContext(context.Background()); err == nil || !strings.Contains(err.Error(), "is not one giltrace may run on") {
			t.Errorf("--cpus %d, outside giltrace's CPUs: %v", first+1, err)
		}
	}
}

// TestAttachPython attaches to a running program for a second and reports
// its threads; the program runs on, undisturbed.
func TestAttachPython(t *testing.T) {
	py := python(t)
	prog := exec.Command(py, "-c", `import threading, time
def spin():
    while True:
        n = 20000
        while n > 0:
            n -= 1
        time.sleep(0.001)
for i in range(2):
    threading.Thread(target=spin, name="worker-%d" % i, daemon=True).start()
time.sleep(60)
`)
	if err := prog.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { prog.Process.Kill(); prog.Wait() }()
	time.Sleep(500 * time.Millisecond) // let it start its threads
	out := filepath.Join(t.TempDir(), "out")
	cmd := newRootCmd()
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs([]string{"attach", strconv.Itoa(prog.Process.Pid), "--duration", "1s", "-o", out, "--formats", "none"})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("attach: %v\n%s", err, stderr.String())
	}
	tr, err := tracer.ReadFile(filepath.Join(out, "run.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, th := range tr.Threads {
		names[th.Name] = true
	}
	if !names["worker-0"] || !names["worker-1"] {
		t.Errorf("threads %v, want worker-0 and worker-1", names)
	}
	if d := time.Duration(tr.Duration()); d > time.Second+time.Millisecond {
		t.Errorf("a trace of %v for --duration 1s", d) // QA: 15 ms for 10ms
	}
	for _, th := range tracer.Derive(tr).Threads { // every thread was there before the attach
		if !th.Existed {
			t.Errorf("thread %s: not marked as existing before the trace", tr.Threads[th.Thread].Name)
		}
	}
	if prog.ProcessState != nil {
		t.Error("the program exited while attached")
	}
	if !strings.Contains(stdout.String(), "Verdict") {
		t.Errorf("no report printed:\n%s", stdout.String())
	}
}

// TestAttachUntilExit attaches to a program whose main thread waits in
// Thread.join for two CPU-bound threads, and which exits while attached:
// the main thread is first seen only at its end. It existed before the
// trace, so its late first event is not a late start: the report says
// gil-bound and that processes would help (about 2x on 2 cores), where it
// said no verdict and 0.97x when the main thread counted as started at
// the end.
func TestAttachUntilExit(t *testing.T) {
	py := python(t)
	// 4 s of spinning: under the race detector on a loaded machine the
	// attach took 1.2 s to set up, and 2 s left 342 ms to trace.
	prog := exec.Command(py, "-c", joinedSpinners(4))
	if err := prog.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { prog.Process.Kill(); prog.Wait() }()
	time.Sleep(500 * time.Millisecond)
	out := filepath.Join(t.TempDir(), "out")
	cmd := newRootCmd()
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs([]string{"attach", strconv.Itoa(prog.Process.Pid), "-o", out, "--formats", "none", "--json"})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("attach: %v\n%s", err, stderr.String())
	}
	var rep struct {
		Verdicts []struct {
			Code string `json:"code"`
		} `json:"verdicts"`
		Speedup struct {
			AsProcesses float64 `json:"as_processes"`
		} `json:"speedup"`
		Ended string `json:"ended"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("attach --json: %v\n%.500s", err, stdout.String())
	}
	if rep.Ended != "exited" { // QA: nothing said the process had gone
		t.Errorf("ended %q, want exited", rep.Ended)
	}
	gil := false
	for _, v := range rep.Verdicts {
		gil = gil || v.Code == "gil-bound"
	}
	if !gil || rep.Speedup.AsProcesses < 1.5 {
		t.Errorf("verdicts %+v, as processes %.2fx; want gil-bound and about 2x\n%.1500s", rep.Verdicts, rep.Speedup.AsProcesses, stdout.String())
	}
}

// TestPythonOptionsLockHolds: --lock-holds reaches the recorder's options.
func TestPythonOptionsLockHolds(t *testing.T) {
	cmd := newRecordCmd()
	for _, on := range []bool{false, true} {
		if got := pythonOptions(cmd, &recordOptions{LockHolds: on}).LockHolds; got != on {
			t.Errorf("LockHolds %v for --lock-holds=%v", got, on)
		}
	}
}

// joinedSpinners is a program of two CPU-bound threads for about secs
// seconds while the main thread waits in Thread.join (a blocking call that
// lasts the whole run); given an argument, it writes its pid there first.
func joinedSpinners(secs int) string {
	return `import os, sys, threading, time
if len(sys.argv) > 1: open(sys.argv[1], "w").write(str(os.getpid()))
def spin():
    end = time.time() + ` + strconv.Itoa(secs) + `
    while time.time() < end:
        n = 10000
        while n > 0:
            n -= 1
ts = [threading.Thread(target=spin) for _ in range(2)]
for t in ts: t.start()
for t in ts: t.join()
`
}

// TestRecordPythonKilled: giltrace killed with SIGKILL while it traces a
// real program leaves the run so far in the partial trace (the real-CPython
// source streams a provisional recording: tracer.LiveSource), valid and
// with all it held before the kill: the spinners' first 2 s, streamed
// although the main thread was inside Thread.join from the start, a
// blocking call whose events the recorder keeps until it ends. The
// spinners run 20 s, past any lag of the stream; the kill comes once
// their 2 s are on disk.
func TestRecordPythonKilled(t *testing.T) {
	py := python(t)
	dir := t.TempDir()
	app := filepath.Join(dir, "app.py")
	if err := os.WriteFile(app, []byte(joinedSpinners(20)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	pidFile := filepath.Join(dir, "pid")
	cmd := exec.Command(giltraceBinary(t), "record", "-o", out, "--formats", "none", "--", py, app, pidFile)
	// What giltrace says, its source's diagnostics too, for a failure to
	// show (a CI run once saw no partial trace for 40 s, and nothing else).
	var stderr syncBuffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	cmd.Env = append(os.Environ(), "GILTRACE_VERBOSE=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		if b, err := os.ReadFile(pidFile); err == nil { // the program outlives giltrace's SIGKILL
			if pid, err := strconv.Atoi(string(b)); err == nil && pid > 0 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		// The killed run's probes (the next run would remove them; another
		// package's test starting a recording at the same time may be
		// removing them now).
		if err := cpython.RemoveStale(); err != nil {
			t.Logf("removing the killed run's probes: %v", err)
		}
	})
	partial := filepath.Join(out, partialName)
	// The spinners' first 2 s in the partial trace before the kill: the
	// stream's lag is a fraction of a second on a quiet machine, seconds
	// beside other packages' tests. What the kill must not lose is what
	// was on disk then. (The fixed 3 s wait this replaced saw a 0.2-0.5 s
	// prefix, without a spinner, in 2 of about 50 clean-clone CI runs, and
	// this wait once saw no event for 40 s: the main thread's Thread.join,
	// its lock's probe hit handled late on the loaded machine, was
	// published as I/O and ended as a lock wait, which left the partial
	// trace invalid from the spinners' start on. source/cpython's live.go
	// translates such a guess now: TestMachineLiveLateLock.)
	var seen time.Duration
	seenHolds := 0
	for end := time.Now().Add(40 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		if tr, _ := tracer.ReadFile(partial); tr != nil {
			seen, seenHolds = time.Duration(tr.Duration()), spinnerHolds(tr)
			if seen >= 2*time.Second && seenHolds >= 100 {
				break
			}
		}
		select {
		case <-exited:
			t.Fatalf("giltrace ended (%v) before the kill, the partial trace covering %v with %d GIL acquisitions by the spinners; in %s: %s; it said:\n%s", waitErr, seen, seenHolds, out, listDir(out), stderr.String())
		default:
		}
		if time.Now().After(end) {
			t.Fatalf("after 40 s the partial trace covers %v with %d GIL acquisitions by the spinners, want 2s and 100 (2 threads switching every 5 ms); in %s: %s; giltrace said:\n%s", seen, seenHolds, out, listDir(out), stderr.String())
		}
	}
	cmd.Process.Kill()
	<-exited
	tr, err := tracer.ReadFile(partial)
	var te *tracer.TruncatedError
	if !errors.As(err, &te) || tr == nil {
		t.Fatalf("reading the killed run's trace: %v", err)
	}
	if len(tr.Threads) < 3 {
		t.Fatalf("%d threads in the killed run's trace, want the main thread and the 2 spinners", len(tr.Threads))
	}
	if tr.Meta.SwitchInterval != 5*time.Millisecond || tr.Meta.Extra["source"] != "cpython" {
		t.Errorf("the cut-off trace's metadata: switch interval %v, source %q; want CPython's default 5ms assumed, cpython", tr.Meta.SwitchInterval, tr.Meta.Extra["source"])
	}
	if got := time.Duration(tr.Duration()); got < seen {
		t.Errorf("the prefix lasts %v after the kill, %v before it: the kill lost what was on disk", got, seen)
	}
	if holds := spinnerHolds(tr); holds < seenHolds {
		t.Errorf("%d GIL acquisitions by the spinners after the kill, %d before it", holds, seenHolds)
	}
}

// listDir lists dir's files with their sizes, for a failure's message.
func listDir(dir string) string {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, e := range ents {
		if fi, err := e.Info(); err == nil {
			fmt.Fprintf(&b, "%s (%d bytes) ", e.Name(), fi.Size())
		}
	}
	if b.Len() == 0 {
		return "nothing"
	}
	return strings.TrimSpace(b.String())
}

// spinnerHolds counts the GIL acquisitions of tr's threads other than
// the main thread.
func spinnerHolds(tr *tracer.Trace) int {
	holds := 0
	for _, e := range tr.Events {
		if e.Kind == tracer.KindLockAcquire && int(e.Lock()) < len(tr.Locks) && tr.Locks[e.Lock()].GIL &&
			int(e.Thread) < len(tr.Threads) && tr.Threads[e.Thread].Name != "MainThread" {
			holds++
		}
	}
	return holds
}

// TestRecordPythonOrphan: a child that the program forks and leaves
// running is followed after the program exits, until it ends (a short
// one: its sleep and end are recorded) or for a second (a long one: its
// threads are cut off then, and the trace says which process outlived the
// program).
func TestRecordPythonOrphan(t *testing.T) {
	py := python(t)
	for _, c := range []struct {
		name  string
		child string // what the child does before its sleep
		sleep string
		cut   bool
	}{
		{"short", "count(500000)", "0.3", false},
		{"long", "count(500000)", "30", true},
		// A child whose first probe hit comes after its parent's exit (it
		// holds the GIL in C calls that do not release it, from libc's
		// fork on) was not followed (review).
		{"silent", "ctypes.PyDLL(None).usleep(300000); count(300000)", "0.05", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			pidFile := filepath.Join(dir, "child")
			app := filepath.Join(dir, "app.py")
			fork, parent := "os.fork()", "count(100000)"
			if c.name == "silent" {
				// libc's fork, holding the GIL: no probe hit from the child
				// until its sleep (os.fork's own hooks make some at once).
				fork, parent = "ctypes.PyDLL(None).fork()", "os._exit(0)"
			}
			src := `import ctypes, os, sys, time
def count(n):
    while n > 0: n -= 1
pid = ` + fork + `
if pid == 0:
    ` + c.child + `
    open(sys.argv[1], "w").write(str(os.getpid()))
    time.sleep(` + c.sleep + `)
    os._exit(0)
` + parent + `
`
			if err := os.WriteFile(app, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if b, err := os.ReadFile(pidFile); err == nil {
					if pid, err := strconv.Atoi(string(b)); err == nil && pid > 0 {
						syscall.Kill(pid, syscall.SIGKILL)
					}
				}
			})
			out := filepath.Join(dir, "out")
			cmd := newRootCmd()
			var stdout, stderr bytes.Buffer
			cmd.SetOut(&stdout)
			cmd.SetErr(&stderr)
			cmd.SetArgs([]string{"record", "-o", out, "--formats", "none", "--", py, app, pidFile})
			start := time.Now()
			if err := cmd.ExecuteContext(context.Background()); err != nil {
				t.Fatalf("record: %v\n%s", err, stderr.String())
			}
			if took := time.Since(start); took > 15*time.Second {
				t.Errorf("record took %v: it waited for the child", took)
			}
			tr, err := tracer.ReadFile(filepath.Join(out, "run.giltrace"))
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(pidFile)
			if err != nil {
				t.Fatal(err)
			}
			if got := tr.Meta.Extra["outlived"]; (got == "pid "+string(b)) != c.cut {
				t.Errorf("outlived %q, want pid %s listed: %v", got, b, c.cut)
			}
			child := -1
			for i, th := range tr.Threads {
				if int(th.Proc) < len(tr.Procs) && strconv.Itoa(tr.Procs[th.Proc].PID) == string(b) {
					child = i
				}
			}
			if child < 0 {
				t.Fatalf("no thread of the child %s in the trace", b)
			}
			sleeps := 0
			for _, e := range tr.Events {
				if int(e.Thread) == child && e.Kind == tracer.KindIOBegin && tr.Str(e.IOKind()) == "sleep" {
					sleeps++
				}
			}
			if sleeps != 1 {
				t.Errorf("%d sleeps recorded for the child, want its one", sleeps)
			}
			if c.cut && !strings.Contains(stdout.String(), "cut off then (not ended): pid "+string(b)) {
				t.Errorf("the report does not say the child was cut off:\n%.600s", stdout.String())
			}
		})
	}
}

// TestRecordPythonChain: a chain of processes, each forking the next and
// exiting at once, is followed to its last (QA: the recording stopped
// once the processes it had seen were gone, before the fork of the next
// was read: 3 to 9 of 10 links recorded, the rest "still running a
// second after the program exited"). The chain must end within the
// second that record waits for what the program left (orphanWait): each
// link sleeps 20 ms, 0.16 s in all (with 50 ms links, 0.4 s, a clean-clone
// CI run beside the other packages' traced programs recorded 4 of 8 links
// before the second was over).
func TestRecordPythonChain(t *testing.T) {
	py := python(t)
	dir := t.TempDir()
	app := filepath.Join(dir, "chain.py")
	if err := os.WriteFile(app, []byte(`import os, time
os.sched_setaffinity(0, {0})
def count(n):
    while n > 0: n -= 1
for i in range(8):
    time.sleep(0.02); count(20000)
    if i == 7 or os.fork() != 0:
        os._exit(0)
`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if text, err := runRoot("record", "-o", out, "--formats", "none", "--", py, app); err != nil {
		t.Fatalf("record: %v\n%s", err, text)
	}
	tr, err := tracer.ReadFile(filepath.Join(out, "run.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	if o := tr.Meta.Extra["outlived"]; o != "" {
		t.Errorf("outlived %q: the chain was cut off", o)
	}
	sleeps := map[tracer.ProcID]bool{} // a sleep begun and ended
	open := map[tracer.ThreadID]bool{}
	for _, e := range tr.Events {
		switch {
		case e.Kind == tracer.KindIOBegin && tr.Str(e.IOKind()) == "sleep":
			open[e.Thread] = true
		case e.Kind == tracer.KindIOEnd && open[e.Thread]:
			open[e.Thread] = false
			sleeps[tr.Threads[e.Thread].Proc] = true
		}
	}
	if len(tr.Procs) != 8 || len(sleeps) != 8 {
		t.Errorf("%d processes, %d of them with their sleep recorded, want 8 and 8", len(tr.Procs), len(sleeps))
	}
}

// TestAttachIdle: attaching to a process whose one thread sleeps (no GIL
// changes hands) fails saying why, not "did the program run CPython".
func TestAttachIdle(t *testing.T) {
	py := python(t)
	prog := exec.Command(py, "-c", "import time; time.sleep(30)")
	if err := prog.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { prog.Process.Kill(); prog.Wait() }()
	time.Sleep(300 * time.Millisecond)
	cmd := newRootCmd()
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs([]string{"attach", strconv.Itoa(prog.Process.Pid), "--duration", "500ms", "-o", filepath.Join(t.TempDir(), "out")})
	err := cmd.ExecuteContext(context.Background())
	if err == nil || !strings.Contains(err.Error(), "took or released the GIL while attached") {
		t.Errorf("attach to an idle process: %v, want the reason (no GIL changed hands)", err)
	}
}

// TestRecordPythonDefaultDir: without -o, a real program's run goes to
// giltrace-out/py-<script>, not to the workload's giltrace-out/<name>: the
// README's countdown.yaml then countdown.py keep both runs.
func TestRecordPythonDefaultDir(t *testing.T) {
	py := python(t)
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile("countdown.py", []byte("print('hi')\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile("countdown.yaml", []byte("name: countdown\nclock: virtual\nthreads: [{run: f}]\nfunctions:\n  f: [{compute: 1ms}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := runRoot("record", "countdown.yaml", "--formats", "none"); err != nil {
		t.Fatal(err)
	}
	if _, err := runRoot("record", "--formats", "none", "--", py, "countdown.py"); err != nil {
		t.Fatal(err)
	}
	// With outputs, the outputs line names every file written, the
	// what-if's too.
	out, err := runRoot("record", "--formats", "folded", "-o", "py-out", "--", py, "countdown.py")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"flame.folded", "whatif/model.yaml", "whatif/whatif.json"} {
		if !strings.Contains(out, " "+filepath.Join("py-out", f)) {
			t.Errorf("the outputs line does not name %s:\n%s", f, out)
		}
	}
	for _, p := range []string{"giltrace-out/countdown/run.giltrace", "giltrace-out/py-countdown/run.giltrace"} {
		if _, err := os.Stat(p); err != nil {
			t.Error(err)
		}
	}
	if tr, err := tracer.ReadFile("giltrace-out/countdown/run.giltrace"); err != nil || tr.Meta.Extra["source"] == "cpython" {
		t.Errorf("giltrace-out/countdown holds the real program's run (%v)", err)
	}
}

// TestRecordPythonKilledBySignal: a program killed by a signal gives
// 128 + its number as record's exit status, as a shell reports it, and
// the report says which signal.
func TestRecordPythonKilledBySignal(t *testing.T) {
	py := python(t)
	dir := t.TempDir()
	app := filepath.Join(dir, "app.py")
	if err := os.WriteFile(app, []byte("import os, signal\nn = 200000\nwhile n > 0: n -= 1\nos.kill(os.getpid(), signal.SIGKILL)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := newRootCmd()
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs([]string{"record", "-o", filepath.Join(dir, "out"), "--formats", "none", "--", py, app})
	err := cmd.ExecuteContext(context.Background())
	if code := exitCode(err); code != 137 {
		t.Errorf("exit status %d (%v), want 128 + 9", code, err)
	}
	if !strings.Contains(stdout.String(), "The program was killed by signal SIGKILL (status 137)") {
		t.Errorf("the report does not say the program was killed:\n%.500s", stdout.String())
	}
}

// TestResolveLauncher: a pyenv-like shim (a shell script that execs the
// interpreter) is replaced by the interpreter it runs, named directly or
// through a script's "#!" line (with env, or with an argument); a real
// interpreter's script, and a script merely named like python, are left
// alone, and the latter is not run.
func TestResolveLauncher(t *testing.T) {
	const real = "/root/.pyenv/versions/3.11.7/bin/python3.11"
	if _, err := os.Stat(real); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.Mkdir(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(path, text string) string {
		t.Helper()
		if err := os.WriteFile(path, []byte(text), 0o755); err != nil {
			t.Fatal(err)
		}
		return path
	}
	shim := write(filepath.Join(bin, "python3"), "#!/bin/sh\nexec "+real+" \"$@\"\n")
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	marker := filepath.Join(dir, "ran")
	envScript := write(filepath.Join(dir, "app.py"), "#!/usr/bin/env python3\nprint('hi')\n")
	argScript := write(filepath.Join(dir, "unbuffered.py"), "#!"+shim+" -u\nprint('hi')\n")
	realScript := write(filepath.Join(dir, "plain.py"), "#!"+real+"\nprint('hi')\n")
	named := write(filepath.Join(dir, "python_app.py"), "#!/bin/sh\ntouch "+marker+"\n")
	onPath := write(filepath.Join(bin, "mytool"), "#!/usr/bin/env python3\nprint('hi')\n")
	for _, c := range []struct {
		argv, want []string
	}{
		{[]string{"python3", "app.py"}, []string{real, "app.py"}},
		{[]string{envScript, "x"}, []string{real, envScript, "x"}},
		{[]string{argScript}, []string{real, "-u", argScript}},
		// A script whose #! names the interpreter itself runs as the
		// kernel runs it, so that its trace knows the script (QA).
		{[]string{realScript, "x"}, []string{real, realScript, "x"}},
		{[]string{named}, []string{named}},
		{[]string{"/bin/true"}, []string{"/bin/true"}},
		// A script found on $PATH goes to the interpreter by its path, as
		// the kernel passes it: by its bare name the interpreter would look
		// in the working directory.
		{[]string{"mytool", "x"}, []string{real, onPath, "x"}},
	} {
		if got, failed := resolveLauncher(context.Background(), c.argv); !slices.Equal(got, c.want) || failed != "" {
			t.Errorf("resolveLauncher(%q) = %q, %q; want %q", c.argv, got, failed, c.want)
		}
	}
	if _, err := os.Stat(marker); err == nil {
		t.Errorf("resolveLauncher ran %s", named)
	}
	// A shim that cannot run the version asked for: left as it is, and
	// what it said is kept for the error that follows (QA: only
	// "/usr/bin/bash: not a CPython interpreter").
	write(filepath.Join(bin, "python3.99"), "#!/bin/sh\necho 'pyenv: python3.99: command not found' >&2\nexit 127\n")
	argv := []string{"python3.99", "x"}
	if got, failed := resolveLauncher(context.Background(), argv); !slices.Equal(got, argv) || !strings.Contains(failed, `it failed: "pyenv: python3.99: command not found"`) {
		t.Errorf("resolveLauncher(%q) = %q, %q; want it as it is, and the shim's words", argv, got, failed)
	}
}

// TestCheckAttachPID: attach refuses a thread's id (QA: the thread was
// traced as its process, taken for the main thread) and a zombie.
func TestCheckAttachPID(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	if err := checkAttachPID(os.Getpid()); err != nil {
		t.Errorf("this process: %v", err)
	}
	tasks, _ := filepath.Glob("/proc/self/task/[0-9]*")
	tid := 0
	for _, p := range tasks {
		if n, _ := strconv.Atoi(filepath.Base(p)); n != os.Getpid() {
			tid = n
			break
		}
	}
	if tid == 0 {
		t.Fatalf("no thread besides the main one in %v", tasks)
	}
	want := fmt.Sprintf("PID %d is a thread of process %d, not a process: attach %d", tid, os.Getpid(), os.Getpid())
	if err := checkAttachPID(tid); err == nil || err.Error() != want {
		t.Errorf("thread %d: %v, want %q", tid, err, want)
	}
	if _, err := runRoot("attach", strconv.Itoa(tid)); err == nil || !strings.Contains(err.Error(), "is a thread of process") || exitCode(err) != 2 {
		t.Errorf("attach TID: %v (exit %d)", err, exitCode(err))
	}
	child := exec.Command("true")
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Wait()
	pid := child.Process.Pid
	waitProcState(t, pid, "Z") // until it has exited, unreaped
	if err := checkAttachPID(pid); err == nil || !strings.Contains(err.Error(), "has exited") {
		t.Errorf("zombie: %v", err)
	}
	// A stopped process runs nothing while attached (QA: blamed on the
	// program's waits); continued, it is attached to.
	sleeper := exec.Command("sleep", "30")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { sleeper.Process.Kill(); sleeper.Wait() }()
	sp := sleeper.Process.Pid
	syscall.Kill(sp, syscall.SIGSTOP)
	waitProcState(t, sp, "T")
	if err := checkAttachPID(sp); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("process %d is stopped (T (stopped): by SIGSTOP or Ctrl-Z)", sp)) || !strings.Contains(err.Error(), fmt.Sprintf("kill -CONT %d", sp)) {
		t.Errorf("stopped: %v", err)
	}
	syscall.Kill(sp, syscall.SIGCONT)
	for i := 0; checkAttachPID(sp) != nil; i++ {
		if i == 1000 {
			t.Fatalf("continued, %d: %v", sp, checkAttachPID(sp))
		}
		time.Sleep(5 * time.Millisecond)
	}
	// A process that does not exist is a usage error too (exit 2, as the
	// zombie's; QA found 1): the highest PID the kernel allows, plus one.
	pidMax, _ := os.ReadFile("/proc/sys/kernel/pid_max")
	gone, _ := strconv.Atoi(strings.TrimSpace(string(pidMax)))
	gone++
	if _, err := runRoot("attach", strconv.Itoa(gone)); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("no process %d: nothing to trace", gone)) || exitCode(err) != 2 {
		t.Errorf("attach %d: %v (exit %d)", gone, err, exitCode(err))
	}
}

// TestRecordPythonOutputFails: when an output cannot be written, record --
// exits 1 and its error names the program's own status (QA: the status
// was lost silently).
func TestRecordPythonOutputFails(t *testing.T) {
	py := python(t)
	dir := t.TempDir()
	app := filepath.Join(dir, "app.py")
	if err := os.WriteFile(app, []byte("import sys\nsys.exit(7)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(filepath.Join(out, "report.txt"), 0o755); err != nil { // in the output's way
		t.Fatal(err)
	}
	cmd := newRootCmd()
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs([]string{"record", "-o", out, "--formats", "report", "--", py, app})
	err := cmd.ExecuteContext(context.Background())
	if exitCode(err) != 1 || !strings.Contains(err.Error(), "report.txt") || !strings.HasSuffix(err.Error(), "\nthe program itself exited with status 7") {
		t.Fatalf("err %v (exit %d), want exit 1 naming report.txt and the program's status 7; stderr:\n%s", err, exitCode(err), stderr.String())
	}
	if _, err := os.Stat(filepath.Join(out, "run.giltrace")); err != nil {
		t.Errorf("the trace: %v", err)
	}
}

// TestRecordPythonUntracedChild: a child process running another CPython
// than the one probed is named in the trace's metadata and the report
// (QA: it was left out without a word); a child running the same one is
// traced, not named.
func TestRecordPythonUntracedChild(t *testing.T) {
	py := python(t)
	const other = "/root/.pyenv/versions/3.12.1/bin/python3.12"
	if _, err := os.Stat(other); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("another CPython: %v", err)
		}
		t.Skipf("another CPython: %v", err)
	}
	dir := t.TempDir()
	app := filepath.Join(dir, "app.py")
	src := fmt.Sprintf(`import subprocess, sys, threading
def spin(n):
    while n > 0: n -= 1
ts = [threading.Thread(target=spin, args=(1000000,)) for _ in range(2)]
for t in ts: t.start()
subprocess.run([%q, "-c", "import time; time.sleep(0.4)"])
subprocess.run([sys.executable, "-c", "import time; time.sleep(0.4)"])
for t in ts: t.join()
`, other)
	if err := os.WriteFile(app, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	text, err := runRoot("record", "-o", out, "--formats", "none", "--", py, app)
	if err != nil {
		t.Fatalf("record: %v\n%s", err, text)
	}
	tr, err := tracer.ReadFile(filepath.Join(out, "run.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	got := tr.Meta.Extra["untraced"]
	if strings.Count(got, "pid ") != 1 || !strings.Contains(got, "("+other+")") {
		t.Errorf("untraced = %q, want the one child running %s", got, other)
	}
	if !strings.Contains(text, "Not traced: processes started by the program") {
		t.Errorf("the report does not say so:\n%s", text)
	}
}

// TestWhatIfFilesOfTheUser: a file of the user's where record would write
// what would help (whatif/model.yaml in a fresh directory) is left as it
// is, with a warning naming it; the other files of the prediction are
// written. QA: it was overwritten, where report.txt was protected.
func TestWhatIfFilesOfTheUser(t *testing.T) {
	py := python(t)
	dir := t.TempDir()
	app := filepath.Join(dir, "app.py")
	if err := os.WriteFile(app, []byte(twoThreads), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	mine := filepath.Join(out, "whatif", "model.yaml")
	os.MkdirAll(filepath.Dir(mine), 0o755)
	if err := os.WriteFile(mine, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	text, err := runRoot("record", "-o", out, "--formats", "report", "--", py, app)
	if code := exitCode(err); code != 3 {
		t.Fatalf("exit status %d (%v), want the program's 3:\n%s", code, err, text)
	}
	if b, _ := os.ReadFile(mine); string(b) != "mine" {
		t.Errorf("the user's whatif/model.yaml replaced: %.60q", b)
	}
	if !strings.Contains(text, mine+": not written by giltrace") {
		t.Errorf("no warning naming %s:\n%s", mine, text)
	}
	if _, err := os.Stat(filepath.Join(out, "whatif", "whatif.json")); err != nil {
		t.Errorf("the prediction's other files: %v", err)
	}
	m, _ := os.ReadFile(filepath.Join(out, ".giltrace-outputs"))
	if strings.Contains(string(m), "model.yaml") {
		t.Errorf("the user's file listed as an output:\n%s", m)
	}
}

// TestAttachKernelThreadAndName: attach to a kernel thread (kthreadd, pid
// 2) says what it is (QA: a readlink error); a process whose command is
// not a Python is named by its command, not its last argument (QA: `sleep
// 30` was "30"), and a Python's by its script.
func TestAttachKernelThreadAndName(t *testing.T) {
	if b, err := os.ReadFile("/proc/2/comm"); err != nil || strings.TrimSpace(string(b)) != "kthreadd" {
		t.Skip("no kthreadd at pid 2 here")
	}
	if err := checkAttachPID(2); err == nil || !strings.Contains(err.Error(), "process 2 is a kernel thread, not a program") {
		t.Errorf("attach 2: %v", err)
	}
	if kernelThread(os.Getpid()) {
		t.Error("this test is taken for a kernel thread")
	}
	if py, err := filepath.EvalSymlinks("/usr/bin/python3"); err == nil {
		// A process whose main thread exited while another runs has no
		// command line nor executable, and is no kernel thread (review).
		p := exec.Command(py, "-c", "import threading, ctypes, time\nthreading.Thread(target=time.sleep, args=(30,)).start()\nctypes.CDLL(None).pthread_exit(None)")
		if err := p.Start(); err == nil {
			defer func() { p.Process.Kill(); p.Wait() }()
			for range 300 {
				b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.Process.Pid))
				if _, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", p.Process.Pid)); len(b) == 0 && err != nil {
					break // the main thread has exited
				}
				time.Sleep(10 * time.Millisecond)
			}
			if kernelThread(p.Process.Pid) {
				t.Error("a process whose main thread exited is taken for a kernel thread")
			}
		}
	}
	sleep := exec.Command("sleep", "30")
	if err := sleep.Start(); err != nil {
		t.Skip(err)
	}
	defer func() { sleep.Process.Kill(); sleep.Wait() }()
	if got := nameOnceRunning(sleep.Process.Pid, "sleep"); got != "sleep" {
		t.Errorf("the name of `sleep 30`: %q, want sleep", got)
	}
	if py, err := filepath.EvalSymlinks("/usr/bin/python3"); err == nil { // not a shim
		p := exec.Command(py, "-c", "import time; time.sleep(30)")
		if err := p.Start(); err == nil {
			defer func() { p.Process.Kill(); p.Wait() }()
			if got, want := nameOnceRunning(p.Process.Pid, "time.sleep"), filepath.Base(py); got != want {
				t.Errorf("the name of `%s -c ...`: %q, want %s", py, got, want)
			}
		}
	}
}

// nameOnceRunning is attachName of pid once its command line holds want
// (the child has exec'd it, through any shim), or after 5 s.
func nameOnceRunning(pid int, want string) string {
	for range 500 {
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); strings.Contains(string(b), want) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	return attachName(pid)
}

// TestApplyEnv: `env NAME=VALUE... PROGRAM ARGS` is PROGRAM ARGS with the
// assignments in the environment the program inherits (QA: "env: not a
// CPython interpreter"); env's options are refused saying what to do.
func TestApplyEnv(t *testing.T) {
	t.Setenv("GILTRACE_TEST_ENV", "")
	got, err := applyEnv([]string{"/usr/bin/env", "GILTRACE_TEST_ENV=a=b", "python3", "app.py", "X=1"})
	if err != nil || !slices.Equal(got, []string{"python3", "app.py", "X=1"}) || os.Getenv("GILTRACE_TEST_ENV") != "a=b" {
		t.Errorf("applyEnv = %q, %v; GILTRACE_TEST_ENV=%q", got, err, os.Getenv("GILTRACE_TEST_ENV"))
	}
	t.Setenv("GILTRACE_TEST_ENV2", "")
	if got, err := applyEnv([]string{"env", "GILTRACE_TEST_ENV=1", "env", "GILTRACE_TEST_ENV2=2", "python3"}); err != nil || !slices.Equal(got, []string{"python3"}) || os.Getenv("GILTRACE_TEST_ENV2") != "2" {
		t.Errorf("nested env: %q, %v", got, err) // QA
	}
	for _, argv := range [][]string{{"env", "-i", "python3"}, {"env", "A=1"}, {"env", "=x", "python3"}, {"env", "A=1", "env", "-u", "B", "python3"}} {
		if _, err := applyEnv(argv); err == nil {
			t.Errorf("applyEnv(%q): no error", argv)
		}
	}
	if got, err := applyEnv([]string{"python3", "A=1"}); err != nil || len(got) != 2 {
		t.Errorf("a command without env: %q, %v", got, err)
	}
}

// TestRecordPythonInstalledModule: a program run as a module installed in
// a site-packages (python3 -m solo) is its own code: two CPU threads that
// then exit with status 1 are gil-bound, not "failed before its own code
// ran" (QA, a virtualenv's package; the same with PYTHONPATH).
func TestRecordPythonInstalledModule(t *testing.T) {
	py := python(t)
	site := filepath.Join(t.TempDir(), "lib", "python3", "site-packages")
	pkg := filepath.Join(site, "solo")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(pkg, "__init__.py"), nil, 0o644)
	os.WriteFile(filepath.Join(pkg, "__main__.py"), []byte(`import sys, threading
def work(n):
    while n: n -= 1
ts = [threading.Thread(target=work, args=(3_000_000,)) for _ in range(2)]
for t in ts: t.start()
for t in ts: t.join()
sys.exit(1)
`), 0o644)
	t.Setenv("PYTHONPATH", site)
	out := filepath.Join(t.TempDir(), "out")
	cmd := newRootCmd()
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs([]string{"record", "-o", out, "--formats", "report", "--", py, "-m", "solo"})
	err := cmd.ExecuteContext(context.Background())
	if err == nil || !strings.Contains(err.Error(), "status 1") {
		t.Fatalf("err %v, want the program's status 1; stderr:\n%s", err, stderr.String())
	}
	s := stdout.String()
	if strings.Contains(s, "before its own code") {
		t.Errorf("the report of a module run from site-packages:\n%s", s)
	}
	if !strings.Contains(s, "Verdict: gil-bound") {
		if strings.Contains(s, "Warning: busy machine") {
			// Beside other tests the threads got 44 % of the CPU they
			// wanted once, and a holder the OS took off its core looked
			// like a native call holding the GIL (the report says so).
			t.Skipf("the machine was busy (the report says so), and the verdict is not gil-bound:\n%s", s)
		}
		t.Errorf("the report of a module run from site-packages, not gil-bound:\n%s", s)
	}
}

// TestRecordPythonExecsAnotherProgram: a program that replaces itself
// (os.execv) with a program the probes do not see is traced up to the
// exec, where its threads end, and the report names the exec; a sleep of
// the exec'd program is not its thread running Python (QA: `os.execv
// /bin/sleep 1` after 70 ms of threads showed 1.09 s of the main thread
// running with the GIL, 93 % of the run; review: the same exec from a
// thread that is not the main one). A program that re-executes its own
// interpreter goes on being traced: the second program's threads are in
// the trace, and no exec is named.
func TestRecordPythonExecsAnotherProgram(t *testing.T) {
	py := python(t)
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep")
	}
	for _, tc := range []struct{ name, exec string }{
		{"main", "os.execv(%q, [\"sleep\", \"3\"])"},
		{"thread", "x = threading.Thread(target=os.execv, args=(%q, [\"sleep\", \"3\"]), name=\"execer\"); x.start(); x.join()"},
		{"same", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			app := filepath.Join(dir, "app.py")
			last := fmt.Sprintf(tc.exec, sleep)
			if tc.name == "same" {
				last = `import sys
if len(sys.argv) == 1:
    os.execv(sys.executable, [sys.executable, __file__, "second"])
import time
def work_then_wait(n):
    work(n)
    time.sleep(0.3)  # alive while the reader, slow under -race, reads the thread's name
ts = [threading.Thread(target=work_then_wait, args=(300_000,), name=f"second-{i}") for i in range(2)]
for t in ts: t.start()
for t in ts: t.join()`
			}
			src := `import os, threading
def work(n):
    while n: n -= 1
ts = [threading.Thread(target=work, args=(300_000,)) for _ in range(2)]
for t in ts: t.start()
for t in ts: t.join()
` + last + "\n"
			if err := os.WriteFile(app, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(dir, "out")
			text, err := runRoot("record", "-o", out, "--formats", "report,report-json", "--", py, app)
			if err != nil {
				t.Fatalf("%v\n%s", err, text)
			}
			named := strings.Contains(text, "Not traced after an exec") && strings.Contains(text, "exec'd ")
			if named != (tc.name != "same") {
				t.Errorf("the exec named: %v, want %v:\n%s", named, tc.name != "same", text)
			}
			if tc.name == "same" && !strings.Contains(text, "second-1") {
				t.Errorf("the second program's threads are not in the trace:\n%s", text)
			}
			b, err := os.ReadFile(filepath.Join(out, "report.json"))
			if err != nil {
				t.Fatal(err)
			}
			var r struct {
				Threads []struct {
					Name      string `json:"name"`
					WallNS    int64  `json:"wall_ns"`
					RunningNS int64  `json:"running_ns"`
				} `json:"threads"`
			}
			if err := json.Unmarshal(b, &r); err != nil {
				t.Fatal(err)
			}
			// The exec'd sleep of 3 s, taken for the thread, would be
			// 3 s of its wall and running: far above what the threads'
			// 300 000 iterations take even on a loaded machine (CI,
			// 2026-12-05, beside two other test suites: 0.85 s of
			// running in the "same" case, whose program execs no sleep,
			// against a bound of 0.6 s then).
			if tc.name == "same" {
				return
			}
			for _, th := range r.Threads {
				if th.RunningNS > 2e9 || th.WallNS > 2.5e9 {
					t.Errorf("%s ran %v in a wall of %v: the exec'd sleep taken for it", th.Name, time.Duration(th.RunningNS), time.Duration(th.WallNS))
				}
			}
		})
	}
}

// TestAttachNotCPython: attach to a process that is not CPython is a
// refusal of the PID, exit status 2 as the others (QA: 1, where no
// process was 2), naming the pid.
func TestAttachNotCPython(t *testing.T) {
	python(t)
	sleep := exec.Command("sleep", "30")
	if err := sleep.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sleep.Process.Kill(); _ = sleep.Wait() }()
	_, err := runRoot("attach", strconv.Itoa(sleep.Process.Pid), "-o", filepath.Join(t.TempDir(), "out"))
	if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), fmt.Sprintf("(pid %d): ", sleep.Process.Pid)) || !strings.Contains(err.Error(), "not a CPython interpreter") {
		t.Errorf("attach to sleep: %v (exit %d)", err, exitCode(err))
	}
}

// waitProcState waits, up to 5 s, until process pid is in state (its
// /proc/PID/stat's third field: Z, T).
func waitProcState(t *testing.T, pid int, state string) {
	t.Helper()
	for range 1000 {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if f := strings.Fields(string(b)); len(f) > 2 && f[2] == state {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("process %d never reached state %s", pid, state)
}

// ownProbesGone fails the test if a uprobe of this process's group
// (giltrace_<pid>: the commands run in the test's process) is defined.
func ownProbesGone(t *testing.T) {
	t.Helper()
	b, err := os.ReadFile("/sys/kernel/tracing/uprobe_events")
	if err != nil {
		t.Errorf("reading the probes' definitions: %v", err)
		return
	}
	own := ":giltrace_" + strconv.Itoa(os.Getpid()) + "/"
	for line := range strings.Lines(string(b)) {
		if strings.Contains(line, own) {
			t.Errorf("uprobe left after the command returned: %s", strings.TrimSpace(line))
		}
	}
}

// TestSignalWhileProbesRemoved: a signal that comes once the run is saved
// and reported, while giltrace waits for the probes' removal
// (cpython.Options.CloseLater), stops nothing and is said, as one that
// comes as the run ends; the probes are gone when the command returns.
func TestSignalWhileProbesRemoved(t *testing.T) {
	py := python(t)
	in, ctx, _, _ := newTestInterrupts(t)
	afterRecordRun = func() { in.signal(syscall.SIGINT) }
	defer func() { afterRecordRun = nil }()
	dir := t.TempDir()
	cmd := newRootCmd()
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs([]string{"record", "-o", dir, "--formats", "report", "--", py, "-c", "pass"})
	err := cmd.ExecuteContext(ctx)
	if err != nil {
		t.Fatalf("record: %v\n%s", err, stderr.String())
	}
	if want := "giltrace: stopped by SIGINT while the probes were removed: the run is complete, and so are its trace and outputs"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr:\n%s\nwant %q", stderr.String(), want)
	}
	if in.Signal() != syscall.SIGINT {
		t.Errorf("Signal() = %v", in.Signal())
	}
	ownProbesGone(t)
	for _, f := range []string{"run.giltrace", "report.txt"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
}
