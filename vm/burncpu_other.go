//go:build !linux

package vm

import (
	"context"
	"time"
)

// burnCPU is not available: Burn spins on the wall clock.
func burnCPU(context.Context, time.Duration) (ok, done bool) { return false, false }

// threadCPU is not available: calibration times the wall clock.
func threadCPU() (int64, bool) { return 0, false }
