//go:build !linux

package vm

import "time"

// cpuSpeeds: processors are not pinned here (fidelity_cpus_linux_test.go).
func cpuSpeeds() []time.Duration { return nil }
