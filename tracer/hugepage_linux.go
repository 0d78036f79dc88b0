//go:build linux

package tracer

import "syscall"

const madvHugepage = 14 // MADV_HUGEPAGE

func madviseHuge(start, n uintptr) {
	syscall.Syscall(syscall.SYS_MADVISE, start, n, madvHugepage)
}
