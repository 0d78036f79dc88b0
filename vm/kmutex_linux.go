//go:build linux

package vm

import (
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// kmutex is the mutex of a guest lock (CPython's gil->mutex): on Linux a
// futex mutex, as glibc's default pthread mutex is. A thread that finds it
// taken sleeps in the kernel and the unlocking thread wakes it with
// futex(FUTEX_WAKE), as in CPython. Go's sync.Mutex parks the goroutine in
// Go's scheduler instead, and a guest thread is then woken through other
// threads (the unlocker's processor readies it, and an idle processor's
// thread is woken to take it), each of which may wait for a core on a
// loaded machine. States: unlocked, locked, locked with
// sleepers (Drepper, "Futexes Are Tricky", mutex 3).
//
// The legacy GIL keeps Go's mutex (goMu) and wakes its waiter under it,
// as before: Python 2's GIL is a semaphore whose releaser usually takes it
// straight back on a multicore machine (Beazley; TestLegacyTicks: 97-98 %
// of the ticks here), where the futex mutex, with the wake-up after the
// unlock, let the woken waiter win 40-60 % of them on this machine.
//
// In virtual time it is off: the guest threads are coroutines that run one
// at a time (vclock), and a locked instruction per Lock and Unlock was a
// measurable share of a simulation's cost on virtual machines.
type kmutex struct {
	state atomic.Uint32
	goMu  *sync.Mutex
	off   bool // virtual time: Lock and Unlock do nothing
}

const (
	kmUnlocked = iota
	kmLocked
	kmContended // locked, and a thread may sleep on it
)

func (m *kmutex) Lock() {
	if m.off {
		return
	}
	if m.goMu != nil {
		m.goMu.Lock()
		return
	}
	if m.state.CompareAndSwap(kmUnlocked, kmLocked) {
		return
	}
	for m.state.Swap(kmContended) != kmUnlocked {
		unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(&m.state)), futexWait|futexPrivateFlag, kmContended, 0, 0, 0)
	}
}

func (m *kmutex) Unlock() {
	if m.off {
		return
	}
	if m.goMu != nil {
		m.goMu.Unlock()
		return
	}
	if m.state.Swap(kmUnlocked) == kmContended {
		unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(&m.state)), futexWake|futexPrivateFlag, 1, 0, 0, 0)
	}
}
