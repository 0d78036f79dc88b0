//go:build linux

package vm

import (
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// after returns a channel that receives a value once d has elapsed on the
// monotonic clock (the clock Go's own monotonic readings come from), and a
// function that releases the timer; call it once the wait is over. Sleeps
// (I/O, start_after) use it; the GIL's and the locks' waits park the
// thread on its futex instead (waker_linux.go).
//
// It does not use a Go timer. Go fires timers from its network poller,
// which on Linux sleeps in epoll_wait with a timeout in whole milliseconds
// (runtime/netpoll_epoll.go): when no other goroutine keeps a processor
// busy looking for work, a 200 µs timer fires after about 1 ms and a 1 ms
// timer after 1-2 ms. The deadline is a timerfd (CLOCK_MONOTONIC,
// absolute, the kernel's high-resolution timers with the thread's timer
// slack, 50 µs by default, as CPython's sleeps get) read through Go's
// network poller: the reading goroutine is parked and holds no P, and the
// poller's epoll_wait returns when the timerfd fires. Releasing closes it.
func after(d time.Duration) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	var now unix.Timespec
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err == nil {
		err = unix.ClockGettime(unix.CLOCK_MONOTONIC, &now)
	}
	if err == nil {
		spec := unix.ItimerSpec{Value: unix.NsecToTimespec(now.Nano() + max(int64(d), 1))}
		err = unix.TimerfdSettime(fd, unix.TFD_TIMER_ABSTIME, &spec, nil)
	}
	if err != nil {
		if fd >= 0 {
			unix.Close(fd)
		}
		t := time.AfterFunc(d, func() { ch <- struct{}{} })
		return ch, func() { t.Stop() }
	}
	f := os.NewFile(uintptr(fd), "timerfd")
	go func() {
		var b [8]byte
		if _, err := f.Read(b[:]); err == nil {
			ch <- struct{}{}
		}
	}()
	return ch, func() { f.Close() }
}
