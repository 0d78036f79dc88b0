//go:build unix

package vm

import "syscall"

// processCPU is the process's user + system CPU time so far in
// nanoseconds (getrusage), or -1 if it cannot be read. A run records the
// difference as Meta.Extra["cpu_ns"]: the CPU time the machine gave it,
// against which the diagnosis sets what its threads wanted.
func processCPU() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return -1
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
