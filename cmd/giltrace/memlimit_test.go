package main

import (
	"math"
	"runtime/debug"
	"testing"
)

// TestBoundMemory: writing the outputs of n events sets the soft memory
// limit to 50 MB + 90 bytes per event and restores the one before; a limit
// set already (GOMEMLIMIT, a caller's) is left alone.
func TestBoundMemory(t *testing.T) {
	if debug.SetMemoryLimit(-1) != math.MaxInt64 {
		t.Skip("a memory limit is set for the test process")
	}
	restore := boundMemory(1_000_000)
	if got, want := debug.SetMemoryLimit(-1), int64(50<<20+90*1_000_000); got != want {
		t.Errorf("limit %d while writing, want %d", got, want)
	}
	restore()
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("limit %d after, want none", got)
	}
	debug.SetMemoryLimit(1 << 40)
	defer debug.SetMemoryLimit(math.MaxInt64)
	boundMemory(10)()
	if got := debug.SetMemoryLimit(-1); got != 1<<40 {
		t.Errorf("a limit set before became %d", got)
	}
	t.Setenv("GOMEMLIMIT", "1GiB")
	debug.SetMemoryLimit(math.MaxInt64)
	restore = boundMemory(10)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("with GOMEMLIMIT set the limit became %d", got)
	}
	restore()
}
