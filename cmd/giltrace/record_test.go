package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/giltrace/giltrace/vm/workload"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm"
)

func TestRecordArgs(t *testing.T) {
	testArgs(t, recordCmd, []argsCase[recordOptions]{
		{[]string{"w.yaml"}, &recordOptions{Workload: "w.yaml"}, false, ""},
		{[]string{"w.yaml", "-o", "out", "--gil", "legacy", "--switch-interval", "2ms", "--threads", "4", "--processes", "2", "--json"},
			&recordOptions{Workload: "w.yaml", Out: "out", Mode: "legacy", SwitchInterval: 2 * time.Millisecond, Threads: 4, Processes: 2, JSON: true}, false, ""},
		{[]string{"--out=d", "w.yaml", "--gil=none"}, &recordOptions{Workload: "w.yaml", Out: "d", Mode: "none"}, false, ""},
		{nil, nil, true, ""},
		// -o names a directory: a trace file's name is refused (QA).
		{[]string{"w.yaml", "-o", "/nonexistent/new.giltrace"}, nil, true, "-o /nonexistent/new.giltrace: names a directory"},
		{[]string{"-o", "x.giltrace", "--", "python3", "app.py"}, nil, true, "names a directory"},
		{[]string{"a.yaml", "b.yaml"}, nil, true, ""},
		{[]string{"w.yaml", "--gil", "nogil"}, nil, true, ""},
		{[]string{"w.yaml", "--switch-interval", "5"}, nil, true, ""},
		{[]string{"w.yaml", "--switch-interval", "-1ms"}, nil, true, ""},
		{[]string{"w.yaml", "--switch-interval", "100ns"}, nil, true, ""},
		{[]string{"w.yaml", "--threads", "-1"}, nil, true, ""},
		{[]string{"w.yaml", "--threads", "many"}, nil, true, ""},
		{[]string{"w.yaml", "--processes", "100000"}, nil, true, ""},
		{[]string{"w.yaml", "--bogus"}, nil, true, ""},
		// A real program, after --.
		{[]string{"--", "python3", "app.py", "-v"}, &recordOptions{Command: []string{"python3", "app.py", "-v"}}, false, ""},
		{[]string{"-o", "d", "--json", "--formats", "none", "--", "python3", "-m", "pkg"},
			&recordOptions{Out: "d", JSON: true, Formats: "none", Command: []string{"python3", "-m", "pkg"}}, false, ""},
		{[]string{"--"}, nil, true, "no command after --"},
		{[]string{"w.yaml", "--", "python3"}, nil, true, "not both"},
		{[]string{"python3", "app.py"}, nil, true, "record -- python3 app.py"},
		{[]string{"--gil", "none", "--", "python3", "app.py"}, nil, true, "--gil applies to workloads"},
		{[]string{"--threads", "4", "--", "python3", "app.py"}, nil, true, "--threads applies to workloads"},
		{[]string{"--lock-holds", "--", "python3", "app.py"},
			&recordOptions{Command: []string{"python3", "app.py"}, LockHolds: true, lockHoldsSet: true}, false, ""},
		{[]string{"w.yaml", "--lock-holds"}, nil, true, "--lock-holds applies to a real program"},
		{[]string{"w.yaml", "-o", ""}, nil, true, `-o "": expected a directory`},
		// QA: told to trace the YAML file as a program.
		{[]string{"w.yaml", "--otlp", "http://127.0.0.1:1"}, nil, true, `--otlp takes its URL after "=": --otlp=http://127.0.0.1:1`},
		{[]string{"--otlp", "https://c:4318", "--", "python3", "app.py"}, nil, true, `--otlp=https://c:4318`},
		{[]string{"w.yaml", "--otlp=http://127.0.0.1:1"}, &recordOptions{Workload: "w.yaml", OTLP: "http://127.0.0.1:1"}, false, ""},
		{[]string{"--kill-after", "30s", "--", "python3", "app.py"},
			&recordOptions{Command: []string{"python3", "app.py"}, KillAfter: 30 * time.Second}, false, ""},
		{[]string{"--kill-after", "0", "--", "python3", "app.py"}, nil, true, "--kill-after 0s: expected a positive duration"},
		{[]string{"w.yaml", "--kill-after", "2s"}, nil, true, "--kill-after applies to a real program"},
		// An explicit 0 is not the default ("the workload's"): refused with
		// the range, as -1 is.
		{[]string{"w.yaml", "--threads", "0"}, nil, true, "--threads 0: expected 1 to 1024"},
		{[]string{"w.yaml", "--processes", "0"}, nil, true, "--processes 0: expected 1 to 64"},
		{[]string{"w.yaml", "--processes=-1"}, nil, true, "--processes -1: expected 1 to 64"},
		{[]string{"w.yaml", "--cores", "0"}, nil, true, "--cores 0: expected 1 to 4096"},
		{[]string{"w.yaml", "--switch-interval", "0"}, nil, true, "--switch-interval 0s: expected 1µs to 1h0m0s"},
		{[]string{"w.yaml", "--switch-interval", "0s"}, nil, true, "--switch-interval 0s"},
		{[]string{"--threads", "0", "--", "python3", "app.py"}, nil, true, "--threads applies to workloads"},
		{[]string{"--cores", "0", "--", "python3", "app.py"}, nil, true, "--cores applies to workloads"},
	})
}

