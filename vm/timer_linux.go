//go:build linux

package vm

import (
	"time"

	"golang.org/x/sys/unix"
)

// after returns a channel that receives a value once d has elapsed on the
// monotonic clock (the clock Go's own monotonic readings come from).
//
// It does not use a Go timer. Go fires timers from its network poller,
// which on Linux sleeps in epoll_wait with a timeout in whole milliseconds
// (runtime/netpoll_epoll.go): when no other goroutine keeps a processor
// busy looking for work, a 200 µs timer fires after about 1 ms and a 1 ms
// timer after 1-2 ms. That made every switch interval below about 2 ms
// last 1-2 ms too long (issue 16). CPython's waiter sleeps in
// pthread_cond_timedwait, a futex with a nanosecond deadline; here a
// goroutine blocks its operating-system thread in clock_nanosleep until
// the absolute deadline, with the kernel's timer slack (50 µs by default,
// as for CPython's threads), and then sends.
//
// The goroutine sleeps until the deadline even if nobody waits any more
// (a waiter woken early): the channel is buffered, so it then exits. A
// timed park lasts at most a switch interval, so few are ever pending.
func after(d time.Duration) <-chan struct{} {
	ch := make(chan struct{}, 1)
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		go func() { time.Sleep(d); ch <- struct{}{} }()
		return ch
	}
	deadline := unix.NsecToTimespec(ts.Nano() + int64(d))
	go func() {
		for unix.ClockNanosleep(unix.CLOCK_MONOTONIC, unix.TIMER_ABSTIME, &deadline, nil) == unix.EINTR {
		}
		ch <- struct{}{}
	}()
	return ch
}
