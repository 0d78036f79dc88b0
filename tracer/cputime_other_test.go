//go:build !unix

package tracer

import "time"

// cpuTime is unknown here: the events/cpu-s metric is left out.
func cpuTime() time.Duration { return 0 }
