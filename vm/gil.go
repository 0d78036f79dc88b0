package vm

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/giltrace/giltrace/tracer"
)

// breaker is a process's eval breaker: one word that the interpreter
// loads at its check points (backward jumps, calls, function entry) and
// that is non-zero when something needs the thread's attention.
//
// In real time it is set and cleared by atomic read-modify-writes (locked
// instructions). In virtual time (plain) only the run's coroutines touch
// it, one at a time, each switch ordering their accesses, so a plain
// read-modify-write does: the locked OR (a compare-and-swap loop, as its
// old value is wanted) and AND of every GIL switch were 3 % of a
// contended countdown's simulation on this machine (docs/performance.md,
// "Eighteenth pass"). The context callbacks that set the stop bit from
// another goroutine in real time are not registered then: the virtual
// clock stops the run and exits a process itself (vclock.stop, exit).
type breaker struct {
	w     uint32 // read with load; written with set and clear
	plain bool   // virtual time: no other goroutine writes w
}

// load is the breaker's word.
func (b *breaker) load() uint32 { return atomic.LoadUint32(&b.w) }

// Eval breaker bits.
const (
	bitDrop uint32 = 1 << iota // a waiter asks the GIL holder to drop it (gil_drop_request)
	bitStop                    // the run is stopped (Ctrl-C)
)

// set sets bit and reports whether it was clear before.
func (b *breaker) set(bit uint32) bool {
	if b.plain {
		old := b.w
		b.w = old | bit
		return old&bit == 0
	}
	return atomic.OrUint32(&b.w, bit)&bit == 0
}

// clear clears bit.
func (b *breaker) clear(bit uint32) {
	if b.plain {
		b.w &^= bit
		return
	}
	atomic.AndUint32(&b.w, ^bit)
}

// has reports whether bit is set.
func (b *breaker) has(bit uint32) bool { return b.load()&bit != 0 }

// gil is the seam between the interpreter and a GIL mode. Each method is
// called by a thread for itself; the implementation emits the thread's GIL
// events following the tracer's event protocol.
type gil interface {
	// acquire takes the GIL, waiting as the mode says. It returns
	// errStopped, without the GIL, if the run is stopped meanwhile.
	acquire(th *thread) error
	// release lets the GIL go, voluntarily (I/O, native, guest lock wait)
	// or for good (thread end, interrupt). It may return errStopped after
	// releasing, while waiting for a forced switch.
	release(th *thread, why tracer.Release) error
	// drop answers a drop request seen at the eval breaker: release,
	// wait for the switch, re-acquire.
	drop(th *thread) error
	// tick is called at the eval breaker once the thread has run a check
	// interval of instructions (legacy mode).
	tick(th *thread) error
	// lockID is the GIL's lock in the trace, or tracer.NoLock.
	lockID() tracer.LockID
}

// newGIL returns the GIL of mode for a process.
func newGIL(mode tracer.GILMode, id tracer.LockID, c Clock, b *breaker, interval time.Duration, seed uint64) (gil, error) {
	switch mode {
	case tracer.GILCPython:
		l := newLock(id, c, seed)
		l.interval, l.timedWait = interval, interval
		if vc, ok := c.(*vclock); ok {
			l.timedWait += time.Duration(vc.timer)
		}
		l.breaker = b
		return &cpythonGIL{l}, nil
	case tracer.GILLegacy:
		l := newLock(id, c, seed)
		l.mu.goMu = new(sync.Mutex) // kmutex_linux.go
		return &legacyGIL{l}, nil
	case tracer.GILNone:
		return noGIL{}, nil
	}
	return nil, fmt.Errorf("unknown GIL mode %q (want %s, %s or %s)", mode, tracer.GILCPython, tracer.GILLegacy, tracer.GILNone)
}

// cpythonGIL is the "new GIL" of CPython 3.2+ (Python/ceval_gil.c).
type cpythonGIL struct{ l *lock }

func (g *cpythonGIL) acquire(th *thread) error { return g.l.acquire(th, false) }
func (g *cpythonGIL) release(th *thread, why tracer.Release) error {
	return g.l.release(th, why)
}
func (g *cpythonGIL) drop(th *thread) error {
	if err := g.l.release(th, tracer.ReleaseDropRequest); err != nil {
		return err
	}
	if th.holdsGIL {
		return nil // virtual time: it took the GIL back in release (vclock.switched)
	}
	return g.l.acquire(th, true)
}
func (g *cpythonGIL) tick(*thread) error    { return nil }
func (g *cpythonGIL) lockID() tracer.LockID { return g.l.id }

// legacyGIL is Python 2's GIL: a plain lock that the holder releases and
// immediately re-acquires every check interval; there is no drop request
// and no forced switch, so on a multicore machine the releasing thread
// usually takes it straight back while the woken waiter finds it held.
type legacyGIL struct{ l *lock }

func (g *legacyGIL) acquire(th *thread) error { return g.l.acquire(th, false) }
func (g *legacyGIL) release(th *thread, why tracer.Release) error {
	return g.l.release(th, why)
}
func (g *legacyGIL) drop(*thread) error { return nil }

// tick releases and re-acquires the GIL. A tick with no thread waiting
// changes nothing anyone could observe, so it is skipped without an event.
func (g *legacyGIL) tick(th *thread) error {
	if g.l.waiting() == 0 {
		return nil
	}
	if err := g.l.release(th, tracer.ReleaseLegacyTick); err != nil {
		return err
	}
	return g.l.acquire(th, false)
}
func (g *legacyGIL) lockID() tracer.LockID { return g.l.id }

// noGIL is free-threaded mode: nothing to take, no events.
type noGIL struct{}

func (noGIL) acquire(*thread) error                 { return nil }
func (noGIL) release(*thread, tracer.Release) error { return nil }
func (noGIL) drop(*thread) error                    { return nil }
func (noGIL) tick(*thread) error                    { return nil }
func (noGIL) lockID() tracer.LockID                 { return tracer.NoLock }
