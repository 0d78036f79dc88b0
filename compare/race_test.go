//go:build race

package compare

// raceEnabled: the race detector slows the interpreter several times and
// unevenly, so live runs no longer behave like the workloads they model.
const raceEnabled = true
