package cpython

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/giltrace/giltrace/tracer"
)

// The integration tests run real python3 programs under the recorder. They
// need root, tracefs and uprobes: in CI (CI=true) a missing one fails the
// test; elsewhere the test is skipped with the reason. They assert what the
// interpreter must show, never timings.

// defaultPython is the interpreter of the fixture tests.
const defaultPython = "3.11.7"

func needTracing(t *testing.T, python string) {
	t.Helper()
	skip := t.Skipf
	if os.Getenv("CI") == "true" {
		skip = t.Fatalf
	}
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		skip("uprobes on CPython are supported on linux/amd64 only")
	}
	if err := Check(); err != nil {
		skip("cannot trace here: %v", err)
	}
	if python != "" {
		if _, err := os.Stat(python); err != nil {
			skip("no %s: %v", python, err)
		}
	}
}

// needSIGINT: a test whose program must take giltrace's SIGINT needs
// SIGINT not ignored here: a program inherits the ignoring, and a test
// binary started in the background by a shell script (no job control)
// ignores SIGINT (TestInterrupt then failed: the program killed after
// the grace).
func needSIGINT(t *testing.T) {
	t.Helper()
	if signal.Ignored(os.Interrupt) {
		if os.Getenv("CI") == "true" {
			t.Fatal("SIGINT is ignored in this process, and the traced programs would inherit that: run the tests in the foreground")
		}
		t.Skip("SIGINT is ignored in this process (started in the background by a shell?), and the traced programs would inherit that")
	}
}

func pyenv(v string) string { return "/root/.pyenv/versions/" + v + "/bin/python3" }

func fixture(name string) string {
	p, _ := filepath.Abs(filepath.Join("..", "..", "fixtures", "python", name))
	return p
}

// noProbesLeft fails the test if this process's uprobe group or tracefs
// instance remains (other recorders may be running on the machine).
func noProbesLeft(t *testing.T) {
	t.Helper()
	own := newSession("").group
	ev, err := probeEvents()
	for _, e := range ev {
		if strings.Contains(e, ":"+own+"/") {
			t.Errorf("uprobe left after Record: %s", e)
		}
	}
	if err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(tracefsRoot, "instances", own)); err == nil {
		t.Errorf("tracefs instance %s left after Record", own)
	}
}

// record runs src and returns its trace, checked valid and derivable.
func record(t *testing.T, ctx context.Context, src *Source) (*tracer.Trace, error) {
	t.Helper()
	tr, err := tracer.Record(ctx, src, tracer.Config{})
	noProbesLeft(t)
	if tr == nil {
		return nil, err
	}
	if verr := tr.CheckValid(); verr != nil {
		t.Fatalf("invalid trace: %v", verr)
	}
	tracer.Derive(tr)
	return tr, err
}

// recordFixture runs a fixture under python and returns its trace.
func recordFixture(t *testing.T, python, script string) *tracer.Trace {
	t.Helper()
	needTracing(t, python)
	var out bytes.Buffer
	src := Command([]string{python, fixture(script)}, Options{Stdout: &out, Stderr: &out})
	tr, err := record(t, context.Background(), src)
	if err != nil {
		t.Fatalf("recording %s under %s: %v\n%s", script, python, err, out.String())
	}
	if src.ExitCode() != 0 {
		t.Fatalf("%s exited with %d\n%s", script, src.ExitCode(), out.String())
	}
	if n := tr.Meta.Extra["lost_events"]; n != "" {
		t.Logf("%s: %s events lost", script, n)
	}
	return tr
}

// stats counts what a trace shows per thread name.
type stats struct {
	gilWaits, drops, forced, native, nativeHolding, lockWaits map[string]int
	io                                                        map[string]map[string]int // thread -> kind -> count
	lockWaitsBy                                               map[tracer.LockID]map[string]int
	waitTops                                                  map[string][]tracer.Frame // thread -> top frame of each GIL wait
}

func count(tr *tracer.Trace) *stats {
	s := &stats{gilWaits: map[string]int{}, drops: map[string]int{}, forced: map[string]int{}, native: map[string]int{},
		nativeHolding: map[string]int{}, lockWaits: map[string]int{}, io: map[string]map[string]int{},
		lockWaitsBy: map[tracer.LockID]map[string]int{}, waitTops: map[string][]tracer.Frame{}}
	for _, e := range tr.Events {
		name := tr.Threads[e.Thread].Name
		switch e.Kind {
		case tracer.KindLockWait:
			if tr.Locks[e.Lock()].GIL {
				s.gilWaits[name]++
				var top tracer.Frame
				if fs := tr.StackFrames(e.Stack); len(fs) > 0 {
					top = fs[0]
				}
				s.waitTops[name] = append(s.waitTops[name], top)
			} else {
				s.lockWaits[name]++
				if s.lockWaitsBy[e.Lock()] == nil {
					s.lockWaitsBy[e.Lock()] = map[string]int{}
				}
				s.lockWaitsBy[e.Lock()][name]++
			}
		case tracer.KindDropRequest:
			s.drops[name]++
		case tracer.KindLockAcquire:
			if e.Acquire() == tracer.AcquireForced {
				s.forced[name]++
			}
		case tracer.KindNativeBegin:
			if e.ReleasesGIL() {
				s.native[name]++
			} else {
				s.nativeHolding[name]++
			}
		case tracer.KindIOBegin:
			if s.io[name] == nil {
				s.io[name] = map[string]int{}
			}
			s.io[name][tr.Str(e.IOKind())]++
		}
	}
	return s
}

func threadNames(tr *tracer.Trace) []string {
	var out []string
	for _, th := range tr.Threads {
		out = append(out, th.Name)
	}
	return out
}

// TestCountdownVersions traces the countdown under every CPython 3.9-3.13
// present (pyenv's), and Debian unstable's 3.14 and 3.15: two worker threads named
// as Python names them, each waiting for the GIL in countdown() of
// countdown.py, drop requests and forced switches.
func TestCountdownVersions(t *testing.T) {
	for _, v := range append(slices.Clip(pyenvVersions), "3.14 (Debian)", "3.15 (Debian)") {
		t.Run(v, func(t *testing.T) {
			py := testPython(t, v)
			if strings.HasSuffix(v, "(Debian)") {
				// As TestRecordLTO: its stacks are read after the hit.
				skipUnderRace(t, "the recorder reads a link-time optimised build's stacks and names too late")
			}
			tr := recordFixture(t, py, "countdown.py")
			m := tr.Meta
			if m.GILMode != tracer.GILCPython || m.Workload != "countdown" || m.Extra["source"] != "cpython" ||
				!strings.HasPrefix(m.Extra["python"], v[:4]) || m.SwitchInterval != 5*time.Millisecond || m.Start.IsZero() {
				t.Errorf("meta %+v", m)
			}
			s := count(tr)
			workers := []string{"Thread-1 (countdown)", "Thread-2 (countdown)"}
			if v == "3.9.18" {
				workers = []string{"Thread-1", "Thread-2"} // 3.9 does not add the target's name
			}
			names := threadNames(tr)
			if len(tr.Threads) != 3 || names[0] != "MainThread" {
				t.Fatalf("threads %q, want MainThread and %q", names, workers)
			}
			if strings.HasSuffix(v, "(Debian)") && !slices.Contains(names, workers[0]) {
				// A link-time optimised build's names are read after
				// the fact, and lost more often (docs/cpython.md): the
				// workers are then named after their function.
				t.Logf("threads %q: the Python names were not read", names)
				workers = names[1:]
			}
			for _, w := range workers {
				if s.gilWaits[w] == 0 {
					t.Errorf("%s: no GIL wait (threads %q)", w, names)
				}
				// Every wait is in countdown() of countdown.py, but those at
				// the thread's start (no frame yet, or threading.py's
				// bootstrap).
				inCountdown := 0
				for _, f := range s.waitTops[w] {
					switch {
					case f.Func == "countdown" && filepath.Base(f.File) == "countdown.py" && f.Line > 0:
						inCountdown++
					case f.Func == "" || filepath.Base(f.File) == "threading.py":
					default:
						t.Errorf("%s: GIL wait at %+v, want countdown in countdown.py", w, f)
					}
				}
				if inCountdown == 0 {
					t.Errorf("%s: no GIL wait in countdown (%v)", w, s.waitTops[w])
				}
			}
			if s.drops[workers[0]]+s.drops[workers[1]] == 0 || s.forced[workers[0]]+s.forced[workers[1]] == 0 {
				t.Errorf("drop requests %v, forced switches %v", s.drops, s.forced)
			}
		})
	}
}

// TestFixtures traces each fixture and checks what it is there to show,
// and that the report gives its VM twin's verdict.
func TestFixtures(t *testing.T) {
	tests := []struct {
		script  string
		verdict string // the VM twin's, among the report's verdicts in one of three runs ("" if none)
		check   func(t *testing.T, tr *tracer.Trace, s *stats)
	}{
		{"countdown.py", "gil-bound", func(t *testing.T, tr *tracer.Trace, s *stats) {}},
		{"image_processing.py", "gil-bound", func(t *testing.T, tr *tracer.Trace, s *stats) {
			for i := range 4 {
				if n := "worker-" + string(rune('0'+i)); s.gilWaits[n] < 2 {
					t.Errorf("%s: %d GIL waits", n, s.gilWaits[n])
				}
			}
		}},
		{"web_scraping.py", "scales", func(t *testing.T, tr *tracer.Trace, s *stats) {
			// Its site is a child process (a remote site's stand-in):
			// the fetches are network I/O, not waits on the program's
			// own connections, and the child is traced too.
			if s.io["scraper-0"]["network"] == 0 || s.io["scraper-0"][ioOwn] != 0 {
				t.Errorf("scraper-0 I/O %v, want network, no %s", s.io["scraper-0"], ioOwn)
			}
			if len(tr.Procs) != 2 {
				t.Errorf("%d processes, want the program and its site", len(tr.Procs))
			}
		}},
		{"file_reading.py", "", func(t *testing.T, tr *tracer.Trace, s *stats) {
			if s.io["reader-0"]["disk"] == 0 {
				t.Errorf("reader-0 I/O %v, want disk", s.io["reader-0"])
			}
		}},
		{"hashlib_large.py", "scales", func(t *testing.T, tr *tracer.Trace, s *stats) {
			if s.native["loader-0"] == 0 {
				t.Errorf("loader-0: no GIL-releasing native call (native %v, io %v)", s.native, s.io["loader-0"])
			}
		}},
		{"c_extension_holding_gil.py", "gil-held-in-native", func(t *testing.T, tr *tracer.Trace, s *stats) {
			if s.nativeHolding["extension"] == 0 || s.gilWaits["heartbeat"] == 0 {
				t.Errorf("native holding the GIL %v, heartbeat GIL waits %d", s.nativeHolding, s.gilWaits["heartbeat"])
			}
		}},
		{"lock_contention.py", "lock-bound", func(t *testing.T, tr *tracer.Trace, s *stats) {
			// One lock (the cache lock) is waited for by the workers, as one
			// lock: by 3 of the 4 at least (a clean-clone CI run on a
			// loaded machine: worker-0 never found it held).
			for l, by := range s.lockWaitsBy {
				if len(by) >= 3 && strings.HasPrefix(tr.Locks[l].Name, "lock 0x") {
					return
				}
			}
			t.Errorf("no lock waited for by 3 of the 4 workers: %v", s.lockWaitsBy)
		}},
		{"convoy.py", "convoy", func(t *testing.T, tr *tracer.Trace, s *stats) {
			if s.io["io"]["sleep"] != 100 || s.gilWaits["io"] < 20 {
				t.Errorf("io thread: I/O %v, %d GIL waits", s.io["io"], s.gilWaits["io"])
			}
		}},
		{"multiprocessing_pool.py", "", func(t *testing.T, tr *tracer.Trace, s *stats) {
			if len(tr.Procs) < 3 {
				t.Errorf("%d processes, want the parent and 2 workers", len(tr.Procs))
			}
			for _, p := range tr.Procs {
				if p.GIL == tracer.NoLock {
					t.Errorf("process %s has no GIL", p.Name)
				}
			}
		}},
	}
	for _, tc := range tests {
		t.Run(strings.TrimSuffix(tc.script, ".py"), func(t *testing.T) {
			tr := recordFixture(t, pyenv(defaultPython), tc.script)
			tc.check(t, tr, count(tr))
			if tc.verdict == "" || testing.Short() {
				return
			}
			// The report's verdict, tolerant of a busy machine: one of
			// three runs must give the twin's (among others: a real
			// program's main thread waits in Thread.join, which the
			// report counts as lock wait), or say it is near its
			// boundary: in CI, beside the other packages' tests,
			// image_processing's file reads took a quarter of its workers'
			// wall (a tenth alone), and its without-GIL gain was 1.13
			// against gil-bound's 1.25, "near the boundary, not given".
			var got []string
			for run := range 3 {
				if run > 0 {
					tr = recordFixture(t, pyenv(defaultPython), tc.script)
				}
				codes := verdicts(t, tr)
				if strings.Contains(codes, tc.verdict) {
					return
				}
				got = append(got, codes)
				if run == 0 { // what the report said, for a failure's log
					t.Logf("run 1 gave verdicts %q; its report:\n%s", codes, reportText(t, tr))
				}
			}
			t.Errorf("verdicts %q, want %s in one of three runs", got, tc.verdict)
		})
	}
}

