//go:build race

package tracer

// raceEnabled: under the race detector sync.Pool drops a quarter of what
// is put into it at random, so a pooled array may not come back.
const raceEnabled = true
