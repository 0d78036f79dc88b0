package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// newTestInterrupts is a watcher whose forced exit is recorded, not taken.
func newTestInterrupts(t *testing.T) (*interrupts, context.Context, *bytes.Buffer, chan int) {
	ctx, cancel := context.WithCancelCause(context.Background())
	t.Cleanup(func() { cancel(nil) })
	var stderr bytes.Buffer
	exited := make(chan int, 1)
	in := &interrupts{cancel: cancel, stderr: &stderr, exit: func(c int) { exited <- c }, next: make(chan struct{}), temps: map[string]bool{}}
	return in, context.WithValue(ctx, interruptsKey{}, in), &stderr, exited
}

// TestForcedExit: a signal that the command does not answer within
// forceAfter exits with 128 + its number, removes the temporary files and
// says what was not written.
func TestForcedExit(t *testing.T) {
	in, ctx, stderr, exited := newTestInterrupts(t)
	tmp := filepath.Join(t.TempDir(), ".out.tmp1")
	os.WriteFile(tmp, nil, 0o644)
	in.track(tmp, true)
	in.setPending(func() string { return "outputs not written: a b" })
	start := time.Now()
	in.signal(syscall.SIGTERM)
	if ctx.Err() == nil {
		t.Error("the signal did not cancel the context")
	}
	select {
	case code := <-exited:
		if code != 143 {
			t.Errorf("exit %d, want 143", code)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no forced exit")
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("forced exit after %v", d)
	}
	if !strings.Contains(stderr.String(), "interrupted; outputs not written: a b") {
		t.Errorf("stderr %q", stderr.String())
	}
	if _, err := os.Stat(tmp); err == nil {
		t.Error("temporary file left")
	}
}

// TestNoForcedExitWhileUnsafe: while the trace is being finished, a signal
// only cancels; the run's end is waited for.
func TestNoForcedExitWhileUnsafe(t *testing.T) {
	in, _, _, exited := newTestInterrupts(t)
	in.setUnsafe(+1)
	in.signal(syscall.SIGINT)
	select {
	case <-exited:
		t.Fatal("forced exit while the trace was unsafe")
	case <-time.After(forceAfter + 300*time.Millisecond):
	}
	if in.Signal() != syscall.SIGINT {
		t.Errorf("Signal() = %v", in.Signal())
	}
}

// TestThirdSignal: the third signal exits at once, even while the trace
// is being finished.
func TestThirdSignal(t *testing.T) {
	in, _, stderr, exited := newTestInterrupts(t)
	in.setUnsafe(+1)
	in.setPending(func() string { return "the run so far is in x.partial" })
	cleaned := 0
	in.atForcedExit(func() { cleaned++ })
	second := in.nth(2)
	in.signal(syscall.SIGINT)
	select {
	case <-second:
		t.Fatal("nth(2) ready at the first signal")
	default:
	}
	in.signal(syscall.SIGINT)
	select {
	case <-second:
	default:
		t.Fatal("nth(2) not ready at the second signal")
	}
	select {
	case <-in.nth(2): // asked for after it came: ready
	default:
		t.Fatal("nth(2) asked for after the second signal is not ready")
	}
	select {
	case <-exited:
		t.Fatal("exited at the second signal while unsafe")
	default:
	}
	if cleaned != 0 {
		t.Fatal("the forced exit's cleanup ran without a forced exit")
	}
	in.signal(syscall.SIGTERM)
	select {
	case code := <-exited:
		if code != 130 {
			t.Errorf("exit %d, want 130 (the first signal's)", code)
		}
	case <-time.After(time.Second):
		t.Fatal("the third signal did not exit")
	}
	if !strings.Contains(stderr.String(), "x.partial") {
		t.Errorf("stderr %q", stderr.String())
	}
	if cleaned != 1 {
		t.Errorf("the forced exit ran its cleanup %d times, want once", cleaned)
	}
}

// TestNewPhase: a phase begun after a signal is cancelled by the next one,
// not by that one.
func TestNewPhase(t *testing.T) {
	in, ctx, _, _ := newTestInterrupts(t)
	in.setUnsafe(+1) // no forced exit in this test
	in.signal(syscall.SIGINT)
	pctx, cancel := newPhase(ctx)
	defer cancel()
	if pctx.Err() != nil {
		t.Fatal("the phase is cancelled by the signal before it")
	}
	in.signal(syscall.SIGINT)
	select {
	case <-pctx.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("the second signal did not cancel the phase")
	}
	if exitStatus(syscall.SIGHUP) != 129 || exitStatus(syscall.SIGINT) != 130 || exitStatus(syscall.SIGTERM) != 143 {
		t.Error("exit statuses")
	}
}

// TestViewSignal: view serves until a signal, then exits 128 + its number
// within a second.
func TestViewSignal(t *testing.T) {
	path, _ := writeTrace(t, testkit.Mixed())
	bin := giltraceBinary(t)
	p := &proc{}
	p.cmd = exec.Command(bin, "view", path)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the server", func() bool { return strings.Contains(p.stdout.String(), "serving http://") })
	p.cmd.Process.Signal(syscall.SIGHUP)
	start := time.Now()
	if got := p.wait(t, 5*time.Second); got != 129 {
		t.Errorf("exit status %d, want 129\n%s", got, p.stderr.String())
	}
	if d := time.Since(start); d > 3*time.Second { // a second, plus slack for a loaded machine
		t.Errorf("exited %v after the signal", d)
	}
}

// TestIgnoredSignalStaysIgnored: a stopping signal that giltrace was
// started with ignored (nohup, a script's background job) stays ignored:
// view, started under `trap "" HUP`, serves on after a SIGHUP and stops
// at a SIGINT (QA: under nohup, SIGHUP interrupted a record and the
// program it traced, which inherited the signal no longer ignored).
func TestIgnoredSignalStaysIgnored(t *testing.T) {
	path, _ := writeTrace(t, testkit.Mixed())
	bin := giltraceBinary(t)
	p := &proc{}
	p.cmd = exec.Command("sh", "-c", `trap "" HUP; exec "$0" view "$1"`, bin, path)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the server", func() bool { return strings.Contains(p.stdout.String(), "serving http://") })
	p.cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(1500 * time.Millisecond) // past forceAfter, had it counted: it would have exited 129
	p.cmd.Process.Signal(syscall.SIGINT)
	if got := p.wait(t, 5*time.Second); got != 130 {
		t.Errorf("exit status %d, want 130 (SIGINT; SIGHUP ignored)\n%s", got, p.stderr.String())
	}
}

// TestSameSignalTwice: the same signal again within sameSignalWindow is
// one signal delivered twice (GNU timeout signals giltrace, then its
// process group: QA saw the program killed 1 ms after the first, as at a
// second signal); after the window, or another signal, it is a second.
func TestSameSignalTwice(t *testing.T) {
	// counted sends the signals, pausing before those given as pauses,
	// and reports whether a second signal was counted.
	counted := func(sigs []syscall.Signal, pause map[int]time.Duration) bool {
		in, _, _, _ := newTestInterrupts(t)
		in.setUnsafe(+1) // no forced exit in this test
		in.dupWindow = sameSignalWindow
		second := in.nth(2)
		for i, s := range sigs {
			time.Sleep(pause[i])
			in.signal(s)
		}
		select {
		case <-second:
			return true
		default:
			return false
		}
	}
	if counted([]syscall.Signal{syscall.SIGINT, syscall.SIGINT}, nil) {
		t.Error("the same signal twice at once counted as a second")
	}
	if !counted([]syscall.Signal{syscall.SIGINT, syscall.SIGINT, syscall.SIGINT}, map[int]time.Duration{2: sameSignalWindow + 20*time.Millisecond}) {
		t.Error("the same signal after the window is not a second")
	}
	if !counted([]syscall.Signal{syscall.SIGINT, syscall.SIGTERM}, nil) {
		t.Error("another signal at once is not a second")
	}
}

// TestPendingAfterInterruptedOutputs: outputs that a signal interrupted
// are still "not written" for a forced exit after writeOutputs returned
// (the diagnosis printed next takes long), beside what the command said
// before them (QA: "giltrace: interrupted" alone, the trace saved and no
// output written).
func TestPendingAfterInterruptedOutputs(t *testing.T) {
	in, ctx, _, _ := newTestInterrupts(t)
	in.setPending(func() string { return "the trace is saved in d/run.giltrace; outputs not written: d/report.txt" })
	cctx, cancel := context.WithCancel(ctx)
	cancel() // the signal came: every output is interrupted
	dir := t.TempDir()
	if _, err := writeOutputs(cctx, dir, newRun(testkit.Mixed()), []string{"report", "folded"}); err == nil || !strings.Contains(err.Error(), "interrupted") {
		t.Fatalf("writeOutputs: %v", err)
	}
	got := in.pendingNow()()
	want := "the trace is saved in d/run.giltrace; outputs not written: " + filepath.Join(dir, "report.txt") + " " + filepath.Join(dir, "flame.folded")
	if got != want {
		t.Errorf("pending %q\nwant    %q", got, want)
	}
}

// TestExportStoppedAsItEnded: a signal that came as an export ended (its
// output written whole) is said, with the file (QA: exit status 143 and
// nothing on stderr, the user's file replaced by the complete export).
func TestExportStoppedAsItEnded(t *testing.T) {
	in, ctx, _, _ := newTestInterrupts(t)
	in.mu.Lock()
	in.first = syscall.SIGTERM // as if it came just now: the context is not cancelled yet
	in.mu.Unlock()
	dir := t.TempDir()
	trace := filepath.Join(dir, "a.giltrace")
	if err := tracer.WriteFile(trace, testkit.Mixed()); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "x.folded")
	cmd := newRootCmd()
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs([]string{"export", trace, "-f", "folded", "-o", out})
	if err := cmd.ExecuteContext(ctx); err != nil {
		t.Fatal(err)
	}
	if want := "giltrace: stopped by SIGTERM as the export ended: " + out + " is written whole"; !strings.Contains(stderr.String(), want) {
		t.Errorf("stderr %q, want %q", stderr.String(), want)
	}
}

// TestForcedExitHoldsTheCommand: while a forced exit's clean-ups run (a
// real program's probes take 0.3-0.8 s to remove), the command, which goes
// on meanwhile, waits at its next temporary file or trace being finished:
// what the exit says about the run's files stays true.
func TestForcedExitHoldsTheCommand(t *testing.T) {
	in, _, _, exited := newTestInterrupts(t)
	in.setPending(func() string { return "the run so far is in x.partial" })
	tracked := make(chan struct{})
	in.atForcedExit(func() {
		go func() {
			in.track("x.tmp", true) // the command's next step
			close(tracked)
		}()
		select {
		case <-tracked:
			t.Error("the command made a temporary file while the forced exit's clean-ups ran")
		case <-time.After(100 * time.Millisecond):
		}
	})
	in.forceExit(true)
	<-exited
	<-tracked // the exit returned (a test's): the command goes on
}
