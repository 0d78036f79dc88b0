package cpython

import (
	"testing"
	"time"
)

// TestParseStatCPU: the CPU times of /proc/PID/stat, whatever the command
// name holds (spaces, parentheses), and refusals of what is not one.
func TestParseStatCPU(t *testing.T) {
	const ms = time.Millisecond
	rest := " S 1 2 3 4 5 6 7 8 9 10 150 30 20 5 20 0 1 0 100 0 0"
	for _, tc := range []struct {
		stat     string
		cpu, sys time.Duration
		ok       bool
	}{
		{"123 (python3)" + rest, 2050 * ms, 350 * ms, true},
		{"123 (a) b (c))" + rest, 2050 * ms, 350 * ms, true},
		{"123 (python3) S 1 2", 0, 0, false},
		{"no parenthesis" + rest, 0, 0, false},
		{"123 (x) S 1 2 3 4 5 6 7 8 9 10 -1 30 20 5", 0, 0, false},
		{"123 (x) S 1 2 3 4 5 6 7 8 9 10 abc 30 20 5", 0, 0, false},
	} {
		cpu, sys, ok := parseStatCPU(tc.stat)
		if cpu != tc.cpu || sys != tc.sys || ok != tc.ok {
			t.Errorf("%q: %v %v %v, want %v %v %v", tc.stat, cpu, sys, ok, tc.cpu, tc.sys, tc.ok)
		}
	}
}
