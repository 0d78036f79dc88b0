//go:build linux

package hugepage

import "syscall"

const madvHugepage = 14 // MADV_HUGEPAGE

func advise(start, n uintptr) {
	syscall.Syscall(syscall.SYS_MADVISE, start, n, madvHugepage)
}
