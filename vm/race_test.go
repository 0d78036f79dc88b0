//go:build race

package vm

// raceEnabled: the race detector slows the interpreter by an order of
// magnitude and unevenly; timing comparisons are skipped under it.
const raceEnabled = true
