//go:build !linux

package tracer

func madviseHuge(start, n uintptr) {}

func canPopulate() bool          { return false }
func populate(p, n uintptr) bool { return false }

// roomAllowed: no huge pages to advise here.
func roomAllowed() bool { return false }
