//go:build !linux

package tracer

func madviseHuge(start, n uintptr) {}
