//go:build unix

package testkit

import (
	"syscall"
	"time"
)

// CPUTime is the process's user and system CPU time so far: on a shared,
// loaded machine, events per CPU second is steadier than per wall second.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
