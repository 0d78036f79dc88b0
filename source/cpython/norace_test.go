//go:build !race

package cpython

const raceEnabled = false
