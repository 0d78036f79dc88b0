package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

func TestCompareArgs(t *testing.T) {
	tests := []struct {
		args  []string
		want  *compareOptions
		usage bool
	}{
		{[]string{"w.yaml"}, &compareOptions{File: "w.yaml", Threads: []int{1, 2, 4, 8}, Modes: []string{"threads", "processes", "free-threaded"}, Runs: 1}, false},
		{[]string{"w.yaml", "--threads", "1,3", "--modes", "threads,processes", "--switch-interval", "5ms,1ms", "--runs", "3", "-o", "out", "--json"},
			&compareOptions{File: "w.yaml", Threads: []int{1, 3}, Modes: []string{"threads", "processes"},
				SwitchIntervals: []time.Duration{5 * time.Millisecond, time.Millisecond}, Runs: 3, Dir: "out", JSON: true}, false},
		{[]string{"w.yaml", "--runs", "0"}, nil, true},
		{nil, nil, true},
		{[]string{"w.yaml", "--threads", "0"}, nil, true},
		{[]string{"w.yaml", "--threads", "two"}, nil, true},
		{[]string{"w.yaml", "--modes", "green"}, nil, true},
		{[]string{"w.yaml", "--switch-interval", "5"}, nil, true},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			var got *compareOptions
			cmd := compareCmd(func(_ *cobra.Command, o *compareOptions) error { got = o; return nil })
			cmd.SetArgs(tc.args)
			cmd.SetOut(&strings.Builder{})
			cmd.SetErr(&strings.Builder{})
			err := cmd.Execute()
			if tc.usage {
				if err == nil || exitCode(err) != 2 {
					t.Fatalf("err = %v, want a usage error", err)
				}
				return
			}
			if err != nil || got.File != tc.want.File || !slices.Equal(got.Threads, tc.want.Threads) || !slices.Equal(got.Modes, tc.want.Modes) ||
				!slices.Equal(got.SwitchIntervals, tc.want.SwitchIntervals) || got.Dir != tc.want.Dir || got.JSON != tc.want.JSON || got.Runs != tc.want.Runs {
				t.Fatalf("options %+v, err %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestCompareMissingWorkload(t *testing.T) {
	if _, err := runRoot("compare", "no-such-workload.yaml"); err == nil || exitCode(err) != 1 {
		t.Fatalf("compare of a missing file: err = %v, want exit status 1", err)
	}
}
