package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// stopSignals are the signals that stop giltrace: Ctrl-C (SIGINT), what
// timeout(1), systemd, container runtimes and CI send to cancel (SIGTERM),
// and a closed terminal (SIGHUP).
var stopSignals = []os.Signal{os.Interrupt, syscall.SIGTERM, syscall.SIGHUP}

// watchedSignals are the stopSignals that giltrace was not started with
// ignored. One ignored stays ignored, for giltrace and for the program it
// starts (QA: under nohup, giltrace's signal.Notify made SIGHUP count
// again, and a closed terminal interrupted the run and the program; a
// background job of a script, started with SIGINT ignored, was
// interrupted by a Ctrl-C meant for the script).
func watchedSignals() []os.Signal {
	var out []os.Signal
	for _, s := range stopSignals {
		if !signal.Ignored(s) {
			out = append(out, s)
		}
	}
	return out
}

// forceAfter is how long giltrace waits, after a signal, for the command to
// return by itself once nothing unsafe is under way, before it exits: every
// phase answers a signal within a second.
const forceAfter = 500 * time.Millisecond

// interrupts turns the stopping signals into cancellations. The first
// signal cancels the command's context (record's run stops within a switch
// interval or two); each signal also cancels every phase context begun
// before it (newPhase), so that a second signal stops record's outputs.
// When a signal arrives while nothing unsafe is under way (see setUnsafe)
// and the command has not returned within forceAfter, or at the third
// signal whatever is under way, it removes the temporary files still
// registered, prints what was left undone and exits with 128 + the first
// signal's number.
type interrupts struct {
	cancel context.CancelCauseFunc
	stderr io.Writer
	exit   func(int) // os.Exit, replaced in tests

	mu      sync.Mutex
	first   os.Signal // the first signal received, or nil
	count   int       // signals received
	lastSig os.Signal // the last one
	lastAt  time.Time // when it came
	// dupWindow: the same signal again within it is the same signal
	// delivered twice, not a second one (0 in tests that count signals).
	dupWindow time.Duration
	next      chan struct{} // closed at the next signal
	unsafe    int           // > 0 while a trace is not yet safe on disk
	temps     map[string]bool
	pending   func() string // says what is left undone, for a forced exit
	returned  bool          // the command returned: main exits
	cleanups  []func()      // run by a forced exit before it exits (atForcedExit)
	waiters   []countWaiter // nth's channels not yet closed
}

// countWaiter is a channel closed at the n-th signal (nth).
type countWaiter struct {
	n  int
	ch chan struct{}
}

type interruptsKey struct{}

// notifyInterrupts starts watching the stopping signals and returns the
// context they cancel and the watcher; stop ends the watch.
func notifyInterrupts(parent context.Context, stderr io.Writer) (context.Context, *interrupts, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	in := &interrupts{cancel: cancel, stderr: stderr, exit: os.Exit, next: make(chan struct{}), temps: map[string]bool{}, dupWindow: sameSignalWindow}
	ctx = context.WithValue(ctx, interruptsKey{}, in)
	ch := make(chan os.Signal, 4)
	if sigs := watchedSignals(); len(sigs) > 0 {
		signal.Notify(ch, sigs...)
	}
	done := make(chan struct{})
	go func() {
		for {
			select {
			case s := <-ch:
				in.signal(s)
			case <-done:
				return
			}
		}
	}()
	return ctx, in, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
		in.mu.Lock()
		in.returned = true // main exits by itself now: no forced exit
		in.mu.Unlock()
	}
}

// interruptsOf returns the watcher of ctx, or nil (in tests that call the
// commands directly, or with no context).
func interruptsOf(ctx context.Context) *interrupts {
	if ctx == nil { // a command not executed
		return nil
	}
	in, _ := ctx.Value(interruptsKey{}).(*interrupts)
	return in
}

// sameSignalWindow: a signal that comes again within it is one signal
// delivered twice. GNU timeout sends its signal to its child, giltrace,
// and then to its own process group, giltrace again (QA: `timeout -s INT
// 2 giltrace record -- python3 ...` counted a second signal, which kills
// the program at once, 1 ms after the first); a terminal's Ctrl-C reaches
// giltrace once, and a person's second Ctrl-C comes a few hundred ms
// later.
const sameSignalWindow = 50 * time.Millisecond

// signal handles one received signal.
func (in *interrupts) signal(s os.Signal) {
	in.mu.Lock()
	if in.dupWindow > 0 && in.count > 0 && s == in.lastSig && time.Since(in.lastAt) < in.dupWindow {
		in.mu.Unlock()
		return
	}
	in.lastAt = time.Now()
	if in.first == nil {
		in.first = s
	}
	in.count++
	in.lastSig = s
	close(in.next)
	in.next = make(chan struct{})
	kept := in.waiters[:0]
	for _, w := range in.waiters {
		if in.count >= w.n {
			close(w.ch)
		} else {
			kept = append(kept, w)
		}
	}
	in.waiters = kept
	force, now := in.unsafe == 0, in.count >= forceCount
	in.mu.Unlock()
	in.cancel(fmt.Errorf("stopped%s", signalName(s))) // the cause the run's error names
	switch {
	case now:
		in.forceExit(true)
	case force:
		time.AfterFunc(forceAfter, func() { in.forceExit(false) })
	}
}

