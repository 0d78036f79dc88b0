//go:build unix

package main

import "syscall"

// processCPU is giltrace's user + system CPU time so far, in nanoseconds,
// or -1 if it cannot be read (--timings).
func processCPU() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return -1
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