func TestErrors(t *testing.T) {
	needTracing(t, "")
	tests := []struct {
		name string
		src  *Source
		is   error
		want string
	}{
		{"stripped", Command([]string{"/usr/bin/python3.11", "-c", "pass"}, Options{}), ErrNoSymbols, "take_gil"},
		{"not CPython", Command([]string{"/bin/true"}, Options{}), ErrNotCPython, "/bin/true"},
		{"no such PID", Attach(1<<22+12345, time.Second, Options{}), nil, "no such process"},
		{"not a Python PID", Attach(sleeper(t), time.Second, Options{}), ErrNotCPython, "/sleep"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "stripped" {
				if _, err := os.Stat("/usr/bin/python3.11"); err != nil {
					t.Skip("no /usr/bin/python3.11")
				}
				// Its debug file, if installed, is not looked for: with
				// it, the program is traced instead (TestInlinedProbed).
				old := debugRoot
				debugRoot = t.TempDir()
				defer func() { debugRoot = old }()
			}
			tr, err := record(t, context.Background(), tc.src)
			if err == nil || tr != nil {
				t.Fatalf("trace %v, error %v; want an error", tr, err)
			}
			if tc.is != nil && !errors.Is(err, tc.is) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want %v containing %q", err, tc.is, tc.want)
			}
		})
	}
}

// sleeper starts a process that is not Python and returns its pid.
func sleeper(t *testing.T) int {
	cmd := exec.Command("sleep", "10")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd.Process.Pid
}

// TestInterrupt cancels the recording of a long program: the trace is
// valid and marked interrupted, the program stopped, the probes removed.
// TestSignalAfterExit: a stop (a signal to giltrace) that comes once the
// program has exited, leaving nothing to trace, stops nothing: the run is
// complete, not interrupted (QA: a signal right after the program's exit
// made the run "interrupted", its program "stopped with SIGINT").
func TestSignalAfterExit(t *testing.T) {
	py := pyenv(defaultPython)
	needTracing(t, py)
	script := filepath.Join(t.TempDir(), "quick.py")
	os.WriteFile(script, []byte("import threading\nt = threading.Thread(target=sum, args=(range(1000),))\nt.start(); t.join()\n"), 0o644)
	for i := range 2 {
		ctx, cancel := context.WithCancel(context.Background())
		// The stop comes after the exit, and is seen first.
		afterProgramExit = func() { cancel(); time.Sleep(50 * time.Millisecond) }
		tr, err := record(t, ctx, Command([]string{py, script}, Options{}))
		afterProgramExit = nil
		cancel()
		if err != nil || tr == nil {
			t.Fatalf("run %d: trace %v, error %v; want a complete run", i, tr != nil, err)
		}
		if x := tr.Meta.Extra; x["interrupted"] != "" || x["stopped"] != "" || x["exit_status"] != "0" {
			t.Fatalf("run %d: meta %v: want a complete run that exited 0", i, x)
		}
	}
}

func TestInterrupt(t *testing.T) {
	py := pyenv(defaultPython)
	needTracing(t, py)
	needSIGINT(t)
	script := filepath.Join(t.TempDir(), "forever.py")
	os.WriteFile(script, []byte("import threading, time\ndef spin():\n    while True: pass\n"+
		"threading.Thread(target=spin, daemon=True).start()\ntime.sleep(0.2)\nprint('ready', flush=True)\nspin()\n"), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancel once the program says both threads run, plus a little.
	src := Command([]string{py, script}, Options{Stdout: writerFunc(func(b []byte) {
		if strings.Contains(string(b), "ready") {
			time.AfterFunc(200*time.Millisecond, cancel)
		}
	})})
	tr, err := record(t, ctx, src)
	if !errors.Is(err, tracer.ErrInterrupted) || tr == nil {
		t.Fatalf("trace %v, error %v; want ErrInterrupted", tr != nil, err)
	}
	if tr.Meta.Extra["interrupted"] != "true" || len(tr.Threads) < 2 {
		t.Errorf("extra %v, threads %q", tr.Meta.Extra, threadNames(tr))
	}
	if src.ExitCode() == 0 {
		t.Errorf("exit code 0 after an interrupt")
	}
	if x := tr.Meta.Extra; x["stopped"] != "interrupted" || x["exit_status"] != strconv.Itoa(src.ExitCode()) || x["stop_grace"] != DefaultStopGrace.String() {
		t.Errorf("stopped %q, exit status %q (exit code %d), grace %q; want interrupted, the exit code, %v", x["stopped"], x["exit_status"], src.ExitCode(), x["stop_grace"], DefaultStopGrace)
	}
}

// stopping runs a thread spinning until the main thread's cleanup (a
// finally block of 1.5 s) tells it to end; with "ignore" SIGINT is
// ignored, so that Ctrl-C does not stop it.
const stopping = `import signal, sys, threading, time
if sys.argv[1] == "ignore":
    signal.signal(signal.SIGINT, signal.SIG_IGN)
done = threading.Event()
def spin():
    n = 0
    while not done.is_set():
        n += 1
t = threading.Thread(target=spin, name="spinner")
t.start()
print("ready", flush=True)
try:
    while True:
        time.sleep(0.05)
finally:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # took it: ignored from now on
    time.sleep(1.5)
    done.set()
    t.join()
    print("cleaned", flush=True)
`

// TestStopGrace: a stopped recording lets the program shut down: it gets
// SIGINT and is traced until it exits, its cleanup included (a finally
// block of 1.5 s: the program was killed after 1 s before); one that does
// not exit within StopGrace is killed, and the trace says which.
func TestStopGrace(t *testing.T) {
	py := pyenv(defaultPython)
	needTracing(t, py)
	needSIGINT(t)
	script := filepath.Join(t.TempDir(), "stopping.py")
	if err := os.WriteFile(script, []byte(stopping), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, mode string
		grace      time.Duration
		killNow    bool // a second signal: killed at once
		stopped    string
		cleaned    bool
	}{
		{"exit", "exit", 0, false, "interrupted", true},
		// The program had its SIGINT from the terminal (Interrupted): no
		// second one from giltrace, which would cut its cleanup short.
		// Here nobody sends it one: it runs on until killed.
		{"interrupted-already", "exit", 500 * time.Millisecond, false, "killed", false},
		{"ignore", "ignore", 500 * time.Millisecond, false, "killed", false},
		{"second-signal", "ignore", time.Minute, true, "killed", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var killNow chan struct{}
			if c.killNow {
				killNow = make(chan struct{})
				context.AfterFunc(ctx, func() { time.AfterFunc(300*time.Millisecond, func() { close(killNow) }) })
			}
			var mu sync.Mutex
			var out strings.Builder
			var stoppedAt time.Time
			var interrupted func() bool
			if c.name == "interrupted-already" {
				interrupted = func() bool { return true }
			}
			src := Command([]string{py, script, c.mode}, Options{StopGrace: c.grace, KillNow: killNow, Interrupted: interrupted, Stdout: writerFunc(func(b []byte) {
				mu.Lock()
				defer mu.Unlock()
				out.Write(b)
				if strings.Contains(string(b), "ready") {
					time.AfterFunc(300*time.Millisecond, func() {
						mu.Lock()
						stoppedAt = time.Now()
						mu.Unlock()
						cancel()
					})
				}
			})})
			tr, err := record(t, ctx, src)
			if !errors.Is(err, tracer.ErrInterrupted) || tr == nil {
				t.Fatalf("trace %v, error %v; want ErrInterrupted", tr != nil, err)
			}
			mu.Lock()
			took, printed := time.Since(stoppedAt), out.String()
			mu.Unlock()
			if got := strings.Contains(printed, "cleaned"); got != c.cleaned {
				t.Errorf("the program's cleanup ran: %v, want %v (it printed %q)", got, c.cleaned, printed)
			}
			if x := tr.Meta.Extra; x["stopped"] != c.stopped {
				t.Errorf("stopped %q, want %q (extra %v)", x["stopped"], c.stopped, x)
			}
			// Said when the program ignores the SIGINT it is sent (the
			// one interrupted already is sent none); not when it took it,
			// then ignored SIGINT in its cleanup (review: read after the
			// signal, it was said to ignore it in 2 of 7 runs).
			if got, want := tr.Meta.Extra["sigint_ignored"] == "true", c.mode == "ignore"; got != want {
				t.Errorf("sigint_ignored %q, want it %v", tr.Meta.Extra["sigint_ignored"], want)
			}
			if c.stopped == "killed" {
				if tr.Meta.Extra["exit_signal"] != "SIGKILL" {
					t.Errorf("exit signal %q, want SIGKILL", tr.Meta.Extra["exit_signal"])
				}
				switch {
				case c.killNow && took > 30*time.Second:
					t.Errorf("killed %v after the stop, want soon after the second signal", took)
				case !c.killNow && took < c.grace:
					t.Errorf("killed %v after the stop, want at least the grace of %v", took, c.grace)
				}
				if tr.Meta.Extra["killed_after"] == "" {
					t.Errorf("no killed_after in %v", tr.Meta.Extra)
				}
				return
			}
			// The cleanup is in the trace: the spinner ran on until the
			// finally block ended it, 1.5 s after the stop.
			end := int64(0)
			for _, e := range tr.Events {
				if tr.Threads[e.Thread].Name == "spinner" {
					end = max(end, e.Time)
				}
			}
			if last := time.Duration(tr.Duration() - end); time.Duration(tr.Duration()) < 1500*time.Millisecond || last > time.Second {
				t.Errorf("trace of %v, the spinner's last event %v before its end: want the 1.5 s cleanup traced", time.Duration(tr.Duration()), last)
			}
		})
	}
}

type writerFunc func([]byte)

func (f writerFunc) Write(b []byte) (int, error) { f(b); return len(b), nil }

