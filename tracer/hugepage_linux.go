//go:build linux

package tracer

import (
	"os"
	"strings"
	"sync/atomic"
	"syscall"
)

const madvHugepage = 14 // MADV_HUGEPAGE

func madviseHuge(start, n uintptr) {
	syscall.Syscall(syscall.SYS_MADVISE, start, n, madvHugepage)
}

const madvPopulateWrite = 23 // MADV_POPULATE_WRITE, Linux 5.14

// populateOK is false once the kernel refused MADV_POPULATE_WRITE.
var populateOK atomic.Bool

func init() { populateOK.Store(true) }

func canPopulate() bool { return populateOK.Load() }

// populate faults in the pages of [p, p+n) for writing, without writing;
// p is rounded down to its page. It reports false when the kernel refused
// (an older one, EINVAL: then it is never tried again) or failed.
func populate(p, n uintptr) bool {
	page := uintptr(os.Getpagesize())
	start := p &^ (page - 1)
	_, _, errno := syscall.Syscall(syscall.SYS_MADVISE, start, p+n-start, madvPopulateWrite)
	if errno != 0 {
		if errno == syscall.EINVAL {
			populateOK.Store(false)
		}
		return false
	}
	return true
}

// roomAllowed reports whether FreeForAnalysis may grow the heap by a room
// it may not use: not under a limit on the address space (RLIMIT_AS) nor
// under strict overcommit, where unbacked memory still counts.
func roomAllowed() bool {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_AS, &lim); err != nil {
		return false
	}
	b, err := os.ReadFile("/proc/sys/vm/overcommit_memory")
	return err == nil && roomAllowedBy(lim, string(b))
}

// roomAllowedBy is roomAllowed's rule: no limit on the address space
// (RLIMIT_AS's soft limit infinite) and overcommit not strict
// (/proc/sys/vm/overcommit_memory not 2).
func roomAllowedBy(as syscall.Rlimit, overcommit string) bool {
	return as.Cur == ^uint64(0) && strings.TrimSpace(overcommit) != "2"
}
