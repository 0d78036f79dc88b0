package tracer

import (
	"sort"
	"testing"
)

// TestGallop: gallop gives sort.Search's answer from any hint.
func TestGallop(t *testing.T) {
	for n := range 40 {
		for answer := 0; answer <= n; answer++ {
			for hint := -1; hint <= n+1; hint++ {
				if got := gallop(n, hint, func(j int) bool { return j >= answer }); got != answer {
					t.Fatalf("n %d, hint %d: %d, want %d", n, hint, got, answer)
				}
			}
		}
	}
}

// TestStateSpanArgRaw: Derive leaves a span's word 0 outside the wait
// states and StateIO (so that update's comparison of words splits no span
// for a stale lock or kind), and sets it in GIL waits and I/O (generated
// traces; a guest lock's wait: TestStateSpanArg).
func TestStateSpanArgRaw(t *testing.T) {
	set := map[State]bool{}
	for seed := range uint64(20) {
		s := Derive(genTrace(seed, 2, 4, 3000))
		for _, sp := range s.States {
			switch sp.State {
			case StateGILWait, StateLockWait, StateIO:
				set[sp.State] = set[sp.State] || sp.arg != 0
			default:
				if sp.arg != 0 {
					t.Fatalf("seed %d: %+v: word %d outside the wait states and I/O", seed, sp, sp.arg)
				}
			}
		}
	}
	for _, st := range []State{StateGILWait, StateIO} { // lock waits: TestStateSpanArg
		if !set[st] {
			t.Errorf("no %v span with its word set", st)
		}
	}
}

// TestHoldSearches: HoldStartingFrom and HoldEndingAfter give
// sort.Search's answers over each lock's holds, from any hint.
func TestHoldSearches(t *testing.T) {
	searched := 0
	for seed := range uint64(5) {
		s := Derive(genTrace(seed, 2, 4, 2000))
		for l := range s.Trace.Locks {
			hs := s.LockHolds(LockID(l))
			if !s.holdsInOrder(hs) || len(hs) == 0 {
				continue
			}
			searched++
			last := s.Holds[hs[len(hs)-1]].End
			// Times across the run, and the holds' own starts and ends,
			// where >= and > differ.
			var times []int64
			for tm := int64(-1); tm <= last+1; tm += 1 + last/97 {
				times = append(times, tm)
			}
			for k := 0; k < len(hs); k += 1 + len(hs)/61 {
				h := &s.Holds[hs[k]]
				times = append(times, h.Start, h.End)
			}
			for _, tm := range times {
				wantStart := sort.Search(len(hs), func(k int) bool { return s.Holds[hs[k]].Start >= tm })
				wantEnd := sort.Search(len(hs), func(k int) bool { return s.Holds[hs[k]].End > tm })
				// Hints a few holds short of the answer too: HoldStartingFrom
				// looks at shortScan of them one by one before galloping.
				hints := []int{-1, 0, wantStart / 2, wantStart, wantEnd, len(hs) / 2, len(hs) - 1, len(hs), len(hs) + 1}
				for _, back := range []int{1, 5, shortScan - 1, shortScan, shortScan + 1, 3 * shortScan} {
					hints = append(hints, wantStart-back, wantEnd-back)
				}
				for _, hint := range hints {
					if got := s.HoldStartingFrom(hs, tm, hint); got != wantStart {
						t.Fatalf("seed %d lock %d t %d hint %d: HoldStartingFrom %d, want %d", seed, l, tm, hint, got, wantStart)
					}
					if got := s.HoldEndingAfter(hs, tm, hint); got != wantEnd {
						t.Fatalf("seed %d lock %d t %d hint %d: HoldEndingAfter %d, want %d", seed, l, tm, hint, got, wantEnd)
					}
				}
			}
		}
	}
	if searched == 0 {
		t.Fatal("no lock with holds in order to search")
	}
}