func TestAttachArgs(t *testing.T) {
	// A process that exists (attach refuses one that does not): this one.
	pid := os.Getpid()
	p := strconv.Itoa(pid)
	testArgs(t, attachCmd, []argsCase[attachOptions]{
		{[]string{p}, &attachOptions{PID: pid}, false, ""},
		{[]string{p, "--duration", "10s", "-o", "d", "--json", "--formats", "report"},
			&attachOptions{PID: pid, Duration: 10 * time.Second, recordOptions: recordOptions{Out: "d", JSON: true, Formats: "report"}}, false, ""},
		{[]string{p, "-o", "run.giltrace"}, nil, true, "names a directory"},
		{nil, nil, true, ""},
		{[]string{"abc"}, nil, true, "expected a process id"},
		{[]string{"0"}, nil, true, "expected a process id"},
		{[]string{p, "--duration", "-1s"}, nil, true, "--duration"},
		{[]string{p, "--duration", "0"}, nil, true, "--duration 0s: expected a positive duration"},
		{[]string{p, "--formats", "svg"}, nil, true, "--formats"},
		{[]string{p, "--formats", ""}, nil, true, `--formats "": expected all, none`},
		{[]string{p, "--lock-holds"}, &attachOptions{PID: pid, recordOptions: recordOptions{LockHolds: true}}, false, ""},
		{[]string{p, "--otlp", "http://c:4318"}, nil, true, `--otlp=http://c:4318`},
	})
}

// small is a quick workload with every kind of operation.
const small = `name: small
description: two handlers, one CPU-bound thread
threads:
  - name: handler
    count: 2
    run: handle
    repeat: 3
  - name: cpu
    run: crunch
functions:
  handle:
    - io: {duration: 2ms, kind: db}
    - native: {duration: 1ms, releases_gil: true}
    - lock: {name: cache, body: [{compute: {loops: 1000}}]}
  crunch:
    - compute: {loops: 2000000}
`

func writeWorkload(t *testing.T, src string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "small.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRecordText(t *testing.T) {
	w := writeWorkload(t, small)
	dir := filepath.Join(t.TempDir(), "out")
	out, err := runRoot("record", w, "-o", dir)
	if err != nil {
		t.Fatalf("record: %v\n%s", err, out)
	}
	path := filepath.Join(dir, "run.giltrace")
	for _, want := range []string{"small: 3 threads in 1 process, GIL cpython (switch interval 5ms)", "handler-1", "handler-2", "cpu",
		"running", "GIL wait", "I/O", "native", "lock wait", "acquisitions", "trace: " + path} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	tr, err := tracer.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.CheckValid(); err != nil {
		t.Fatal(err)
	}
	if tr.Meta.Workload != "small" || tr.Meta.WorkloadFile != w || tr.Meta.WorkloadSource != small || tr.Meta.Version != giltraceVersion() {
		t.Errorf("meta %+v", tr.Meta)
	}
}

