//go:build !linux

package vm

import "time"

// after returns a channel that receives a value once d has elapsed, and a
// function that releases the timer: a Go timer (on Linux, a timerfd; see
// timer_linux.go).
func after(d time.Duration) (<-chan struct{}, func()) {
	ch := make(chan struct{}, 1)
	t := time.AfterFunc(d, func() { ch <- struct{}{} })
	return ch, func() { t.Stop() }
}
