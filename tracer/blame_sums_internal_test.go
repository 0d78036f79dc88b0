package tracer

import "testing"

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