func TestRecordJSONWithOverrides(t *testing.T) {
	w := writeWorkload(t, small)
	dir := t.TempDir()
	out, err := runRoot("record", w, "-o", dir, "--json", "--gil", "none", "--threads", "1", "--processes", "2")
	if err != nil {
		t.Fatalf("record: %v\n%s", err, out)
	}
	var s struct {
		Workload         string  `json:"workload"`
		GILMode          string  `json:"gil_mode"`
		SwitchIntervalNS *int64  `json:"switch_interval_ns"`
		Processes        int     `json:"processes"`
		WallNS           int64   `json:"wall_ns"`
		Events           int     `json:"events"`
		DroppedEvents    *uint64 `json:"dropped_events"`
		Threads          []struct {
			Name         string `json:"name"`
			Process      string `json:"process"`
			WallNS       int64  `json:"wall_ns"`
			RunningNS    *int64 `json:"running_ns"`
			GILWaitNS    *int64 `json:"gil_wait_ns"`
			IONS         int64  `json:"io_ns"`
			NativeNS     int64  `json:"native_ns"`
			LockWaitNS   *int64 `json:"lock_wait_ns"`
			Acquisitions *int   `json:"acquisitions"`
		} `json:"threads"`
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if s.Workload != "small" || s.GILMode != "none" || s.Processes != 2 || s.WallNS <= 0 || s.Events == 0 ||
		s.SwitchIntervalNS == nil || s.DroppedEvents == nil || len(s.Threads) != 4 {
		t.Fatalf("summary %+v", s)
	}
	for _, th := range s.Threads {
		if th.WallNS <= 0 || th.RunningNS == nil || th.GILWaitNS == nil || th.LockWaitNS == nil || th.Acquisitions == nil {
			t.Errorf("thread %+v", th)
		}
		if th.Name == "handler" && (th.IONS < int64(6*time.Millisecond) || th.NativeNS < int64(3*time.Millisecond)) {
			t.Errorf("handler: %v I/O and %v native, expected >= 6ms and 3ms", time.Duration(th.IONS), time.Duration(th.NativeNS))
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "run.giltrace")); err != nil {
		t.Error(err)
	}
}

func TestRecordDefaultDir(t *testing.T) {
	w := writeWorkload(t, small)
	t.Chdir(t.TempDir())
	if out, err := runRoot("record", w, "--threads", "1"); err != nil {
		t.Fatalf("record: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join("giltrace-out", "small", "run.giltrace")); err != nil {
		t.Error(err)
	}
}

func TestRecordErrors(t *testing.T) {
	bad := writeWorkload(t, "name: bad\nthreads: []\nfunctions: {}\nbogus: 1\n")
	for _, args := range [][]string{
		{"record", filepath.Join(t.TempDir(), "missing.yaml")},
		{"record", bad},
	} {
		out, err := runRoot(args...)
		if err == nil || exitCode(err) != 1 {
			t.Errorf("%v: err = %v, want exit 1\n%s", args, err, out)
		}
	}
}

func TestRecordInterrupted(t *testing.T) {
	w := writeWorkload(t, `name: long
threads:
  - name: T
    count: 2
    run: count
functions:
  count:
    - compute: 30s
`)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	var out, errOut strings.Builder
	start := time.Now()
	err := record(ctx, &recordOptions{Workload: w, Out: dir}, &out, &errOut)
	if !errors.Is(err, vm.ErrInterrupted) || exitCode(err) != 1 {
		t.Fatalf("err = %v, want an interrupted run", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("stopping took %v", d)
	}
	if !strings.Contains(err.Error(), "run interrupted") || !strings.Contains(out.String(), "T-1") {
		t.Errorf("err %v, output:\n%s", err, out.String())
	}
	tr, rerr := tracer.ReadFile(filepath.Join(dir, "run.giltrace"))
	if rerr != nil {
		t.Fatal(rerr)
	}
	if err := tr.CheckValid(); err != nil {
		t.Fatal(err)
	}
}

// TestRecordFixture records a bundled fixture, as the README's first
// command does (with fewer threads, to stay quick).
func TestRecordFixture(t *testing.T) {
	dir := t.TempDir()
	out, err := runRoot("record", "../../fixtures/web-scraping.yaml", "-o", dir, "--threads", "2")
	if err != nil {
		t.Fatalf("record: %v\n%s", err, out)
	}
	// The report follows the run: I/O-bound threads scale.
	if !strings.Contains(out, "web-scraping: 2 threads in 1 process") || !strings.Contains(out, "scraper-2") ||
		!strings.Contains(out, "Verdict: scales") || !strings.Contains(out, "Speedup") {
		t.Errorf("output:\n%s", out)
	}
	tr, err := tracer.ReadFile(filepath.Join(dir, "run.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.CheckValid(); err != nil {
		t.Fatal(err)
	}
	if tr.Meta.LoopsPerMS <= 0 || tr.Meta.WorkloadFile != "../../fixtures/web-scraping.yaml" {
		t.Errorf("meta %+v", tr.Meta)
	}
}

// TestRecordSignalAsTheRunEnds: a signal that came as the run ended, too
// late to cut it short and before its outputs began (a virtual run being
// merged), stops nothing: the trace and every output are written, and
// stderr says why the command will exit as stopped (QA: exit 130 with no
// word).
func TestRecordSignalAsTheRunEnds(t *testing.T) {
	in, ctx, _, _ := newTestInterrupts(t)
	w, err := workload.Load("../../fixtures/convoy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	o := &recordOptions{Workload: w.File, Out: dir, Clock: "virtual", Cores: 2, Formats: "folded,report"}
	var stdout, stderr bytes.Buffer
	err = recordRun(ctx, w.Name, w.Name, startMeta(w, o), o, &stdout, &stderr, func(ctx context.Context) (*tracer.Trace, error) {
		t, err := vm.Run(ctx, w, vm.Options{ClockMode: workload.ClockVirtual, Cores: 2})
		in.signal(syscall.SIGINT) // the run is over, record has not seen it yet
		return t, err
	})
	if err != nil {
		t.Fatalf("record: %v\n%s", err, stderr.String())
	}
	if want := "giltrace: stopped by SIGINT as the run ended: the run is complete, and so are its trace and outputs"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr:\n%s\nwant %q", stderr.String(), want)
	}
	for _, f := range []string{traceName, "flame.folded", "report.txt"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	// With --otlp: nothing is sent after a signal, and it says so.
	in2, ctx2, _, _ := newTestInterrupts(t)
	o.OTLP, o.Out = "http://127.0.0.1:1", t.TempDir()
	stderr.Reset()
	err = recordRun(ctx2, w.Name, w.Name, startMeta(w, o), o, &stdout, &stderr, func(ctx context.Context) (*tracer.Trace, error) {
		t, err := vm.Run(ctx, w, vm.Options{ClockMode: workload.ClockVirtual, Cores: 2})
		in2.signal(syscall.SIGINT)
		return t, err
	})
	if err != nil {
		t.Fatalf("record --otlp: %v\n%s", err, stderr.String())
	}
	if want := "and so are its trace and outputs; it was not sent over OTLP (giltrace export " + filepath.Join(o.Out, traceName) + " --format otlp --endpoint " + o.OTLP + " sends it)"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr:\n%s\nwant %q", stderr.String(), want)
	}
}

// TestRecordInterruptedBeforeAnyEvent: a signal before the first event
// (an early Ctrl-C on record -- or attach) writes nothing and keeps the
// previous run in the directory whole, instead of replacing it with an
// empty trace and a meaningless report (QA).
func TestRecordInterruptedBeforeAnyEvent(t *testing.T) {
	dir := t.TempDir()
	w := writeWorkload(t, "name: w\nclock: virtual\nthreads: [{name: T, count: 2, run: f}]\nfunctions: {f: [{compute: 1ms}]}\n")
	if out, err := runRoot("record", w, "-o", dir, "--formats", "none"); err != nil {
		t.Fatalf("record: %v\n%s", err, out)
	}
	before, err := os.ReadFile(filepath.Join(dir, "run.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut strings.Builder
	empty := func(context.Context) (*tracer.Trace, error) {
		return &tracer.Trace{Meta: tracer.Meta{Start: time.Now()}}, fmt.Errorf("tracing: %w", tracer.ErrInterrupted)
	}
	err = recordRun(context.Background(), "prog", "prog", tracer.Meta{Start: time.Now()}, &recordOptions{Out: dir}, &out, &errOut, empty)
	if !errors.Is(err, tracer.ErrInterrupted) || !strings.Contains(err.Error(), "nothing written") ||
		!strings.Contains(err.Error(), "the previous run in "+dir+" is kept") {
		t.Fatalf("err = %v", err)
	}
	if out.Len() > 0 {
		t.Errorf("a report of nothing:\n%s", out.String())
	}
	after, err := os.ReadFile(filepath.Join(dir, "run.giltrace"))
	if err != nil || !bytes.Equal(before, after) {
		t.Errorf("the previous run's trace changed (err %v)", err)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.Contains(e.Name(), "partial") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
	// Into a new directory: nothing is left, not even the directory.
	fresh := filepath.Join(t.TempDir(), "new")
	err = recordRun(context.Background(), "prog", "prog", tracer.Meta{Start: time.Now()}, &recordOptions{Out: fresh}, &out, &errOut, empty)
	if !errors.Is(err, tracer.ErrInterrupted) || strings.Contains(err.Error(), "kept") {
		t.Errorf("err = %v", err)
	}
	if _, serr := os.Stat(fresh); !os.IsNotExist(serr) {
		t.Errorf("%s left behind (%v)", fresh, serr)
	}
}

// TestRecordSignalBeforeTheRunBegan: a start that fails after a signal
// (a pyenv shim interrupted while it is resolved) is said to be the
// signal's doing, with the failure beside it (QA: "/usr/bin/bash: not a
// CPython interpreter" after a Ctrl-C).
func TestRecordSignalBeforeTheRunBegan(t *testing.T) {
	ctx, in, stop := notifyInterrupts(context.Background(), io.Discard)
	defer stop()
	in.exit = func(int) {}
	failed := func(context.Context) (*tracer.Trace, error) {
		in.signal(syscall.SIGINT)
		return nil, errors.New("/usr/bin/bash: not a CPython interpreter")
	}
	var out, errOut strings.Builder
	err := recordRun(ctx, "prog", "prog", tracer.Meta{Start: time.Now()}, &recordOptions{Out: t.TempDir()}, &out, &errOut, failed)
	if !errors.Is(err, tracer.ErrInterrupted) || !strings.Contains(err.Error(), "by SIGINT before the run began: nothing recorded (/usr/bin/bash: not a CPython interpreter)") {
		t.Errorf("err = %v", err)
	}
}

// TestRecordSwitchIntervalWithoutOne: --switch-interval for a run with no
// switch interval (free-threaded, the legacy GIL) is a usage error naming
// why, not ignored (QA: --gil none --switch-interval 1ms was accepted).
func TestRecordSwitchIntervalWithoutOne(t *testing.T) {
	w := writeWorkload(t, small)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--gil", "none"}, "--switch-interval 1ms: --gil none asks for no GIL (free-threaded), which has no switch interval"},
		{[]string{"--gil", "legacy"}, "--gil legacy asks for the legacy GIL"},
	} {
		args := append([]string{"record", w, "-o", t.TempDir(), "--switch-interval", "1ms"}, c.args...)
		_, err := runRoot(args...)
		if exitCode(err) != 2 || err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v (exit %d), want a usage error with %q", c.args, err, exitCode(err), c.want)
		}
	}
}
