package cpython

import (
	"os"
	"testing"
)

func TestStatAsleep(t *testing.T) {
	for _, c := range []struct {
		line          string
		asleep, known bool
	}{
		{"123 (python3) S 1 123", true, true},
		{"123 (python3) D 1 123", true, true},
		{"123 (python3) R 1 123", false, true},
		{"123 (a) R (b) S 1 2", true, true}, // the state follows the last ')'
		{"123 (python3) Z 1 123", false, false},
		{"123 (python3) T 1 123", false, false},
		{"123 (python3)", false, false},
		{"garbage", false, false},
		{"", false, false},
	} {
		asleep, ok := statAsleep([]byte(c.line))
		if asleep != c.asleep || ok != c.known {
			t.Errorf("statAsleep(%q) = %v, %v; want %v, %v", c.line, asleep, ok, c.asleep, c.known)
		}
	}
}

// TestTaskStatesRead reads this process's threads: each reading is an
// evTaskState event of a thread of this process, in turn, at most
// stateReads a time.
func TestTaskStatesRead(t *testing.T) {
	ts := newTaskStates()
	defer ts.close()
	pid := os.Getpid()
	seen := map[int]bool{}
	for range 20 {
		evs := ts.read([]int{pid, 1 << 30}, nil) // the second: no such process
		if len(evs) > stateReads {
			t.Fatalf("%d readings at once, want at most %d", len(evs), stateReads)
		}
		for _, e := range evs {
			if e.event != evTaskState || e.tgid != pid || e.tid <= 0 {
				t.Fatalf("reading %+v", e)
			}
			seen[e.tid] = true
		}
	}
	if !seen[pid] {
		t.Errorf("the main thread (%d) never read: %v", pid, seen)
	}
	if len(ts.files) == 0 || len(ts.files) > len(ts.tasks) {
		t.Errorf("%d files open for %d threads", len(ts.files), len(ts.tasks))
	}
}
