//go:build !linux

package vm

import (
	"context"
	"time"
)

// Elsewhere the Waker is a channel holding at most one signal, and the
// timeout a Go timer.
type waker struct {
	ch chan struct{}
}

func (w *waker) init() { w.ch = make(chan struct{}, 1) }

// Signal wakes the parked thread, or leaves a signal for its next Park.
func (w *Waker) Signal() {
	select {
	case w.ch <- struct{}{}:
	default:
	}
}

// Drain forgets a pending signal.
func (w *Waker) Drain() {
	select {
	case <-w.ch:
	default:
	}
}

// Park blocks until a signal (WakeSignal), the timeout (WakeTimeout; never
// when timeout <= 0), or ctx is done (WakeStop).
func (w *Waker) Park(ctx context.Context, timeout time.Duration) Wake {
	var fired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		fired = t.C
	}
	select {
	case <-w.ch:
		return WakeSignal
	case <-fired:
		return WakeTimeout
	case <-ctx.Done():
		return WakeStop
	}
}

// Sleep blocks until d has passed (true) or ctx is done (false); a signal
// meanwhile does not end it.
func (w *Waker) Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// pending reports whether a signal is pending (tests).
func (w *Waker) pending() bool { return len(w.ch) > 0 }