// TestAttach attaches to a running program for a while: its threads get a
// synthesised start and end, the trace is valid, and it ends when the
// duration did, with nothing mended: the probes' hits while they are being
// disabled, one after another, made 15-18 repairs and GIL waits of up to
// 118 ms that never happened at the end of this trace before.
func TestAttach(t *testing.T) {
	// The attach's set-up (reading the interpreter, defining and
	// enabling the probes) takes so long under -race that the program
	// has under 0.2 s of its run left to trace, all of it after its
	// threads stopped competing (three runs, before and after this
	// test's last change alike).
	skipUnderRace(t, "the attach's set-up outlasts the traced program's competing threads")
	py := pyenv(defaultPython)
	needTracing(t, py)
	script := filepath.Join(t.TempDir(), "busy.py")
	os.WriteFile(script, []byte("import threading, time\ndef spin(n):\n    while n: n -= 1\n"+
		"ts = [threading.Thread(target=spin, args=(300_000_000,), name=f'spin-{i}') for i in range(2)]\n"+
		"[t.start() for t in ts]; [t.join() for t in ts]\n"), 0o644)
	// On one CPU of the machine's (taskset execs the program, same PID):
	// the trace's cores are the process's, not giltrace's.
	cmd, pinned := exec.Command(py, script), false
	if ts, err := exec.LookPath("taskset"); err == nil && runtime.NumCPU() > 1 {
		cmd, pinned = exec.Command(ts, "-c", "0", py, script), true
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	time.Sleep(300 * time.Millisecond)
	tr, err := record(t, context.Background(), Attach(cmd.Process.Pid, 600*time.Millisecond, Options{}))
	if err != nil {
		t.Fatal(err)
	}
	s := count(tr)
	if s.gilWaits["spin-0"]+s.gilWaits["spin-1"] == 0 {
		t.Errorf("threads %q, GIL waits %v", threadNames(tr), s.gilWaits)
	}
	if tr.Meta.Workload != "busy" || tr.Meta.Extra["pid"] == "" {
		t.Errorf("meta %+v", tr.Meta)
	}
	if pinned && tr.Meta.Cores != 1 {
		t.Errorf("cores %d, want 1: the CPUs of the process attached to (taskset -c 0), not giltrace's %d", tr.Meta.Cores, runtime.NumCPU())
	}
	if n := tr.Meta.Extra["repairs"]; n != "" {
		t.Errorf("%s inconsistencies mended in a run cut off by its duration", n)
	}
	// The CPU time the process obtained while attached, for the
	// busy-machine check: two spinning threads had some of it, and, taking
	// turns under the GIL, about one core's in the trace's wall, with
	// room for the probes' traps and /proc's 10 ms ticks (QA: read after
	// the draining, a 300 ms attach counted 1.35 s).
	cpu, err := strconv.ParseInt(tr.Meta.Extra["cpu_ns"], 10, 64)
	if limit := tr.Duration()*3/2 + 3*int64(10*time.Millisecond); err != nil || cpu <= 0 || cpu > limit {
		t.Errorf("cpu_ns %q (%v): want some CPU time, at most %d ns", tr.Meta.Extra["cpu_ns"], err, limit)
	}
}

// TestAttachDurationBusyPool: an attach with a duration to a program
// whose pool of processes floods the probes ends at its duration: its
// trace no longer, and the attach back long before the program ends (QA:
// a 2 s attach to a multiprocessing.Pool handled the hits that kept coming
// for 20 s, its trace 11 s long, and returned when the program exited;
// here, before the change, after 70 s for a program of 60 s).
func TestAttachDurationBusyPool(t *testing.T) {
	if os.Getenv("GILTRACE_LONG") == "" {
		// Half a minute of 8 processes on every core: it would disturb
		// the live tests beside it in the default run.
		t.Skip("a long check: GILTRACE_LONG=1 go test ./source/cpython -run TestAttachDurationBusyPool")
	}
	skipUnderRace(t, "the attach's set-up and the pool's flood of hits outlast the test's bounds under -race")
	py := pyenv("3.13.0")
	needTracing(t, py)
	script := filepath.Join(t.TempDir(), "pool.py")
	os.WriteFile(script, []byte("import multiprocessing as mp, time\n"+
		"def f(x):\n    s = 0\n    for i in range(2000): s += i\n    return s\n"+
		"if __name__ == '__main__':\n    end = time.time() + 120\n"+
		"    with mp.Pool(8) as p:\n        while time.time() < end:\n            p.map(f, range(2000), chunksize=1)\n"), 0o644)
	cmd := exec.Command(py, script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // the program and its pool, its own group
		cmd.Wait()
	}()
	time.Sleep(time.Second)
	start := time.Now()
	tr, err := record(t, context.Background(), Attach(cmd.Process.Pid, 2*time.Second, Options{}))
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Duration(tr.Duration()); d > 2*time.Second+time.Millisecond {
		t.Errorf("a 2 s attach made a trace of %v", d)
	}
	// Bounded by the hits of those 2 s that the buffers held (giltrace
	// handles them more slowly than such a pool makes them), not by the
	// program's 120 s.
	if took := time.Since(start); took > 60*time.Second {
		t.Errorf("a 2 s attach took %v", took)
	}
}

// TestAttachExitedDuringSetUp: a process that exits while the attach
// sets up its probes is said to have exited, and nothing is recorded. QA:
// its task list was empty, and writing it cleared the pid filter, so the
// attach recorded every other CPython process of the machine (another
// user's detached program among them) as the process's "children", and
// exited 0. A bystander competing for its GIL runs meanwhile.
func TestAttachExitedDuringSetUp(t *testing.T) {
	py := pyenv(defaultPython)
	needTracing(t, py)
	script := filepath.Join(t.TempDir(), "bystander.py")
	os.WriteFile(script, []byte("import threading\ndef spin(n):\n    while n: n -= 1\n"+
		"ts = [threading.Thread(target=spin, args=(100_000_000,)) for i in range(2)]\n"+
		"[t.start() for t in ts]; [t.join() for t in ts]\n"), 0o644)
	bystander := exec.Command(py, script)
	if err := bystander.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { bystander.Process.Kill(); bystander.Wait() }()
	target := exec.Command(py, "-c", "import time; time.sleep(60)")
	if err := target.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { target.Process.Kill(); target.Wait() }()
	time.Sleep(200 * time.Millisecond)
	beforeLaunch = func() { target.Process.Kill(); target.Wait() }
	defer func() { beforeLaunch = nil }()
	tr, err := record(t, context.Background(), Attach(target.Process.Pid, time.Second, Options{}))
	if err == nil || !strings.Contains(err.Error(), "exited while the probes were set up") {
		t.Fatalf("err %v; want the process's exit named", err)
	}
	if tr != nil && len(tr.Events) > 0 {
		t.Errorf("%d events recorded (threads %q): want none", len(tr.Events), threadNames(tr))
	}
}

// TestPassThrough checks the program's stdin, stdout and exit status.
func TestPassThrough(t *testing.T) {
	py := pyenv("3.12.1")
	needTracing(t, py)
	var out bytes.Buffer
	// The program burns 0.2 s of CPU after its line: its CPU time, which
	// the busy-machine check weighs, is recorded.
	src := Command([]string{py, "-c", "import sys, time; print(sys.stdin.readline().upper(), end=''); t = time.process_time()\nwhile time.process_time() - t < 0.2: pass\nsys.exit(3)"},
		Options{Stdin: strings.NewReader("hello\n"), Stdout: &out})
	tr, err := record(t, context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if out.String() != "HELLO\n" || src.ExitCode() != 3 {
		t.Errorf("stdout %q, exit %d; want HELLO, 3", out.String(), src.ExitCode())
	}
	if cpu, err := strconv.ParseInt(tr.Meta.Extra["cpu_ns"], 10, 64); err != nil || cpu < 200e6 || cpu > 10e9 {
		t.Errorf("cpu_ns %q (%v): want the program's CPU time, at least its 0.2 s loop", tr.Meta.Extra["cpu_ns"], err)
	}
}

// TestCloseLater: with Options.CloseLater, Record returns with the trace
// complete and Close waits for the probes' removal; Close on a Source
// without it, or before a recording, returns at once.
func TestCloseLater(t *testing.T) {
	py := pyenv("3.12.1")
	needTracing(t, py)
	Command([]string{py}, Options{}).Close()
	src := Command([]string{py, "-c", "import threading; threading.Thread(target=sum, args=(range(100000),)).start()"}, Options{CloseLater: true})
	src.Close()
	tr, err := tracer.Record(context.Background(), src, tracer.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if verr := tr.CheckValid(); verr != nil || len(tr.Events) == 0 {
		t.Fatalf("trace: %d events, %v", len(tr.Events), verr)
	}
	src.Close()
	noProbesLeft(t)
	src.Close()
}

// TestStaleCleanup leaves a group as a killed run would (and an instance,
// as a killed giltrace of before 2026-12-02 would) and checks that the
// next run removes them.
func TestStaleCleanup(t *testing.T) {
	in := pyenvInterp(t, defaultPython)
	needTracing(t, "")
	dead := exec.Command("true")
	dead.Run() // its pid no longer exists
	s := &session{group: groupPrefix + itoa(dead.Process.Pid), path: in.Path, filter: map[string]string{}}
	instance := filepath.Join(tracefsRoot, "instances", s.group)
	probes, _, err := buildProbes(in, 16, false, true)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.open(probes[:2]); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(instance, 0o755); err != nil {
		t.Fatal(err)
	}
	removed, err := cleanupStale()
	if err != nil {
		t.Fatal(err)
	}
	// Named, for the note the next recording prints (QA: removed silently).
	if !slices.Contains(removed, itoa(dead.Process.Pid)) {
		t.Errorf("removed %q, want the dead recorder's pid %d", removed, dead.Process.Pid)
	}
	if ev, _ := probeEvents(); strings.Contains(strings.Join(ev, "\n"), s.group+"/") {
		t.Errorf("stale uprobes left: %v", ev)
	}
	if _, err := os.Stat(instance); err == nil {
		t.Errorf("stale instance %s left", instance)
	}
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

var buildOnce struct {
	sync.Once
	path string
	err  error
}

// giltraceBinary builds cmd/giltrace once for the tests that read its
// report.
func giltraceBinary(t *testing.T) string {
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "giltrace-test")
		if err != nil {
			buildOnce.err = err
			return
		}
		buildOnce.path = filepath.Join(dir, "giltrace")
		out, err := exec.Command("go", "build", "-o", buildOnce.path, "../../cmd/giltrace").CombinedOutput()
		if err != nil {
			buildOnce.err = fmt.Errorf("%v: %s", err, out)
		}
	})
	if buildOnce.err != nil {
		t.Fatalf("building giltrace: %v", buildOnce.err)
	}
	return buildOnce.path
}

// verdicts returns the verdict codes of `giltrace report --json` on tr.
func verdicts(t *testing.T, tr *tracer.Trace) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "run.giltrace")
	if err := tracer.WriteFile(file, tr); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(giltraceBinary(t), "report", "--json", file).Output()
	if err != nil {
		t.Fatalf("giltrace report: %v", err)
	}
	var r struct {
		Verdicts     []struct{ Code string }
		NearBoundary []struct {
			Code string `json:"code"`
		} `json:"near_boundary"`
	}
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("report JSON: %v", err)
	}
	var codes []string
	for _, v := range r.Verdicts {
		codes = append(codes, v.Code)
	}
	for _, v := range r.NearBoundary {
		codes = append(codes, "near:"+v.Code)
	}
	return strings.Join(codes, ",")
}

// reportText is giltrace report's text of tr, its first 60 lines.
func reportText(t *testing.T, tr *tracer.Trace) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "run.giltrace")
	if err := tracer.WriteFile(file, tr); err != nil {
		return err.Error()
	}
	out, err := exec.Command(giltraceBinary(t), "report", file).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("giltrace report: %v\n%s", err, out)
	}
	lines := strings.Split(string(out), "\n")
	return strings.Join(lines[:min(len(lines), 60)], "\n")
}

// TestCrash records a program that aborts: the trace of what ran is
// valid and the exit status says it was killed.
func TestCrash(t *testing.T) {
	py := pyenv("3.10.13")
	needTracing(t, py)
	src := Command([]string{py, "-c", "import os, threading, time\n" +
		"threading.Thread(target=time.sleep, args=(5,), name='sleeper').start()\ntime.sleep(0.1)\nos.abort()"}, Options{})
	tr, err := record(t, context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	if src.ExitCode() != 128+6 || tr.Meta.Extra["exit_signal"] != "SIGABRT" || len(tr.Threads) != 2 {
		t.Errorf("exit %d (%q), threads %q; want 134 (128 + SIGABRT) and 2 threads", src.ExitCode(), tr.Meta.Extra["exit_signal"], threadNames(tr))
	}
}

// TestDeepStack records a recursion 40 frames deep under every version:
// stacks stop at the maximum depth with the "...more frames" marker, the
// top frame is the innermost call with its line, the callers (read from
// memory while the thread sleeps 1 s: 0.3 s was not always enough for the
// reader under -race on a loaded 2-core machine) are the recursion's.
func TestDeepStack(t *testing.T) {
	for _, v := range pyenvVersions {
		t.Run(v, func(t *testing.T) {
			py := pyenv(v)
			needTracing(t, py)
			script := filepath.Join(t.TempDir(), "deep.py")
			os.WriteFile(script, []byte("import time\ndef down(n):\n    if n == 0:\n        time.sleep(1)\n        return\n"+
				"    down(n - 1)\ndown(40)\n"), 0o644)
			tr, err := record(t, context.Background(), Command([]string{py, script}, Options{MaxDepth: 20, StackWindow: true}))
			if err != nil {
				t.Fatal(err)
			}
			sleeps := 0
			for _, e := range tr.Events {
				fs := tr.StackFrames(e.Stack)
				if e.Kind != tracer.KindIOBegin || tr.Str(e.IOKind()) != "sleep" {
					continue
				}
				sleeps++
				if len(fs) != 20 || fs[0].Func != "down" || fs[0].Line != 4 || fs[19] != moreFrames || fs[18].Func != "down" || fs[18].Line != 6 {
					t.Fatalf("stack of a sleep: %d frames %+v", len(fs), fs)
				}
			}
			if sleeps != 1 {
				t.Errorf("%d sleeps recorded, want 1", sleeps)
			}
			if v != "3.9.18" && v != "3.10.13" && tr.Meta.Extra["callers_from_window"] == "" {
				t.Errorf("3.11+: no caller read from the data-stack window (extra %v)", tr.Meta.Extra)
			}
		})
	}
}

// probeEvents lists the uprobe events whose group starts with giltrace_:
// used by tests to check that nothing is left behind.
func probeEvents() ([]string, error) {
	b, err := os.ReadFile(filepath.Join(tracefsRoot, "uprobe_events"))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, ":"+groupPrefix) {
			out = append(out, line)
		}
	}
	return out, nil
}

// lockHoldsScript holds a lock without contention around a sleep (another
// thread takes it later), then waits on a Condition that another thread
// notifies: the waiter lock is taken by the waiter and released by the
// notifier.
const lockHoldsScript = `import threading, time
lock = threading.Lock()
def held():
    with lock:
        time.sleep(0.05)
held()
cond = threading.Condition()
ready = []
def notifier():
    with lock:  # a second holder: a lock one thread only held is left out
        pass
    time.sleep(0.05)
    with cond:
        ready.append(1)
        cond.notify()
t = threading.Thread(target=notifier)
t.start()
with cond:
    while not ready:
        cond.wait()
t.join()
`

// TestLockHolds records, with Options.LockHolds, an uncontended
// `with lock:` around a sleep: the trace shows the main thread holding a
// guest lock across the sleep, and a Condition's waiter lock released by
// another thread leaves the trace valid.
func TestLockHolds(t *testing.T) {
	for _, v := range pyenvVersions {
		t.Run(v, func(t *testing.T) {
			py := pyenv(v)
			needTracing(t, py)
			script := filepath.Join(t.TempDir(), "holds.py")
			os.WriteFile(script, []byte(lockHoldsScript), 0o644)
			var out bytes.Buffer
			src := Command([]string{py, script}, Options{LockHolds: true, Stdout: &out, Stderr: &out})
			tr, err := record(t, context.Background(), src)
			if err != nil || src.ExitCode() != 0 {
				t.Fatalf("recording: %v (exit %d)\n%s", err, src.ExitCode(), out.String())
			}
			if tr.Meta.Extra["lock_holds"] != "observed" {
				t.Errorf("extra %v, want lock_holds=observed", tr.Meta.Extra)
			}
			s := tracer.Derive(tr)
			var sleep *tracer.StateSpan
			for i, sp := range s.States {
				if tr.Threads[sp.Thread].Name == "MainThread" && sp.State == tracer.StateIO && tr.Str(sp.IOKind()) == "sleep" {
					sleep = &s.States[i]
					break
				}
			}
			if sleep == nil {
				t.Fatal("no sleep in MainThread")
			}
			for _, h := range s.Holds {
				if h.Thread == sleep.Thread && !tr.Locks[h.Lock].GIL && h.How == tracer.AcquireUncontended &&
					h.Start < sleep.Start && sleep.End < h.End && h.Why == tracer.ReleaseUnlock {
					return
				}
			}
			t.Errorf("no uncontended hold of a guest lock around the sleep at %d-%d ns (%d holds)", sleep.Start, sleep.End, len(s.Holds))
		})
	}
}

