package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/giltrace/giltrace/tracer"
)

// These tests run the giltrace binary as a user would: built once into a
// temporary directory, then started, signalled and killed.

var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// giltraceBinary builds the command once per test binary.
func giltraceBinary(t *testing.T) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("signals: Unix only")
	}
	if testing.Short() {
		t.Skip("builds and runs the giltrace binary (-short)")
	}
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "giltrace-bin")
		if built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "giltrace")
		out, err := exec.Command("go", "build", "-o", built.path, ".").CombinedOutput()
		if err != nil {
			built.err = errors.New(string(out))
		}
	})
	if built.err != nil {
		t.Fatalf("building giltrace: %v", built.err)
	}
	return built.path
}

func TestMain(m *testing.M) {
	// The in-process commands keep their default bound of events
	// whatever memory the test machine has left (TestFitEvents and
	// TestRecordFitsMemory say what they have).
	memAvailable = func() (int64, string) { return 0, "" }
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// longWorkload runs for a minute unless stopped: two CPU-bound threads
// taking turns on the GIL and one in short I/O, with many calls (so that
// a second of it is tens of thousands of events).
const longWorkload = `name: long
description: a long run to interrupt
threads:
  - name: counter
    count: 2
    run: count
    repeat: 1000000
  - name: poller
    run: poll
    repeat: 1000000
functions:
  count:
    - call: step
  step:
    - compute: {loops: 2000}
  poll:
    - io: {duration: 2ms, kind: network}
    - compute: {loops: 100}
`

// proc is a giltrace process under test.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr syncBuffer // written by the process's copying goroutines while the test reads them
	dir            string
}

func startRecord(t *testing.T, args ...string) *proc {
	t.Helper()
	bin := giltraceBinary(t)
	w := writeWorkload(t, longWorkload)
	p := &proc{dir: filepath.Join(t.TempDir(), "out")}
	p.cmd = exec.Command(bin, append([]string{"record", w, "-o", p.dir}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Kill(); p.cmd.Wait() })
	return p
}

// waitFor polls cond every 20 ms for at most d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
	}
}

// waitStreaming waits until the run's events reach the partial trace.
func (p *proc) waitStreaming(t *testing.T) {
	waitFor(t, 20*time.Second, "the run's events in the partial trace", func() bool {
		fi, err := os.Stat(filepath.Join(p.dir, partialName))
		return err == nil && fi.Size() > 4<<10
	})
}

// wait waits for the process to exit, at most d, and returns its status.
func (p *proc) wait(t *testing.T, d time.Duration) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(d):
		p.cmd.Process.Kill()
		<-done
		t.Fatalf("giltrace did not exit within %v of the signal\nstdout:\n%s\nstderr:\n%s", d, p.stdout.String(), p.stderr.String())
	}
	return p.cmd.ProcessState.ExitCode()
}

// TestRecordSignals: each stopping signal mid-run stops the run, saves the
// trace, writes the outputs, prints the report marked interrupted and exits
// with 128 + the signal's number.
func TestRecordSignals(t *testing.T) {
	for _, tc := range []struct {
		sig  syscall.Signal
		name string
	}{{syscall.SIGINT, "SIGINT"}, {syscall.SIGTERM, "SIGTERM"}, {syscall.SIGHUP, "SIGHUP"}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := startRecord(t, "--formats", "report,report-json,folded,flamegraph")
			p.waitStreaming(t)
			p.cmd.Process.Signal(tc.sig)
			if got, want := p.wait(t, 30*time.Second), 128+int(tc.sig); got != want {
				t.Fatalf("exit status %d, want %d\nstderr:\n%s", got, want, p.stderr.String())
			}
			stderr, stdout := p.stderr.String(), p.stdout.String()
			if !strings.Contains(stderr, "run interrupted by "+tc.name) {
				t.Errorf("stderr does not say the run was interrupted by %s:\n%s", tc.name, stderr)
			}
			if !strings.Contains(stdout, "trace: "+filepath.Join(p.dir, traceName)) || !strings.Contains(stdout, "interrupted") {
				t.Errorf("the report is not printed, or not marked interrupted:\n%s", stdout)
			}
			tr, err := tracer.ReadFile(filepath.Join(p.dir, traceName))
			if err != nil {
				t.Fatal(err)
			}
			if tr.Meta.Extra["interrupted"] != "true" || len(tr.Events) == 0 {
				t.Errorf("trace: %d events, interrupted %q", len(tr.Events), tr.Meta.Extra["interrupted"])
			}
			// The state is visible everywhere (issue 13).
			if s := tr.Summary(); !strings.Contains(s, ", interrupted") {
				t.Errorf("validate's summary does not say interrupted: %s", s)
			}
			for f, want := range map[string]string{
				"report.txt": "Trace: interrupted", "report.json": `"interrupted": true`,
				"flame.html": "incomplete: interrupted", "flame.folded": "",
			} {
				b, err := os.ReadFile(filepath.Join(p.dir, f))
				if err != nil || !strings.Contains(string(b), want) {
					t.Errorf("output %s: %v; want it to contain %q", f, err, want)
				}
			}
			if _, err := os.Stat(filepath.Join(p.dir, partialName)); err == nil {
				t.Errorf("%s left behind", partialName)
			}
		})
	}
}

