//go:build !linux

package vm

import "time"

// after returns a channel that receives a value once d has elapsed: a Go
// timer (on Linux, a clock_nanosleep; see timer_linux.go).
func after(d time.Duration) <-chan struct{} {
	ch := make(chan struct{}, 1)
	time.AfterFunc(d, func() { ch <- struct{}{} })
	return ch
}