// TestNativeHoldingLine: a C call that keeps the GIL long after a drop
// request (b'x' * N on line 4) is shown on its own line, read from the
// holder's stack during the hold, on every version. From the stack at the
// release, 3.11+ named the line after it (line 5's time.sleep, which
// releases the GIL), and the gil-held-in-native verdict sent the user
// there.
func TestNativeHoldingLine(t *testing.T) {
	src := "import threading, time\ndef alloc():\n    time.sleep(0.02)\n" +
		"    s = b'x' * 300_000_000\n    time.sleep(0.02)\n" +
		"def spin():\n    n = 0\n    for i in range(2_000_000): n += i\n" +
		"a = threading.Thread(target=alloc, name='alloc'); b = threading.Thread(target=spin, name='spin')\n" +
		"b.start(); a.start(); a.join(); b.join()\n"
	eachVersion(t, "alloc.py", src, []string{"3.9.18", "3.12.1", "3.13.0"}, Options{}, func(t *testing.T, tr *tracer.Trace) {
		var lines []int
		read := false // a stack at line 4 was read during the hold
		for _, e := range tr.Events {
			if tr.Threads[e.Thread].Name != "alloc" {
				continue
			}
			fs := tr.StackFrames(e.Stack)
			if len(fs) > 0 && fs[0].Func == "alloc" && fs[0].Line == 4 {
				read = true
			}
			if e.Kind == tracer.KindNativeBegin && !e.ReleasesGIL() && len(fs) > 0 {
				lines = append(lines, fs[0].Line)
			}
		}
		if len(lines) == 0 {
			t.Skip("no C call keeping the GIL inferred in this run (the spinner never waited long for it)")
		}
		if lines[0] != 4 && !read {
			t.Skipf("lines %v: the recorder read no stack during the hold (its reading goroutine was late: a busy machine; %s stacks read in all)", lines, tr.Meta.Extra["held_samples"])
		}
		if lines[0] != 4 {
			t.Errorf("alloc's C call keeping the GIL shown at lines %v, want 4 (b'x' * N), not 5 (the time.sleep after it)", lines)
		}
	})
}

// eachVersion writes a Python program named name with src and records it
// under each version in vs with o, handing each trace to check.
func eachVersion(t *testing.T, name, src string, vs []string, o Options, check func(t *testing.T, tr *tracer.Trace)) {
	script := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(script, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		t.Run(v, func(t *testing.T) {
			py := pyenv(v)
			needTracing(t, py)
			tr, err := record(t, context.Background(), Command([]string{py, script}, o))
			if err != nil {
				t.Fatal(err)
			}
			check(t, tr)
		})
	}
}

// TestSampledHold: a thread that holds the GIL alone for long (no other
// thread asks for it) is charged where it ran, from its stack read during
// the hold, not to where it next released the GIL: a single thread's
// 300 ms loop followed by an os.stat went wholly to the os.stat's line
// before (and, ending the program instead, to no frame at all).
func TestSampledHold(t *testing.T) {
	src := "import os, time\ndef spin():\n    x, end = 0, time.perf_counter() + 0.3\n" +
		"    while time.perf_counter() < end:\n        x += 1\n" +
		"def stat_it():\n    os.stat('/')\nspin()\nstat_it()\n"
	eachVersion(t, "single.py", src, []string{"3.9.18", "3.12.1", "3.13.0"}, Options{}, func(t *testing.T, tr *tracer.Trace) {
		s := tracer.Derive(tr)
		by := map[string]int64{}
		var all int64
		for _, sp := range s.States {
			if sp.State != tracer.StateRunning {
				continue
			}
			fn := "-"
			if fs := tr.StackFrames(sp.Stack); len(fs) > 0 {
				fn = fs[0].Func
			}
			by[fn] += sp.End - sp.Start
			all += sp.End - sp.Start
		}
		if tr.Meta.Extra["held_samples"] == "" {
			t.Fatalf("running time by innermost function %v: the recorder read no stack during a hold of 300 ms", by)
		}
		// spin's 300 ms (a loop timed by the clock: as long on a loaded
		// machine), not a share of all the running time: the
		// interpreter's start-up in it took 155 ms once in a loaded full
		// run, and 300 ms beside two other test suites (CI, 2026-12-05,
		// spin at 49 % then). Without the readings spin had none, and
		// its time went to stat_it's line.
		if spin := time.Duration(by["spin"]); spin < 200*time.Millisecond || by["stat_it"] >= by["spin"] {
			t.Errorf("running time by innermost function %v (of %v): want spin to have its 300 ms loop, more than stat_it", by, time.Duration(all))
		}
	})
}

// TestShortHoldsSampled: holds of a few ms that end in a blocking call in
// another function run where the work ran, from a stack read during the
// hold (sampleAfter): two threads each loop over compute() (about 2 ms of
// Python) then wait_io() (a 2 ms sleep). QA: with reads only past a
// switch interval and 2 ms, the sleep's function had 0.45 s of running
// time and compute 0.10 s. Tolerant: a reading can come late on a busy
// machine, so compute needs half of the two functions' running time, not
// all of it. CI once gave compute 36 %, when the readings came every
// 1.1 ms (a time.Ticker's pace) and a thread holding the GIL again was
// taken for the same hold; with readings every 0.5 ms and the GIL's
// switch_number, 84-93 % here, 77-99 % beside the command's tests (the
// build before: 57-67 %, beside those tests 53-90 %).
func TestShortHoldsSampled(t *testing.T) {
	src := "import threading, time\n" +
		"def compute():\n    x, end = 0, time.perf_counter() + 0.002\n" +
		"    while time.perf_counter() < end:\n        x += 1\n" +
		"def wait_io():\n    time.sleep(0.002)\n" +
		"def work():\n    for _ in range(100):\n        compute()\n        wait_io()\n" +
		"ts = [threading.Thread(target=work) for _ in range(2)]\n" +
		"for t in ts: t.start()\nfor t in ts: t.join()\n"
	eachVersion(t, "short.py", src, []string{"3.11.7", "3.12.1"}, Options{}, func(t *testing.T, tr *tracer.Trace) {
		s := tracer.Derive(tr)
		by := map[string]int64{}
		for _, sp := range s.States {
			if sp.State != tracer.StateRunning {
				continue
			}
			for _, f := range tr.StackFrames(sp.Stack) {
				if f.Func == "compute" || f.Func == "wait_io" {
					by[f.Func] += sp.End - sp.Start
					break
				}
			}
		}
		if both := by["compute"] + by["wait_io"]; both == 0 || float64(by["compute"])/float64(both) < 0.5 {
			t.Errorf("running time (ns) under compute and under wait_io: %v: want compute to have most of it", by)
		}
		if testing.Verbose() {
			t.Logf("running time (ns) by function: %v", by)
		}
	})
}

// TestEventLoopReport: an asyncio program, 200 coroutines each sleeping
// 50 ms four times in one event loop, is reported as an event loop whose
// coroutines overlap, on every tested version's asyncio (its frames'
// file, asyncio/base_events.py, is how the report knows), also when, on a
// loaded machine, its start-up and imports take longer than its loop (CI:
// the loop was 43 % of the run, and the report said start-up only).
func TestEventLoopReport(t *testing.T) {
	// Under -race the recorder is several times slower, and the report
	// then found only 27 % of the run in the program's own code and named
	// start-up, not the loop (the loop's frames, asyncio/base_events.py,
	// missing from the stacks: most likely read from memory after the
	// coroutines moved on; not confirmed). It failed 1 of 2 times under
	// -race before the perf events, 2 of 2 after; it passes without.
	skipUnderRace(t, "the slowed recorder's stacks miss the event loop's frames")
	// The loop runs 0.5 s, well past the start-up's share: the verdict
	// names the loop from half of the work under it (EventLoopShare), and
	// with 0.2 s of loop a clean-clone CI run (other packages' tests
	// beside it) once gave 3.9's imports 293 ms against the loop's 228 ms
	// (2026-12-04).
	src := "import asyncio\nasync def one():\n    for _ in range(10):\n        await asyncio.sleep(0.05)\n" +
		"async def main():\n    await asyncio.gather(*(one() for _ in range(200)))\nasyncio.run(main())\n"
	eachVersion(t, "aio.py", src, []string{"3.9.18", "3.12.1", "3.13.0"}, Options{}, func(t *testing.T, tr *tracer.Trace) {
		txt := reportText(t, tr)
		if !strings.Contains(txt, "single-threaded: Only one thread ran: an asyncio event loop") {
			if strings.Contains(txt, "Warning: busy machine") {
				// As under -race: a loaded machine (another test binary, a
				// build) slows the recorder, whose stacks then miss the
				// loop's frames; 3 of 3 runs at a load average of 6.
				t.Skipf("the machine was busy (the report says so), and the stacks missed the event loop's frames:\n%s", txt)
			}
			t.Errorf("the report does not name the event loop:\n%s", txt)
		}
	})
}

// TestLockReuse: with --lock-holds, a lock freed (PyThread_free_lock) and
// another allocated at its address are two locks. The interpreter's
// start-up frees many short-lived locks, and a program's threading.Lock
// made at one of their addresses was shown with their holds: 54 holds,
// 30 by a MainThread that never took it, for 3 threads x 8 acquires.
func TestLockReuse(t *testing.T) {
	// tmp is freed just before lock is made: malloc gives lock its memory.
	src := "import threading, time\ntmp = threading.Lock()\n" +
		"for _ in range(3):\n    with tmp: pass\ndel tmp\nlock = threading.Lock()\n" +
		"def worker():\n    for _ in range(4):\n        with lock:\n            time.sleep(0.005)\n" +
		"ts = [threading.Thread(target=worker, name=f'w{i}') for i in range(3)]\n" +
		"for t in ts: t.start()\nfor t in ts: t.join()\n"
	eachVersion(t, "reuse.py", src, []string{"3.11.7", "3.13.0"}, Options{LockHolds: true}, func(t *testing.T, tr *tracer.Trace) {
		s := tracer.Derive(tr)
		// The program's lock: the one the workers waited for.
		waits := map[tracer.LockID]int{}
		for _, w := range s.Waits {
			if !tr.Locks[w.Lock].GIL && tr.Threads[w.Thread].Name != "MainThread" && !strings.Contains(tr.Locks[w.Lock].Name, "join") {
				waits[w.Lock]++
			}
		}
		var lock tracer.LockID = tracer.NoLock
		for l, n := range waits {
			if lock == tracer.NoLock || n > waits[lock] {
				lock = l
			}
		}
		if lock == tracer.NoLock {
			t.Fatal("the workers never waited for a guest lock")
		}
		holds := map[string]int{}
		for _, h := range s.Holds {
			if h.Lock == lock {
				holds[tr.Threads[h.Thread].Name]++
			}
		}
		// By thread, not by name: a worker's name may not be read.
		ok := len(holds) == 3 && holds["MainThread"] == 0
		for _, n := range holds {
			ok = ok && n == 4
		}
		if !ok {
			t.Errorf("%s held by %v, want 4 holds by each of the 3 workers and none by MainThread", tr.Locks[lock].Name, holds)
		}
	})
}

// TestShortThreadNames: 60 threads of about 10 ms each are never named
// after another. The name is read when the machine reads a thread's first
// release of the GIL, often after the thread has ended, from its thread
// state, which another thread may have reused: 3.12 and 3.13 runs named up
// to 18 of them after other threads ("short-52 #2"). A Thread object is
// taken only if its _native_id is the thread's ID; a thread not named so
// is "thread N" or named after its target. How many keep their names
// depends on when the hits are read: 0 to 60 of 60 (3.11 named 60 in
// every plain run, 0 once under the race detector), so only their
// correctness is checked here; TestCountdownVersions and TestFixtures
// check the names of threads that live longer.
//
// In another PID namespace (a container) _native_id is the ID there, and
// the check is skipped: the threads of a child in a new namespace keep
// their names (they lost them all with the check).
func TestShortThreadNames(t *testing.T) {
	for _, v := range pyenvVersions {
		t.Run(v, func(t *testing.T) {
			py := pyenv(v)
			needTracing(t, py)
			script := filepath.Join(t.TempDir(), "short.py")
			os.WriteFile(script, []byte("import threading, time\ndef w():\n    time.sleep(0.005); sum(range(2000)); time.sleep(0.005)\n"+
				"ts = [threading.Thread(target=w, name=f'short-{i}') for i in range(60)]\nfor t in ts: t.start()\nfor t in ts: t.join()\n"), 0o644)
			for round := range 1 {
				tr, err := record(t, context.Background(), Command([]string{py, script}, Options{}))
				if err != nil {
					t.Fatal(err)
				}
				named := 0
				for _, n := range threadNames(tr) {
					if strings.HasPrefix(n, "short-") {
						named++
						if strings.Contains(n, "#") {
							t.Errorf("round %d: %q: a thread named after another: %q", round, n, threadNames(tr))
						}
					}
				}
				t.Logf("round %d: %d of 60 named", round, named)
			}
		})
	}
}

// TestThreadNamesInPIDNamespace: the threads of a process in another PID
// namespace keep their Python names (3.12+: os.unshare).
func TestThreadNamesInPIDNamespace(t *testing.T) {
	// Names are read from the process's memory after the hits: under
	// -race too late for 3.12's two short workers (one or both
	// unnamed in three runs of three, before and after the
	// short-threads change alike).
	skipUnderRace(t, "the recorder reads the threads' names too late")
	for _, v := range []string{"3.12.1", "3.13.0"} {
		t.Run(v, func(t *testing.T) {
			py := pyenv(v)
			needTracing(t, py)
			script := filepath.Join(t.TempDir(), "ns.py")
			os.WriteFile(script, []byte(`import os, threading
os.unshare(os.CLONE_NEWPID)
pid = os.fork()
if pid == 0:
    def w():
        x = 0
        for i in range(3_000_000): x += i
    ts = [threading.Thread(target=w, name=f"ns-{i}") for i in range(2)]
    for t in ts: t.start()
    for t in ts: t.join()
    os._exit(0)
os.waitpid(pid, 0)
`), 0o644)
			tr, err := record(t, context.Background(), Command([]string{py, script}, Options{}))
			if err != nil {
				t.Fatal(err)
			}
			names := threadNames(tr)
			if !slices.Contains(names, "ns-0") || !slices.Contains(names, "ns-1") {
				t.Errorf("threads %q, want ns-0 and ns-1 among them", names)
			}
		})
	}
}