// forceCount is the signal that exits at once, even while a trace is being
// finished: the third. A recorded trace is streamed to its file as the run
// goes, so even then at most the last half second of the run is lost.
const forceCount = 3

// forceExit ends a command that did not return after a signal; unless
// now, not while a trace is being finished.
func (in *interrupts) forceExit(now bool) {
	in.mu.Lock()
	if in.returned || in.unsafe > 0 && !now { // a trace is being finished: that comes first
		in.mu.Unlock()
		return
	}
	for p := range in.temps {
		os.Remove(p)
	}
	msg := "giltrace: interrupted"
	if in.pending != nil {
		if p := in.pending(); p != "" {
			msg += "; " + p
		}
	}
	code := exitStatus(in.first)
	// in.mu is held until the exit: the command goes on while the
	// clean-ups run (a real program's probes take 0.3-0.8 s to remove),
	// and waits at its next step that makes a temporary file or finishes
	// a trace (track, setUnsafe), so that what msg says stays true (QA:
	// "the run so far is in run.giltrace.partial" after the command had
	// renamed it and printed its report).
	defer in.mu.Unlock() // tests: exit returns
	for _, f := range in.cleanups {
		f()
	}
	fmt.Fprintln(in.stderr, msg)
	in.exit(code)
}

// atForcedExit registers f to run when a forced exit ends the command
// (removing what must not outlive giltrace, such as a real program's
// uprobes).
func (in *interrupts) atForcedExit(f func()) {
	if in == nil {
		return
	}
	in.mu.Lock()
	in.cleanups = append(in.cleanups, f)
	in.mu.Unlock()
}

// nth returns a channel closed at the n-th stopping signal (already closed
// if it came); nil (never ready) without a watcher.
func (in *interrupts) nth(n int) <-chan struct{} {
	if in == nil {
		return nil
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	ch := make(chan struct{})
	if in.count >= n {
		close(ch)
	} else {
		in.waiters = append(in.waiters, countWaiter{n, ch})
	}
	return ch
}

// Signal returns the first signal received, or nil.
func (in *interrupts) Signal() os.Signal {
	if in == nil {
		return nil
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.first
}

// setUnsafe marks the start (+1) or the end (-1) of a step that must not be
// cut short by a forced exit: finishing the trace on disk.
func (in *interrupts) setUnsafe(d int) {
	if in == nil {
		return
	}
	in.mu.Lock()
	in.unsafe += d
	in.mu.Unlock()
}

// setPending installs what a forced exit prints as left undone.
func (in *interrupts) setPending(f func() string) {
	if in == nil {
		return
	}
	in.mu.Lock()
	in.pending = f
	in.mu.Unlock()
}

// pendingNow is the function that says what a forced exit would print as
// left undone (setPending's), nil for none.
func (in *interrupts) pendingNow() func() string {
	if in == nil {
		return nil
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.pending
}

// track registers (add) or unregisters a temporary file that a forced exit
// removes.
func (in *interrupts) track(path string, add bool) {
	if in == nil {
		return
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if add {
		in.temps[path] = true
	} else {
		delete(in.temps, path)
	}
}

// newPhase returns a context cancelled by the next stopping signal, but not
// by one already received: after a signal stopped record's run, the outputs
// of what it recorded are still written, and a second signal stops them.
// Without a watcher (tests) it is ctx without its cancellation.
func newPhase(ctx context.Context) (context.Context, context.CancelFunc) {
	pctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	in := interruptsOf(ctx)
	if in == nil {
		return pctx, func() { cancel(nil) }
	}
	in.mu.Lock()
	next := in.next
	in.mu.Unlock()
	go func() {
		select {
		case <-next:
			cancel(fmt.Errorf("stopped%s", signalName(in.last())))
		case <-pctx.Done():
		}
	}()
	return pctx, func() { cancel(nil) }
}

// last returns the last signal received.
func (in *interrupts) last() os.Signal {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.lastSig
}

// exitStatus is 128 + the signal's number, as shells report a process
// killed by it: 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP.
func exitStatus(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return 1
}

// signalName is " by SIGTERM" (etc.) for messages, or "" for no signal.
func signalName(s os.Signal) string {
	n, ok := s.(syscall.Signal)
	if !ok {
		return ""
	}
	switch n {
	case syscall.SIGINT:
		return " by SIGINT"
	case syscall.SIGTERM:
		return " by SIGTERM"
	case syscall.SIGHUP:
		return " by SIGHUP"
	}
	return " by " + n.String()
}
