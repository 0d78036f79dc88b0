//go:build !linux

package vm

import (
	"context"
	"time"
)

// burnCPU is not available: Burn spins on the wall clock.
func burnCPU(context.Context, time.Duration) (ok, done bool) { return false, false }
