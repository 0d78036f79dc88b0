package main

import (
	"testing"
	"time"
)

func TestCompareArgs(t *testing.T) {
	testArgs(t, compareCmd, []argsCase[compareOptions]{
		{[]string{"w.yaml"}, &compareOptions{File: "w.yaml", Threads: []int{1, 2, 4, 8}, Modes: []string{"threads", "processes", "free-threaded"}, Runs: 1}, false, ""},
		{[]string{"w.yaml", "--threads", "1,3", "--modes", "threads,processes", "--switch-interval", "5ms,1ms", "--runs", "3", "-o", "out", "--json"},
			&compareOptions{File: "w.yaml", Threads: []int{1, 3}, Modes: []string{"threads", "processes"},
				SwitchIntervals: []time.Duration{5 * time.Millisecond, time.Millisecond}, Runs: 3, Dir: "out", JSON: true}, false, ""},
		{[]string{"w.yaml", "--runs", "0"}, nil, true, ""},
		{nil, nil, true, ""},
		{[]string{"w.yaml", "--threads", "0"}, nil, true, ""},
		{[]string{"w.yaml", "--threads", "two"}, nil, true, ""},
		{[]string{"w.yaml", "--modes", "green"}, nil, true, ""},
		{[]string{"w.yaml", "--switch-interval", "5"}, nil, true, ""},
	})
}

func TestCompareMissingWorkload(t *testing.T) {
	if _, err := runRoot("compare", "no-such-workload.yaml"); err == nil || exitCode(err) != 1 {
		t.Fatalf("compare of a missing file: err = %v, want exit status 1", err)
	}
}
