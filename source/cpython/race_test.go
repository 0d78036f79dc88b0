//go:build race

package cpython

// raceEnabled: the race detector slows the recorder several times over,
// and what it reads of the traced process's memory after a hit (names,
// stacks not fetched by the probe) is read too late to find.
const raceEnabled = true