// finiteWorkload ends by itself after a second or so, with a few hundred
// thousand events, whose outputs take a while.
const finiteWorkload = `name: finite
description: a run that ends by itself, with many events
threads:
  - name: counter
    count: 2
    run: count
    repeat: 50000
functions:
  count:
    - call: step
  step:
    - compute: {loops: 200}
`

// TestRecordSignalAfterRun: each stopping signal after a run that ended by
// itself, while its outputs are written, stops them within a second or so
// (naming those not written), keeps the trace, and exits 128 + its number.
func TestRecordSignalAfterRun(t *testing.T) {
	bin := giltraceBinary(t)
	for _, tc := range []struct {
		sig  syscall.Signal
		name string
	}{{syscall.SIGINT, "SIGINT"}, {syscall.SIGTERM, "SIGTERM"}, {syscall.SIGHUP, "SIGHUP"}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			w := writeWorkload(t, finiteWorkload)
			p := &proc{dir: filepath.Join(t.TempDir(), "out")}
			p.cmd = exec.Command(bin, "record", w, "-o", p.dir)
			p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
			if err := p.cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.cmd.Process.Kill() })
			trace := filepath.Join(p.dir, traceName)
			waitFor(t, 60*time.Second, "the end of the run", func() bool { _, err := os.Stat(trace); return err == nil })
			p.cmd.Process.Signal(tc.sig)
			sent := time.Now()
			status := p.wait(t, 20*time.Second)
			if d := time.Since(sent); d > 3*time.Second {
				t.Errorf("exited %v after the signal", d)
			}
			stderr := p.stderr.String()
			t.Logf("status %d, stderr:\n%s", status, stderr)
			if status != 128+int(tc.sig) && !(status == 0 && strings.Contains(p.stdout.String(), "outputs: ")) {
				t.Errorf("exit status %d, want %d (or 0 if it had finished)\n%s", status, 128+int(tc.sig), stderr)
			}
			if _, err := tracer.ReadFile(trace); err != nil {
				t.Fatal(err)
			}
			if i := strings.Index(stderr, "outputs not written: "); i >= 0 {
				for _, f := range strings.Fields(strings.SplitN(stderr[i+len("outputs not written: "):], "\n", 2)[0]) {
					if _, err := os.Stat(f); err == nil {
						t.Errorf("%s said not written, but exists", f)
					}
				}
			}
			assertNoTemp(t, p.dir)
		})
	}
}

// TestRecordSecondSignal: a second signal, once the trace is saved, stops
// the output phase within a second or so, says which outputs were not
// written, and keeps the trace.
func TestRecordSecondSignal(t *testing.T) {
	p := startRecord(t)
	p.waitStreaming(t)
	time.Sleep(1500 * time.Millisecond) // enough events that the outputs take a while
	p.cmd.Process.Signal(syscall.SIGTERM)
	trace := filepath.Join(p.dir, traceName)
	waitFor(t, 30*time.Second, "the saved trace", func() bool { _, err := os.Stat(trace); return err == nil })
	p.cmd.Process.Signal(syscall.SIGINT)
	sent := time.Now()
	status := p.wait(t, 10*time.Second)
	if status != 143 {
		t.Errorf("exit status %d, want 143 (the first signal's)", status)
	}
	if d := time.Since(sent); d > 3*time.Second {
		t.Errorf("exited %v after the second signal", d)
	}
	if _, err := tracer.ReadFile(trace); err != nil {
		t.Fatal(err)
	}
	// Either the outputs were all written before the signal, or the
	// message names those that were not, and they do not exist.
	stderr := p.stderr.String()
	t.Logf("stderr:\n%s", stderr)
	if i := strings.Index(stderr, "outputs not written: "); i >= 0 {
		for _, f := range strings.Fields(strings.SplitN(stderr[i+len("outputs not written: "):], "\n", 2)[0]) {
			if _, err := os.Stat(f); err == nil {
				t.Errorf("%s said not written, but exists", f)
			}
		}
	} else if !strings.Contains(p.stdout.String(), "outputs: ") {
		t.Errorf("neither the outputs nor the ones not written are listed:\nstdout:\n%s\nstderr:\n%s", p.stdout.String(), stderr)
	}
}