// lto.py: every kind of GIL release that Debian's link-time optimised
// python3.11 makes through an inlined copy (os.stat, a file's read), and
// through the functions' own entries (time.sleep, a lock wait, the GIL's
// drop requests between two CPU-bound threads).
const ltoProgram = `import os, threading, time
lock = threading.Lock()
def cpu(n):
    while n: n -= 1
def stat(n):
    for _ in range(n): os.stat("/")
def sleeper():
    for _ in range(20): time.sleep(0.001)
def locker():
    with lock: pass
def reader():
    for _ in range(200):
        with open("/proc/self/stat", "rb") as f: f.read()
lock.acquire()
ts = [threading.Thread(target=cpu, args=(2_000_000,), name="cpu1"), threading.Thread(target=cpu, args=(2_000_000,), name="cpu2"),
      threading.Thread(target=stat, args=(3000,), name="stat"), threading.Thread(target=sleeper, name="sleeper"),
      threading.Thread(target=locker, name="locker"), threading.Thread(target=reader, name="reader")]
for t in ts: t.start()
time.sleep(0.05)
lock.release()
for t in ts: t.join()
`

// TestRecordLTO records Debian's link-time optimised interpreters: its
// python3.11 (symbols in python3.11-dbg), whose inlined copies of
// drop_gil and PyEval_SaveThread are probed where they begin, and
// unstable's python3.14 (scripts/install-debian-python.sh), which has
// drop_gil only as a clone, drop_gil.constprop.0, and parks its lock
// waits in a clone of the parking lot whose timeout is in another
// register: every release is seen (no inconsistency mended), each
// blocking call is classified by the function that holds the copy, with
// the thread's Python stack. Before the copies were probed 3.11 was
// traced with 880 mended inconsistencies, then refused; before the clones
// were, 3.14 was refused (no drop_gil), and with the clone taken for the
// function its main thread's Thread.join was a blocking I/O call.
func TestRecordLTO(t *testing.T) {
	// Its releases go through inlined copies whose stacks and the
	// threads' names are read from memory after the hit: under -race
	// the recorder reads them too late (0 of 6 names, every I/O in
	// "?", before and after the short-threads change alike).
	skipUnderRace(t, "the recorder reads a link-time optimised build's stacks and names too late")
	script := filepath.Join(t.TempDir(), "lto.py")
	if err := os.WriteFile(script, []byte(ltoProgram), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("3.11", func(t *testing.T) {
		tr := recordLTO(t, debianPython(t), script)
		if !strings.Contains(tr.Meta.Extra["inlined_probes"], "drop_gil in os_stat") {
			t.Errorf("inlined_probes = %q", tr.Meta.Extra["inlined_probes"])
		}
	})
	for _, minor := range []int{14, 15} {
		t.Run(fmt.Sprintf("3.%d", minor), func(t *testing.T) {
			tr := recordLTO(t, debianUnstablePython(t, minor), script)
			// The clones probed, by their function's name: a rebuild of
			// Debian unstable's package may number them otherwise.
			// detach_thread's clone: 3.15 inlined _PyThreadState_Detach
			// everywhere, and 3.14 calls the clone directly too.
			want := []string{"drop_gil in os_stat", "drop_gil in drop_gil.", "_PyParkingLot_Park in _PyParkingLot_Park.", "detach_thread in detach_thread."}
			checkUnstableLTO(t, tr, want)
		})
	}
}

// checkUnstableLTO checks a recording of ltoProgram by Debian unstable's 3.14
// or 3.15: the clones probed (want among the inlined probes), and the
// main thread's join a lock wait.
func checkUnstableLTO(t *testing.T, tr *tracer.Trace, want []string) {
	t.Helper()
	for _, p := range want {
		if !strings.Contains(tr.Meta.Extra["inlined_probes"], p) {
			t.Errorf("inlined_probes = %q, want %q among them", tr.Meta.Extra["inlined_probes"], p)
		}
	}
	// The main thread's join of the last thread waits in the parking
	// lot's clone: a lock wait on the thread's handle, as on 3.13
	// (whose pthread_join after it, as here, is a short blocking
	// call), not a blocking call of unknown kind.
	join := false
	for _, e := range tr.Events {
		if e.Kind == tracer.KindLockWait && tr.Threads[e.Thread].Name == "MainThread" && strings.HasSuffix(tr.Locks[e.Lock()].Name, "(Thread.join)") {
			join = true
		}
	}
	if !join {
		t.Errorf("MainThread: no lock wait in Thread.join; lock waits %v, I/O %v", count(tr).lockWaits, count(tr).io["MainThread"])
	}
}

// testPython is the interpreter of a test's version v: pyenv's build of
// it ("3.13.0"), or Debian unstable's ("3.14 (Debian)").
func testPython(t *testing.T, v string) string {
	switch v {
	case "3.14 (Debian)":
		return debianUnstablePython(t, 14)
	case "3.15 (Debian)":
		return debianUnstablePython(t, 15)
	}
	return pyenv(v)
}

// debianUnstablePython is Debian unstable's python3.MINOR (14, 15) as
// scripts/install-debian-python.sh installs it, or skips (fails in CI:
// test.sh installs it).
func debianUnstablePython(t *testing.T, minor int) string {
	t.Helper()
	exe := fmt.Sprintf("/opt/giltrace-python/3.%d/usr/bin/python3.%d", minor, minor)
	if _, err := os.Stat(exe); err != nil {
		msg := fmt.Sprintf("no %s (scripts/install-debian-python.sh %d): %v", exe, minor, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return exe
}

// recordLTO records ltoProgram (script) under Debian's interpreter exe,
// and checks what every build must show.
func recordLTO(t *testing.T, exe, script string) *tracer.Trace {
	t.Helper()
	needTracing(t, exe)
	var out bytes.Buffer
	src := Command([]string{exe, script}, Options{Stdout: &out, Stderr: &out})
	tr, err := record(t, context.Background(), src)
	if err != nil || src.ExitCode() != 0 {
		t.Fatalf("recording: %v, exit %d\n%s", err, src.ExitCode(), out.String())
	}
	if r := tr.Meta.Extra["repairs"]; r != "" {
		t.Errorf("%s inconsistencies mended: a release or an acquire was missed", r)
	}
	// Threads are known by their Python functions: a name is read after
	// the fact and may be lost when the recorder runs late (-race).
	roles := []string{"cpu", "stat", "sleeper", "locker", "reader"}
	named := 0
	for _, th := range tr.Threads {
		if slices.ContainsFunc(roles, func(r string) bool { return strings.HasPrefix(th.Name, r) }) {
			named++
		}
	}
	for _, e := range tr.Events {
		th := &tr.Threads[e.Thread]
		if slices.Contains(roles, th.Name) || th.Name == "MainThread" {
			continue
		}
		for _, f := range tr.StackFrames(e.Stack) {
			if slices.Contains(roles, f.Func) {
				th.Name = f.Func
				break
			}
		}
	}
	t.Logf("%d of 6 threads kept their Python names", named)
	names := threadNames(tr)
	for _, n := range append([]string{"MainThread"}, roles...) {
		if !slices.Contains(names, n) {
			t.Errorf("no thread %s: %q", n, names)
		}
	}
	s := count(tr)
	if n := s.io["stat"]["disk"]; n != 3000 {
		t.Errorf("stat: %d disk I/Os, want 3000 (os.stat's copy of PyEval_SaveThread): %v", n, s.io["stat"])
	}
	if n := s.io["reader"]["disk"]; n < 400 {
		t.Errorf("reader: %d disk I/Os, want at least 400 (an open and a read per file): %v", n, s.io["reader"])
	}
	if n := s.io["sleeper"]["sleep"]; n != 20 {
		t.Errorf("sleeper: %d sleeps, want 20: %v", n, s.io["sleeper"])
	}
	if s.lockWaits["locker"] == 0 {
		t.Errorf("locker: no lock wait")
	}
	// The CPU-bound threads ask for the GIL by drop requests; which
	// waiter then takes it is the kernel's choice (a clean-clone CI run
	// on a busy machine: 6 requests by them, and every forced switch
	// taken by the four others).
	forced := 0
	for _, n := range s.forced {
		forced += n
	}
	if s.drops["cpu"] == 0 || forced == 0 {
		t.Errorf("no drop requests by the CPU-bound threads, or no forced switch: %v %v", s.drops, s.forced)
	}
	// The releases through the inlined copies carry the Python stack.
	tops := map[string]int{}
	for _, e := range tr.Events {
		if e.Kind == tracer.KindIOBegin && tr.Threads[e.Thread].Name == "stat" {
			if fs := tr.StackFrames(e.Stack); len(fs) > 0 {
				tops[fs[0].Func]++
			}
		}
	}
	if tops["stat"] != 3000 {
		t.Errorf("the stat thread's I/Os by innermost Python function: %v; want stat 3000", tops)
	}
	return tr
}

// seqThreads: 20 threads one after the other, each running w for about
// 3 ms without ever letting the GIL go before it ends (below the switch
// interval, and the main thread waits in Thread.join).
const seqThreads = `import threading
def w():
    s = 0
    for k in range(60000): s += k
for i in range(20):
    t = threading.Thread(target=w, name=f"seq-{i}"); t.start(); t.join()
`

// TestShortSequentialThreads: a thread that never releases the GIL before
// it ends has no frame left at its one release (3.12: not even a thread
// state), and its frame fetch faulted there, leaving in the probe's
// record what the previous hit on that CPU had fetched: the workers were
// all "thread N", ran in "?", and with 200 of them in the main thread's
// <module> and Thread.start. Now no worker runs in a frame of the main
// thread's, and the stack and name read during the thread's hold by the
// sampler name it and show w. Those readings are every 0.5 ms, and a busy
// machine delays them (a 3 ms thread may be missed): at least 3 of the 20
// workers must be named and show w (none was before; 15-20 of 20 in runs
// on a machine with a load of 3, 4 under -race in a full run of the
// package), and every name must be right.
func TestShortSequentialThreads(t *testing.T) {
	mainOnly := []string{"<module>", "Thread.start", "start", "Thread.join", "join", "Event.wait", "Condition.wait",
		"_wait_for_tstate_lock", "wait"}
	eachVersion(t, "seq.py", seqThreads, []string{"3.10.13", "3.11.7", "3.12.1", "3.13.0"}, Options{}, func(t *testing.T, tr *tracer.Trace) {
		withW, wrong := map[tracer.ThreadID]bool{}, map[tracer.ThreadID]bool{}
		for _, sp := range tracer.Derive(tr).States {
			name := tr.Threads[sp.Thread].Name
			if name == "MainThread" {
				continue
			}
			for _, f := range tr.StackFrames(sp.Stack) {
				if slices.Contains(mainOnly, f.Func) && !wrong[sp.Thread] {
					wrong[sp.Thread] = true
					t.Errorf("thread %s %s in the main thread's frame %s (%s:%d)", name, sp.State, f.Func, f.File, f.Line)
				}
				if f.Func == "w" && sp.State == tracer.StateRunning {
					withW[sp.Thread] = true
				}
			}
		}
		named, workers := 0, 0
		seen := map[string]bool{}
		for _, th := range tr.Threads {
			if th.Name == "MainThread" {
				continue
			}
			workers++
			if seen[th.Name] || strings.Contains(th.Name, "#") {
				t.Errorf("thread name %q given twice: %q", th.Name, threadNames(tr))
			}
			seen[th.Name] = true
			var i int
			if _, err := fmt.Sscanf(th.Name, "seq-%d", &i); err == nil && i >= 0 && i < 20 {
				named++
			}
		}
		t.Logf("%d workers, %d named seq-N, %d running in w", workers, named, len(withW))
		if workers != 20 {
			t.Errorf("%d worker threads, want 20: %q", workers, threadNames(tr))
		}
		if named < 3 || len(withW) < 3 {
			t.Errorf("%d of 20 workers named seq-N and %d running in w, want at least 3 of each: %q", named, len(withW), threadNames(tr))
		}
	})
}

// skipUnderRace skips a test that the race detector's slowness defeats,
// saying why (what is too late under -race).
func skipUnderRace(t *testing.T, why string) {
	t.Helper()
	if raceEnabled {
		t.Skip("under -race " + why + ": run it without -race")
	}
}

// TestKillTakesTracedChildren: a program killed at the end of its grace
// takes its traced child processes with it, which the trace names; before,
// a child that ignored SIGINT spun on, reparented to init, unmentioned
// (QA: a Pool's workers after --kill-after).
func TestKillTakesTracedChildren(t *testing.T) {
	py := pyenv(defaultPython)
	needTracing(t, py)
	script := filepath.Join(t.TempDir(), "forks.py")
	if err := os.WriteFile(script, []byte(`import os, signal, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
pid = os.fork()
if pid == 0:
    while True:
        time.sleep(0.001)
print("ready", pid, flush=True)
while True:
    time.sleep(0.05)
`), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	child := make(chan int, 1)
	var mu sync.Mutex
	var out strings.Builder // print writes "ready", " ", "519\n" apart
	src := Command([]string{py, script}, Options{StopGrace: 500 * time.Millisecond, Stdout: writerFunc(func(b []byte) {
		mu.Lock()
		defer mu.Unlock()
		out.Write(b)
		var pid int
		if _, err := fmt.Sscanf(out.String(), "ready %d\n", &pid); err == nil && len(child) == 0 && strings.HasSuffix(out.String(), "\n") {
			child <- pid
			time.AfterFunc(300*time.Millisecond, cancel)
		}
	})})
	tr, err := record(t, ctx, src)
	if !errors.Is(err, tracer.ErrInterrupted) || tr == nil {
		t.Fatalf("trace %v, error %v; want ErrInterrupted", tr != nil, err)
	}
	var pid int
	select {
	case pid = <-child:
	default:
		t.Fatal("the program never said it was ready")
	}
	deadline := time.Now().Add(5 * time.Second)
	for processAlive(pid) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if processAlive(pid) {
		syscall.Kill(pid, syscall.SIGKILL)
		t.Errorf("child pid %d still running after its parent was killed", pid)
	}
	if x := tr.Meta.Extra; x["stopped"] != "killed" || x["killed_children"] != fmt.Sprintf("pid %d", pid) {
		t.Errorf("stopped %q, killed children %q; want killed, pid %d", x["stopped"], x["killed_children"], pid)
	}
}

// TestProbesOnlyInTracedProcesses: while giltrace records a program, the
// probe's breakpoint (int3) is in the traced process's copy of take_gil
// and not in that of another process running the same libpython. With a
// tracefs-enabled uprobe it was in both (QA: the other process's GIL and
// lock operations ran 7-47 times slower); the traced process's is the
// control that the test reads the right byte.
func TestProbesOnlyInTracedProcesses(t *testing.T) {
	python := pyenv(defaultPython)
	needTracing(t, python)
	in := pyenvInterp(t, defaultPython)
	off, err := in.symbolOffset("take_gil")
	if err != nil {
		t.Fatal(err)
	}
	other := exec.Command(python, "-c", "import threading, time; time.sleep(30)")
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { other.Process.Kill(); other.Wait() }()
	pidFile := filepath.Join(t.TempDir(), "pid")
	script := fmt.Sprintf("import os, time\nopen(%q, 'w').write(str(os.getpid()))\ntime.sleep(1.5)\n", pidFile)
	type seen struct {
		traced, other byte
		err           error
	}
	got := make(chan seen, 1)
	go func() {
		var s seen
		defer func() { got <- s }()
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			b, err := os.ReadFile(pidFile)
			if pid, err2 := strconv.Atoi(string(b)); err == nil && err2 == nil {
				time.Sleep(200 * time.Millisecond) // well inside its sleep
				if s.traced, s.err = codeByte(pid, in.Path, off); s.err == nil {
					s.other, s.err = codeByte(other.Process.Pid, in.Path, off)
				}
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		s.err = errors.New("the traced program never wrote its pid")
	}()
	src := Command([]string{python, "-c", script}, Options{})
	if _, err := record(t, context.Background(), src); err != nil {
		t.Fatal(err)
	}
	s := <-got
	if s.err != nil {
		t.Fatal(s.err)
	}
	if s.traced != 0xcc {
		t.Errorf("take_gil's first byte in the traced process: %#x, want the probe's int3 (0xcc)", s.traced)
	}
	if s.other == 0xcc {
		t.Errorf("take_gil's first byte in another process running %s: the probe's int3, armed where it was not asked", in.Path)
	}
	if b, err := codeByte(other.Process.Pid, in.Path, off); err != nil || b == 0xcc {
		t.Errorf("after the recording, the other process's take_gil: %#x, %v", b, err)
	}
}

// codeByte reads the byte at file offset off of path as process pid maps it.
func codeByte(pid int, path string, off uint64) (byte, error) {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return 0, err
	}
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(maps), "\n") {
		f := strings.Fields(line)
		if len(f) < 6 || f[5] != real {
			continue
		}
		lo, hi, _ := strings.Cut(f[0], "-")
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		mapOff, err3 := strconv.ParseUint(f[2], 16, 64)
		if err1 != nil || err2 != nil || err3 != nil || off < mapOff || off >= mapOff+end-start {
			continue
		}
		mem, err := os.Open(fmt.Sprintf("/proc/%d/mem", pid))
		if err != nil {
			return 0, err
		}
		defer mem.Close()
		var b [1]byte
		if _, err := mem.ReadAt(b[:], int64(start+off-mapOff)); err != nil {
			return 0, err
		}
		return b[0], nil
	}
	return 0, fmt.Errorf("process %d does not map offset %#x of %s", pid, off, real)
}

// TestLostAtTheEnd: hits lost because the rings were full are counted
// even when the program ends before any later hit finds room (the kernel
// reports a loss in the ring only before the next sample that fits: QA, a
// recorder stopped for 13 s of a 12 s flood said "0 probe hits lost" and
// showed waits that never happened). The reader is held back for the
// whole run, its rings 64 KiB.
func TestLostAtTheEnd(t *testing.T) {
	py := pyenv(defaultPython)
	needTracing(t, py)
	// And a drain that begins 1.5 s after the exit: the thread, whose
	// end the full rings lost, ends at the program's exit, not there (QA:
	// a 10 s program's threads ran to 16.9 s of the trace, waiting for
	// the GIL).
	testRingBytes, readDelay = 64<<10, 4*time.Second
	beforeDrain = func() { time.Sleep(1500 * time.Millisecond) }
	defer func() { testRingBytes, readDelay, beforeDrain = 0, 0, nil }()
	src := Command([]string{py, "-c", "import time\nfor _ in range(20000): time.sleep(0)\n"}, Options{})
	start := time.Now()
	tr, err := tracer.Record(context.Background(), src, tracer.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if d, all := time.Duration(tr.Duration()), time.Since(start); d > all-time.Second {
		t.Errorf("trace of %v for a recording of %v whose drain began 1.5 s after the exit: want it to end at the exit", d, all)
	}
	n, _ := strconv.Atoi(tr.Meta.Extra["lost_events"])
	if n < 10000 {
		t.Errorf("lost_events %q: want the hits that did not fit in the rings (about 60 000 hits, 600 of about 100 bytes each fit in 64 KiB)", tr.Meta.Extra["lost_events"])
	}
	noProbesLeft(t)
}

// TestAttachThreadsComingAndGoing: an attach to a program whose threads
// start and end every few milliseconds sets up (QA: 6 of 6 attaches failed
// when a thread's exit made the kernel refuse its events with ENODEV or
// EINVAL, not ESRCH) and records a valid trace with each thread's hits
// once.
func TestAttachThreadsComingAndGoing(t *testing.T) {
	py := pyenv(defaultPython)
	needTracing(t, py)
	cmd := exec.Command(py, "-c", `
import threading, time
def short():
    end = time.perf_counter() + 0.0002
    while time.perf_counter() < end: pass
end = time.time() + 30
while time.time() < end:
    ts = [threading.Thread(target=short) for _ in range(4)]
    for t in ts: t.start()
    for t in ts: t.join()
`)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	time.Sleep(500 * time.Millisecond)
	for i := range 3 {
		tr, err := record(t, context.Background(), Attach(cmd.Process.Pid, 500*time.Millisecond, Options{}))
		if err != nil {
			t.Fatalf("attach %d: %v", i, err)
		}
		if len(tr.Threads) < 8 {
			t.Errorf("attach %d: %d threads, want the many short ones", i, len(tr.Threads))
		}
	}
}

// TestSwitchIntervalChanged: a program that changes its switch interval
// while traced has the one in effect for most of its run in the trace's
// metadata, and each value, from when, in Extra["switch_intervals"] (QA:
// a program that contended at 20 ms, then set 1 ms before it ended, was
// reported at 1 ms, and its convoy told not to shorten it).
func TestSwitchIntervalChanged(t *testing.T) {
	src := `import sys, threading, time
sys.setswitchinterval(0.02)
stop = False
def spin():
    while not stop:
        pass
ts = [threading.Thread(target=spin) for _ in range(2)]
for t in ts: t.start()
time.sleep(0.6)
stop = True
for t in ts: t.join()
sys.setswitchinterval(0.001)
ts = [threading.Thread(target=spin) for _ in range(2)]
stop = False
for t in ts: t.start()
time.sleep(0.25)
stop = True
for t in ts: t.join()
`
	eachVersion(t, "interval.py", src, []string{"3.9.18", "3.12.1", "3.13.0"}, Options{}, func(t *testing.T, tr *tracer.Trace) {
		if tr.Meta.SwitchInterval != 20*time.Millisecond {
			t.Errorf("switch interval %v, want 20ms, in effect for most of the run", tr.Meta.SwitchInterval)
		}
		got := tr.Meta.Extra["switch_intervals"]
		if !strings.Contains(got, "20ms from") || !strings.Contains(got, ", 1ms from") {
			t.Errorf("switch_intervals = %q, want 20ms then 1ms", got)
		}
	})
}

// TestMainInterval: the interval in effect for the longest time, and the
// text of the changes.
func TestMainInterval(t *testing.T) {
	p := &proc{interval: 1_000_000, intervals: []intervalChange{{0, 5_000_000}, {100_000_000, 20_000_000}, {900_000_000, 1_000_000}}}
	if v, changed := p.mainInterval(1_000_000_000); v != 20_000_000 || !changed {
		t.Errorf("mainInterval = %v, %v; want 20ms, changed", v, changed)
	}
	if v, _ := p.mainInterval(2_000_000_000); v != 1_000_000 {
		t.Errorf("mainInterval to 2s = %v, want 1ms", v)
	}
	if got, want := p.intervalsText(), "5ms from the start, 20ms from 100ms, 1ms from 900ms"; got != want {
		t.Errorf("intervalsText = %q, want %q", got, want)
	}
	// Summed over the run: 5 ms for 1 s and 1 s again, 20 ms for 1.5 s
	// in between (review: the longest single stretch was taken).
	back := &proc{interval: 5_000_000, intervals: []intervalChange{{0, 5_000_000}, {1_000_000_000, 20_000_000}, {2_500_000_000, 5_000_000}}}
	if v, _ := back.mainInterval(3_500_000_000); v != 5_000_000 {
		t.Errorf("5ms, 20ms, 5ms again: %v, want 5ms, in effect for 2s of the 3.5s", v)
	}
	one := &proc{interval: 5_000_000, intervals: []intervalChange{{0, 5_000_000}}}
	if v, changed := one.mainInterval(1e9); v != 5_000_000 || changed {
		t.Errorf("one interval: %v, %v", v, changed)
	}
}

// TestNativeWaits: GIL-releasing C calls of extension modules that wait
// (ctypes calling usleep, as a database driver waits on its socket) are
// I/O "native-wait", from the scheduler states read during them, while
// those that compute (hashlib) stay native work. QA: a pool of 8 threads
// each in ctypes usleep calls was reported as 6.7 threads of CPU work on
// 2 cores, "cpu-saturated", with advice to shrink the pool to the cores.
func TestNativeWaits(t *testing.T) {
	src := "import ctypes, hashlib, threading\nlibc = ctypes.CDLL('libc.so.6')\n" +
		"def wait():\n    for _ in range(10): libc.usleep(20000)\n" +
		"buf = b'x' * (32 << 20)\ndef work():\n    for _ in range(6): hashlib.sha256(buf).digest()\n" +
		"ts = [threading.Thread(target=wait, name=f'wait{i}') for i in range(4)] + [threading.Thread(target=work, name='hash')]\n" +
		"[x.start() for x in ts]; [x.join() for x in ts]\n"
	eachVersion(t, "nativewait.py", src, []string{"3.9.18", "3.12.1", "3.13.0"}, Options{}, func(t *testing.T, tr *tracer.Trace) {
		// Counted by the Python function making the call (wait or work),
		// not by thread name: a slow recorder (-race) may not read every
		// thread's name.
		calls := map[string]map[string]int{"wait": {}, "work": {}}
		for _, e := range tr.Events {
			fs := tr.StackFrames(e.Stack)
			if len(fs) == 0 || calls[fs[0].Func] == nil {
				continue
			}
			switch {
			case e.Kind == tracer.KindIOBegin:
				calls[fs[0].Func][tr.Str(e.IOKind())]++
			case e.Kind == tracer.KindNativeBegin && e.ReleasesGIL():
				calls[fs[0].Func]["native"]++
			}
		}
		if calls["work"][ioOther] > 0 && calls["work"]["native"] == 0 {
			// The machine handled the hits after the program had exited,
			// its memory map gone: every call is of unknown kind
			// (docs/cpython.md; seen under -race, whose recorder is slow).
			t.Skipf("the process's map was read after it exited (a slow recorder): its calls %v are of unknown kind", calls)
		}
		if len(calls["wait"])+len(calls["work"]) == 0 {
			// Seen under -race in the full suite, on a machine loaded by
			// other work (load average 6): the code objects were read
			// after the program exited, every frame unknown.
			t.Skipf("no call in a known function: the stacks were read after the program exited (a slow recorder)")
		}
		waits, native := calls["wait"][ioNativeWait], calls["wait"]["native"]
		// 40 calls of 20 ms, each thread read about every 2 ms: all 40
		// seen asleep here, quiet or beside two CPU hogs; 21 of 40 once
		// in a full run of this package beside another package's tests
		// (the readings late or few when the recorder gets little CPU).
		t.Logf("usleep calls: %d native-wait, %d native; hashlib calls: %v", waits, native, calls["work"])
		if waits < 20 || waits+native != 40 {
			t.Errorf("of the 40 usleep calls: %d shown as I/O %q, %d as native work; want at least 20 of 40 as I/O", waits, ioNativeWait, native)
		}
		if got := tr.Meta.Extra["native_waits"]; got != strconv.Itoa(waits) {
			t.Errorf("native_waits %q, want %d", got, waits)
		}
		if h := calls["work"][ioNativeWait]; h > 0 || calls["work"]["native"] != 6 {
			t.Errorf("hashlib's 6 calls: %d shown as native work, %d as I/O %q; want all native work", calls["work"]["native"], h, ioNativeWait)
		}
	})
}

// TestNativeWaitsShortAndPool: GIL-releasing C calls that wait but that
// the readings of their threads' scheduler states mostly miss are
// native-wait too, judged by their site's read calls (the ctypes call on
// the same line): calls of 1 ms, shorter than the interval between two
// readings of their thread, and the calls of a pool of 60 threads, each
// read every 15 ms; while short copies made through ctypes on another
// line stay native work. QA: 28 % of 4000 usleep(1 ms) calls and 69 % of
// a 100-thread pool's calls were native-wait, the rest CPU work (a busy
// machine, cpu-saturated, a 1-core prediction of 2.03 s against 1.12 s).
func TestNativeWaitsShortAndPool(t *testing.T) {
	src := "import ctypes, threading\nlibc = ctypes.CDLL('libc.so.6')\n" +
		"a, b = ctypes.create_string_buffer(4 << 20), ctypes.create_string_buffer(4 << 20)\n" +
		"def short():\n    for _ in range(150): libc.usleep(1000)\n" +
		"def copy():\n    for _ in range(300): ctypes.memmove(b, a, len(a))\n" +
		"def pool():\n    for _ in range(6): libc.usleep(5000)\n" +
		"ts = [threading.Thread(target=short) for i in range(4)] + [threading.Thread(target=copy)]\n" +
		"[x.start() for x in ts]; [x.join() for x in ts]\n" +
		"ps = [threading.Thread(target=pool) for i in range(60)]\n" +
		"[x.start() for x in ps]; [x.join() for x in ps]\n"
	eachVersion(t, "nativeshort.py", src, []string{"3.12.1", "3.13.0"}, Options{}, func(t *testing.T, tr *tracer.Trace) {
		calls := map[string]map[string]int{"short": {}, "copy": {}, "pool": {}}
		for _, e := range tr.Events {
			fs := tr.StackFrames(e.Stack)
			if len(fs) == 0 || calls[fs[0].Func] == nil {
				continue
			}
			switch {
			case e.Kind == tracer.KindIOBegin:
				calls[fs[0].Func][tr.Str(e.IOKind())]++
			case e.Kind == tracer.KindNativeBegin && e.ReleasesGIL():
				calls[fs[0].Func]["native"]++
			}
		}
		t.Logf("calls by function and kind: %v; native_waits_inferred %s; sites: %s", calls, tr.Meta.Extra["native_waits_inferred"], tr.Meta.Extra["native_wait_sites"])
		if calls["copy"][ioOther] > 0 && calls["copy"]["native"] == 0 {
			t.Skipf("the process's map was read after it exited (a slow recorder): its calls %v are of unknown kind", calls)
		}
		if len(calls["short"]) == 0 || len(calls["copy"]) == 0 || len(calls["pool"]) == 0 {
			// Under -race (the recorder several times slower), often: the
			// code objects of some threads were read after the program
			// exited, their frames unknown (as TestNativeWaits): the pool's
			// 60 threads, started last, in 2 of 3 runs at 7a3a4e6 too.
			t.Skipf("no call in a known function for some of short, copy, pool (%v): the stacks were read after the program exited (a slow recorder)", calls)
		}
		// 4 threads x 150 calls of 1 ms, 60 threads x 6 calls of 5 ms: all
		// native-wait here (0 to 2 read once running were native work),
		// quiet or beside CPU hogs; 75 % required, where they were 28 %
		// and about a third before.
		for fn, n := range map[string]int{"short": 600, "pool": 360} {
			waits, native := calls[fn][ioNativeWait], calls[fn]["native"]
			if waits+native != n || waits*4 < n*3 {
				t.Errorf("%s: of the %d usleep calls, %d native-wait and %d native work; want at least 75 %% native-wait", fn, n, waits, native)
			}
		}
		// All native work here; beside the command's tests one of 300 was
		// once read asleep (a page fault of the 4 MB copy, or the thread
		// waiting for a core: not told apart) and counted as a wait: a few
		// such are allowed.
		if w, n := calls["copy"][ioNativeWait], calls["copy"]["native"]; w > 3 || n+w != 300 {
			t.Errorf("the 300 copies: %d native work, %d native-wait; want native work, but for at most 3", n, w)
		}
		if tr.Meta.Extra["native_waits_inferred"] == "" || !strings.Contains(tr.Meta.Extra["native_wait_sites"], "from short (nativeshort.py:5)") {
			t.Errorf("native_waits_inferred %q, native_wait_sites %q: want both, naming short's line", tr.Meta.Extra["native_waits_inferred"], tr.Meta.Extra["native_wait_sites"])
		}
	})
}

// TestOwnIOReadings: a thread asleep reading a pipe that another thread of
// its process writes, or a loopback connection whose server is a thread
// of its process (with a timeout: it polls the socket first), is read as
// waiting on its own process (own_io_readings); one reading a child's
// pipe, a connection to a child's server, or a multiprocessing queue
// that its children write, is not. QA: two threads
// passing a message over os.pipe, 0.86x measured against one thread,
// were reported to overlap 1.84x, "scales".
func TestOwnIOReadings(t *testing.T) {
	own := "import os, socket, threading\n" +
		"def spin():\n    x = 0\n    for i in range(20000): x += i\n" +
		"a_r, a_w = os.pipe(); b_r, b_w = os.pipe()\n" +
		"def ping():\n    for _ in range(150): os.write(a_w, b'x'); os.read(b_r, 1)\n" +
		"def pong():\n    for _ in range(150): os.read(a_r, 1); spin(); os.write(b_w, b'y')\n" +
		"ln = socket.socket(); ln.bind(('127.0.0.1', 0)); ln.listen(1)\n" +
		"def server():\n    c, _ = ln.accept()\n    for _ in range(150): c.recv(1); spin(); c.sendall(b'y')\n" +
		"def client():\n    c = socket.create_connection(ln.getsockname()); c.settimeout(10)\n" +
		"    for _ in range(150): c.sendall(b'x'); c.recv(1)\n" +
		"ts = [threading.Thread(target=f) for f in (ping, pong, server, client)]\n" +
		"[x.start() for x in ts]; [x.join() for x in ts]\n"
	other := "import subprocess, socket, sys, threading\n" +
		"srv = subprocess.Popen([sys.executable, '-c', '''\nimport socket, time\nln = socket.socket(); ln.bind(('127.0.0.1', 0)); ln.listen(1)\n" +
		"print(ln.getsockname()[1], flush=True)\nc, _ = ln.accept()\nfor _ in range(100):\n    c.recv(1); time.sleep(0.003); c.sendall(b'y')\n'''], stdout=subprocess.PIPE)\n" +
		"port = int(srv.stdout.readline())\n" +
		"def client():\n    c = socket.create_connection(('127.0.0.1', port)); c.settimeout(10)\n" +
		"    for _ in range(100): c.sendall(b'x'); c.recv(1)\n" +
		"def child():\n    subprocess.run(['sleep', '0.4'], stdout=subprocess.PIPE)\n" +
		"ts = [threading.Thread(target=f) for f in (client, child)]\n" +
		"[x.start() for x in ts]; [x.join() for x in ts]; srv.wait()\n" +
		// multiprocessing's queue: the parent and each child hold both
		// ends; the children write what the parent reads.
		"import multiprocessing as mp\n" +
		"def work(q):\n    x = 0\n    for i in range(2_000_000): x += i\n    q.put(x)\n" +
		"q = mp.get_context('fork').Queue()\nps = [mp.get_context('fork').Process(target=work, args=(q,)) for _ in range(2)]\n" +
		"[p.start() for p in ps]; [q.get() for _ in ps]; [p.join() for p in ps]\n"
	readings := func(t *testing.T, tr *tracer.Trace) (n, own int) {
		n, _ = strconv.Atoi(tr.Meta.Extra["io_readings"])
		own, _ = strconv.Atoi(tr.Meta.Extra["own_io_readings"])
		t.Logf("%d readings asleep in I/O, %d on the process's own pipes and connections; by thread %s", n, own, tr.Meta.Extra["own_io_by_thread"])
		// By thread, the same readings: "ID:own/readings", thread IDs of
		// the trace.
		var byOwn, byAll int
		for _, part := range strings.Split(tr.Meta.Extra["own_io_by_thread"], ",") {
			if part == "" {
				continue // no readings at all (the skip below)
			}
			var id, o, a int
			if _, err := fmt.Sscanf(part, "%d:%d/%d", &id, &o, &a); err != nil || id >= len(tr.Threads) {
				t.Errorf("own_io_by_thread %q: %q", tr.Meta.Extra["own_io_by_thread"], part)
			}
			byOwn, byAll = byOwn+o, byAll+a
		}
		if n > 0 && (byOwn != own || byAll != n) {
			t.Errorf("by thread %d own of %d, in all %d of %d", byOwn, byAll, own, n)
		}
		if n < 10 {
			t.Skipf("%d readings asleep in I/O: too few to judge (a recorder starved of CPU)", n)
		}
		return n, own
	}
	eachVersion(t, "ownio.py", own, []string{"3.12.1"}, Options{}, func(t *testing.T, tr *tracer.Trace) {
		// Readings that find the thread between its read's wake-up and
		// its return (the stat says asleep, the system call has ended)
		// are not own: most are.
		if n, own := readings(t, tr); own*2 < n {
			t.Errorf("%d of %d readings asleep in I/O on the process's own pipes and connections; want most", own, n)
		}
	})
	eachVersion(t, "otherio.py", other, []string{"3.12.1"}, Options{}, func(t *testing.T, tr *tracer.Trace) {
		// A reading may fall while subprocess.Popen holds both ends of
		// its child's pipe, for a moment: one listing of the descriptors
		// then, trusted for ownTrueEvery, can count a few.
		if n, own := readings(t, tr); own*10 > n {
			t.Errorf("%d of %d readings on the process's own pipes and connections; want next to none (a child's pipe, a child's server)", own, n)
		}
	})
}

// TestDuplicateThreadNames: threads of the same name are told apart as
// "io", "io #2", "io #3", "io #4" (QA: every one after the first was
// "io #2", its count taken by the name with its suffix).
func TestDuplicateThreadNames(t *testing.T) {
	src := "import threading, time\ndef work():\n    for _ in range(20):\n        x = sum(range(20000))\n        time.sleep(0.002)\n" +
		"ts = [threading.Thread(target=work, name='io') for _ in range(4)]\n[x.start() for x in ts]; [x.join() for x in ts]\n"
	eachVersion(t, "dupnames.py", src, []string{"3.12.1"}, Options{}, func(t *testing.T, tr *tracer.Trace) {
		var io []string
		for _, th := range tr.Threads {
			if th.Name == "io" || strings.HasPrefix(th.Name, "io #") {
				io = append(io, th.Name)
			}
		}
		if len(io) < 4 {
			for _, th := range tr.Threads {
				t.Logf("thread %q", th.Name)
			}
			t.Skipf("threads %v: not every name read (a slow recorder)", io)
		}
		slices.Sort(io)
		if want := []string{"io", "io #2", "io #3", "io #4"}; !slices.Equal(io, want) {
			t.Errorf("the threads named io are %v, want %v", io, want)
		}
	})
}

// ioKindsByThread counts the I/O calls of trace tr by thread name and
// kind.
func ioKindsByThread(tr *tracer.Trace) map[string]map[string]int {
	byThread := map[string]map[string]int{}
	for _, e := range tr.Events {
		if e.Kind != tracer.KindIOBegin || int(e.Thread) >= len(tr.Threads) {
			continue
		}
		n := tr.Threads[e.Thread].Name
		if byThread[n] == nil {
			byThread[n] = map[string]int{}
		}
		byThread[n][tr.Str(e.IOKind())]++
	}
	return byThread
}

// TestListenWaits: a server thread's waits for a connection, in
// serve_forever's poll of its listening socket, are I/O "listen" (idle:
// not what limits the run), and its handlers' and clients' network I/O
// is not. QA: an
// in-process server's serve_forever, polling until shutdown, was the
// limit of What would help, "faster I/O would help".
func TestListenWaits(t *testing.T) {
	src := "import socket, socketserver, threading, time\n" +
		"class H(socketserver.BaseRequestHandler):\n    def handle(self):\n        self.request.recv(1); self.request.sendall(b'y')\n" +
		"srv = socketserver.ThreadingTCPServer(('127.0.0.1', 0), H)\n" +
		"st = threading.Thread(target=srv.serve_forever, name='server', kwargs={'poll_interval': 0.05}); st.start()\n" +
		"def client():\n    for _ in range(15):\n        time.sleep(0.02)\n" +
		"        c = socket.create_connection(srv.server_address); c.sendall(b'x'); c.recv(1); c.close()\n" +
		"cs = [threading.Thread(target=client, name='client') for _ in range(2)]\n" +
		"[c.start() for c in cs]; [c.join() for c in cs]; srv.shutdown(); st.join()\n"
	eachVersion(t, "listen.py", src, []string{"3.12.1"}, Options{}, func(t *testing.T, tr *tracer.Trace) {
		byThread := ioKindsByThread(tr)
		t.Logf("I/O calls by thread and kind: %v", byThread)
		if byThread["server"] == nil {
			t.Skipf("the server thread's name was not read (a slow recorder): %v", byThread)
		}
		if byThread["server"][ioListen] == 0 {
			t.Errorf("the server's waits for a connection: none is I/O %q: %v", ioListen, byThread["server"])
		}
		if byThread["client"][ioListen] > 0 {
			t.Errorf("the clients' I/O is %q: %v", ioListen, byThread["client"])
		}
	})
}

// TestOwnIOWaits: a thread's waits on a pipe whose other end its own
// process writes are I/O "own-io" (a wait for that thread, not work): a
// multiprocessing.pool.ThreadPool's worker handler, polling its change
// notifier's pipe until the pool closes, and a reader of os.pipe fed by
// another thread every 30 ms; the writer's I/O and the sleeps are not.
// Two threads passing a byte back and forth 1500 times over two pipes
// wait some tens of microseconds each time, too short for most to be
// read: the calls of a thread whose readings found it on its own pipes
// nine times in ten are I/O "own-io" all the same (ownThread), the
// writes with the reads. An asyncio event loop's epoll waits on its
// self-pipe, a socket pair, while run_in_executor's workers compute.
func TestOwnIOWaits(t *testing.T) {
	src := "import os, threading, time\nfrom multiprocessing.pool import ThreadPool\n" +
		"def work(n):\n    while n: n -= 1\n    return n\n" +
		"with ThreadPool(2) as p:\n    p.map(work, [1_000_000] * 4)\n" +
		"r, w = os.pipe()\n" +
		"def reader():\n    for _ in range(5): os.read(r, 1)\n" +
		"def writer():\n    for _ in range(5):\n        time.sleep(0.03); os.write(w, b'x')\n" +
		"ts = [threading.Thread(target=reader, name='reader'), threading.Thread(target=writer, name='writer')]\n" +
		"[x.start() for x in ts]; [x.join() for x in ts]\n" +
		"a_r, a_w = os.pipe(); b_r, b_w = os.pipe()\n" +
		"def ping():\n    for _ in range(1500): os.write(a_w, b'x'); os.read(b_r, 1)\n" +
		"def pong():\n    for _ in range(1500):\n        os.read(a_r, 1); s = sum(range(3000)); os.write(b_w, b'y')\n" +
		"ts = [threading.Thread(target=ping, name='ping'), threading.Thread(target=pong, name='pong')]\n" +
		"[x.start() for x in ts]; [x.join() for x in ts]\n" +
		"import asyncio\n" +
		"async def main():\n    loop = asyncio.get_running_loop()\n" +
		"    await asyncio.gather(*[loop.run_in_executor(None, work, 2_000_000) for _ in range(2)])\n" +
		"asyncio.run(main())\n"
	eachVersion(t, "ownio.py", src, []string{"3.11.7"}, Options{}, func(t *testing.T, tr *tracer.Trace) {
		byThread := ioKindsByThread(tr)
		t.Logf("I/O calls by thread and kind: %v", byThread)
		handler := ""
		for n := range byThread {
			if strings.Contains(n, "_handle_workers") {
				handler = n
			}
		}
		if handler == "" || byThread["reader"] == nil {
			t.Skipf("the threads' names were not read (a slow recorder): %v", byThread)
		}
		if byThread[handler][ioOwn] == 0 {
			t.Errorf("the pool's worker handler waiting on its change notifier: none is I/O %q: %v", ioOwn, byThread[handler])
		}
		if byThread["reader"][ioOwn] < 3 {
			t.Errorf("the reader's 30 ms waits on the pipe its process writes: %d of 5 are I/O %q: %v", byThread["reader"][ioOwn], ioOwn, byThread["reader"])
		}
		// ping waits for pong's work each time, and is read; pong's waits,
		// for ping's write alone, are too short to be read often enough
		// (under ownThreadMinReadings): they stay "disk".
		// The event loop's epoll waits on its self-pipe, a socket pair
		// (unixpeer.go), while the executor's workers compute.
		if k := byThread["MainThread"]; k[ioOwn] == 0 {
			t.Errorf("the asyncio loop's waits on its self-pipe: none is I/O %q: %v", ioOwn, k)
		}
		// Whether ping's calls are known as its own depends on the
		// sampler's readings of it, which a loaded machine delays (a
		// clean-clone CI run beside other traced programs: 14 calls): one
		// of three runs must show it.
		ping := byThread["ping"]
		for run := 2; ping[ioOwn] < 1350 && run <= 3; run++ {
			t.Logf("run %d: ping's own-io %d of its 3000 calls; again", run-1, ping[ioOwn])
			again := filepath.Join(t.TempDir(), "ownio.py")
			if err := os.WriteFile(again, []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			tr, err := record(t, context.Background(), Command([]string{pyenv("3.11.7"), again}, Options{}))
			if err != nil {
				t.Fatal(err)
			}
			ping = ioKindsByThread(tr)["ping"]
		}
		if ping[ioOwn] < 1350 {
			t.Errorf("ping's 1500 reads (and 1500 writes, on the same line) on its own pipes, in each of three runs: %d calls are I/O %q: %v", ping[ioOwn], ioOwn, ping)
		}
		for n, kinds := range byThread {
			if n != handler && n != "reader" && n != "ping" && n != "pong" && n != "MainThread" && kinds[ioOwn] > 0 {
				t.Errorf("thread %s has I/O %q: %v", n, ioOwn, kinds)
			}
		}
	})
}

// TestForkedProcessesKeepTheirProbes: processes the program forks record
// to their end, whichever of their relatives ends first. Pinned to one
// CPU, the tasks switch between each other, and the kernel swapped the
// event contexts of those whose contexts were copies (perf.go, "Keeping
// the probes armed"): about half of 8 children forked one after another
// lost their hits once a sibling ended, and children that started and
// joined a thread lost theirs once it ended, in most runs. Both ways of
// keeping the probes armed: the inherited marker, and a kernel's that
// refuses it (a plain marker and each forked process's keepers).
func TestForkedProcessesKeepTheirProbes(t *testing.T) {
	py := pyenv(defaultPython)
	needTracing(t, py)
	progs := map[string]string{
		"siblings": `import os, time
os.sched_setaffinity(0, {0})
def count(n):
    while n > 0: n -= 1
kids = []
for i in range(8):
    pid = os.fork()
    if pid == 0:
        count(100000)
        time.sleep(0.02 * (i + 1))
        count(1000)
        os._exit(0)
    kids.append(pid)
for pid in kids:
    os.waitpid(pid, 0)
`,
		"child-threads": `import os, threading, time
os.sched_setaffinity(0, {0})
def count(n):
    while n > 0: n -= 1
kids = []
for i in range(4):
    pid = os.fork()
    if pid == 0:
        t = threading.Thread(target=count, args=(200000,))
        t.start()
        count(200000)
        t.join()
        time.sleep(0.02)
        count(1000)
        os._exit(0)
    kids.append(pid)
for pid in kids:
    os.waitpid(pid, 0)
`,
	}
	for _, plain := range []bool{false, true} {
		for _, name := range []string{"siblings", "child-threads"} {
			t.Run(fmt.Sprintf("%s/plain-marker=%v", name, plain), func(t *testing.T) {
				if plain && name == "child-threads" {
					// The keepers come once the fork is read: a reader
					// slowed by -race (94 ms) finds the child gone.
					skipUnderRace(t, "the keepers come too late")
				}
				testPlainMarker = plain
				t.Cleanup(func() { testPlainMarker = false })
				script := filepath.Join(t.TempDir(), "forks.py")
				if err := os.WriteFile(script, []byte(progs[name]), 0o644); err != nil {
					t.Fatal(err)
				}
				var out bytes.Buffer
				src := Command([]string{py, script}, Options{Stdout: &out, Stderr: &out})
				tr, err := record(t, context.Background(), src)
				if err != nil {
					t.Fatalf("%v\n%s", err, out.String())
				}
				// Each child's main thread: its sleep begins and ends,
				// and it takes the GIL again after it, to count.
				state := map[tracer.ThreadID]int{} // 1 in the sleep, 2 after it, 3 took the GIL after it
				children := 0
				for i, th := range tr.Threads {
					if th.Proc != 0 && th.Name == "MainThread" {
						state[tracer.ThreadID(i)] = 0
						children++
					}
				}
				if want := map[string]int{"siblings": 8, "child-threads": 4}[name]; children != want {
					t.Fatalf("%d children's main threads, want %d: %q", children, want, threadNames(tr))
				}
				for _, e := range tr.Events {
					st, ok := state[e.Thread]
					switch {
					case !ok:
					case e.Kind == tracer.KindIOBegin && tr.Str(e.IOKind()) == "sleep":
						state[e.Thread] = 1
					case e.Kind == tracer.KindIOEnd && st == 1:
						state[e.Thread] = 2
					case e.Kind == tracer.KindLockAcquire && st == 2:
						state[e.Thread] = 3
					}
				}
				for id, st := range state {
					if st != 3 {
						t.Errorf("child pid %d: its sleep and the GIL after it not recorded (got to %d of 3)", tr.Procs[tr.Threads[id].Proc].PID, st)
					}
				}
			})
		}
	}
}

// TestCoreIOReadings: threads reading a file from the page cache, on one
// CPU beside each other, are found running or runnable in their reads (the
// kernel copying, a wake-up waiting for the core) in much of the
// readings of their I/O calls (io_awake_by_thread); a thread sleeping is
// found asleep. QA: a pool of 16 on one core, its cached file reads 17 ms
// with one worker and 340 ms with 16, overlapped "3.86x" where it ran
// 3.0x as fast as one worker (diagnosis.CoreIO).
func TestCoreIOReadings(t *testing.T) {
	src := "import os, tempfile, threading, time\n" +
		"fd, fn = tempfile.mkstemp(); os.write(fd, os.urandom(4 << 20)); os.close(fd)\n" +
		"def reader():\n    for _ in range(40):\n        with open(fn, 'rb') as f: f.read()\n" +
		"def sleeper():\n    for _ in range(40): time.sleep(0.005)\n" +
		"ts = [threading.Thread(target=reader, name='reader') for _ in range(4)] + [threading.Thread(target=sleeper, name='sleeper')]\n" +
		"[x.start() for x in ts]; [x.join() for x in ts]; os.unlink(fn)\n"
	eachVersion(t, "coreio.py", src, []string{"3.12.1"}, Options{CPUs: []int{0}}, func(t *testing.T, tr *tracer.Trace) {
		v := tr.Meta.Extra["io_awake_by_thread"]
		t.Logf("readings in I/O calls, awake/all by thread: %s", v)
		var readers, readersAwake, sleeper, sleeperAwake int
		for _, part := range strings.Split(v, ",") {
			var id, a, n int
			if _, err := fmt.Sscanf(part, "%d:%d/%d", &id, &a, &n); err != nil || id >= len(tr.Threads) || a > n {
				t.Fatalf("io_awake_by_thread %q: %q", v, part)
			}
			switch tr.Threads[id].Name {
			case "reader":
				readers, readersAwake = readers+n, readersAwake+a
			case "sleeper":
				sleeper, sleeperAwake = sleeper+n, sleeperAwake+a
			}
		}
		if readers < 10 || sleeper < 5 {
			t.Skipf("%d readings of the readers' I/O, %d of the sleeper's: too few to judge (a recorder starved of CPU)", readers, sleeper)
		}
		if readersAwake*3 < readers {
			t.Errorf("%d of the readers' %d readings in their reads awake; want a third at least", readersAwake, readers)
		}
		if sleeperAwake*3 > sleeper {
			t.Errorf("%d of the sleeper's %d readings in its sleeps awake; want few", sleeperAwake, sleeper)
		}
	})
}

// unjoinedThreads: threads that nobody joins, of _thread and of
// threading; each ends by detaching its OS thread (_threadmodule.c's
// detach_thread, a static function of the same name as the thread
// state's).
const unjoinedThreads = `import _thread, threading, time
done = []
def w(i):
    s = 0
    for k in range(20000): s += k
    done.append(i)
for i in range(4): _thread.start_new_thread(w, (i,))
ts = [threading.Thread(target=w, args=(i,)) for i in range(4, 8)]
for t in ts: t.start()
while len(done) < 8: time.sleep(0.01)
time.sleep(0.05)
`

// TestUnjoinedThreads: the threads of a program that joins none of them
// are 8 threads beside the main one, and nothing is mended. Debian's 3.15
// has a clone of _threadmodule.c's detach_thread, which detaches an OS
// thread; taken for the thread state's detach (a static function of the
// same name), each thread's end made a second thread that "took" the GIL
// after the first had ended (17 threads, 2 mended).
func TestUnjoinedThreads(t *testing.T) {
	script := filepath.Join(t.TempDir(), "unjoined.py")
	if err := os.WriteFile(script, []byte(unjoinedThreads), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"3.13.0", "3.14 (Debian)", "3.15 (Debian)"} {
		t.Run(v, func(t *testing.T) {
			py := testPython(t, v)
			needTracing(t, py)
			tr, err := record(t, context.Background(), Command([]string{py, script}, Options{}))
			if err != nil {
				t.Fatal(err)
			}
			if len(tr.Threads) != 9 || tr.Meta.Extra["repairs"] != "" {
				t.Errorf("%d threads (%q), %q inconsistencies mended; want 9, none", len(tr.Threads), threadNames(tr), tr.Meta.Extra["repairs"])
			}
		})
	}
}