// TestRecordKilled: a run killed with SIGKILL leaves its trace streamed so
// far, which reads as a truncated trace of what was recorded up to the
// last half second or so.
func TestRecordKilled(t *testing.T) {
	p := startRecord(t)
	p.waitStreaming(t)
	streaming := time.Now() // the run began before this
	time.Sleep(2 * time.Second)
	p.cmd.Process.Kill()
	killed := time.Now()
	p.cmd.Wait()
	partial := filepath.Join(p.dir, partialName)
	tr, err := tracer.ReadFile(partial)
	var te *tracer.TruncatedError
	if !errors.As(err, &te) || tr == nil {
		t.Fatalf("reading the killed run's trace: %v", err)
	}
	if !tr.Truncated || len(tr.Events) == 0 || tr.Meta.Workload != "long" {
		t.Fatalf("killed run: truncated %v, %d events, workload %q", tr.Truncated, len(tr.Events), tr.Meta.Workload)
	}
	// The bound: the prefix covers the run up to 2 x StreamFlush before the
	// kill, plus slack for a loaded machine. The run began before
	// streaming was seen, so its prefix lasts at least this long.
	want := killed.Sub(streaming) - 2*tracer.StreamFlush - time.Second
	if got := time.Duration(tr.Duration()); got < want {
		t.Errorf("the prefix lasts %v, want at least %v (killed %v after the stream was seen)", got, want, killed.Sub(streaming))
	}
	if _, err := os.Stat(filepath.Join(p.dir, traceName)); err == nil {
		t.Errorf("a killed run left a complete %s", traceName)
	}
}

// TestRecordSameDirRefused: a record into a directory another record is
// writing is refused at once, naming the directory, and the running one
// goes on untouched (two at once deleted each other's outputs and left a
// corrupt trace).
func TestRecordSameDirRefused(t *testing.T) {
	p := startRecord(t)
	p.waitStreaming(t)
	w := writeWorkload(t, longWorkload)
	_, err := runRoot("record", w, "-o", p.dir, "--clock", "virtual")
	if err == nil || !strings.Contains(err.Error(), "another giltrace command is writing a run into "+p.dir) {
		t.Fatalf("a second record into the same directory: %v", err)
	}
	if _, err := os.Stat(filepath.Join(p.dir, partialName)); err != nil {
		t.Errorf("the running record's trace: %v", err)
	}
	p.cmd.Process.Signal(os.Interrupt)
	if code := p.wait(t, 30*time.Second); code != 130 {
		t.Errorf("the first record exited %d after SIGINT, want 130\n%s", code, p.stderr.String())
	}
	if _, err := tracer.ReadFile(filepath.Join(p.dir, traceName)); err != nil {
		t.Errorf("the first record's trace: %v", err)
	}
}

// TestRecordKeepsUserFiles: in a directory that holds no run (no
// run.giltrace), a file under one of giltrace's output names that this
// record does not write is the user's: it stays.
func TestRecordKeepsUserFiles(t *testing.T) {
	dir := t.TempDir()
	mine := filepath.Join(dir, "trace.json")
	if err := os.WriteFile(mine, []byte(`{"mine":1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	w := writeWorkload(t, `name: short
threads: [{name: t, run: f}]
functions:
  f: [{compute: 1ms}]
`)
	if out, err := runRoot("record", w, "-o", dir, "--clock", "virtual", "--formats", "report"); err != nil {
		t.Fatalf("record: %v\n%s", err, out)
	} else if strings.Contains(out, "replaced the previous run") {
		t.Errorf("record says it replaced a run where there was none:\n%s", out)
	}
	if b, err := os.ReadFile(mine); err != nil || string(b) != `{"mine":1}` {
		t.Errorf("the user's trace.json: %q, %v", b, err)
	}
}

// TestRecordPythonWithoutPrivilege: a user who may not create uprobes is
// told so first, before anything else fails (here the output directory,
// which that user could not make either), and nothing is created.
func TestRecordPythonWithoutPrivilege(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("runs giltrace as another user: needs root (CI runs as root)")
	}
	bin := giltraceBinary(t)
	if err := os.Chmod(filepath.Dir(bin), 0o755); err != nil { // MkdirTemp's 0700
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out") // in a directory only root may write
	for _, args := range [][]string{{"record", "-o", out, "--", "python3", "-c", "pass"}, {"attach", "-o", out, "1"}} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = "/"
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		b, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(b), "needs root") || strings.Contains(string(b), "mkdir") {
			t.Errorf("giltrace %s as nobody: %v\n%s", strings.Join(args, " "), err, b)
		}
		// Said of what was asked (QA: "recording NAME" for an attach).
		if want := map[string]string{"record": "recording ", "attach": "attaching to "}[args[0]]; !strings.Contains(string(b), want) {
			t.Errorf("giltrace %s as nobody: %q, want %q in it", strings.Join(args, " "), b, want)
		}
		if _, err := os.Lstat(out); !os.IsNotExist(err) {
			t.Errorf("giltrace %s as nobody made %s (%v)", strings.Join(args, " "), out, err)
		}
	}
}
