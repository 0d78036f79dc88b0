package tracer

import "testing"

// TestStackMatcher: a stack matches through its callers; a stack out of
// the table, and a cycle in a corrupt table, do not match and end.
func TestStackMatcher(t *testing.T) {
	tr := &Trace{
		Frames: []Frame{{Func: "f", File: "a.py"}, {Func: "_find_and_load", File: "<frozen importlib._bootstrap>"}},
		// 0: f; 1: importlib called from f; 2: f called from 1; 3 and 4
		// call each other (a corrupt table).
		Stacks: []Stack{{Parent: NoStack, Frame: 0}, {Parent: 0, Frame: 1}, {Parent: 1, Frame: 0}, {Parent: 4, Frame: 0}, {Parent: 3, Frame: 0}},
	}
	calls := 0
	m := tr.StackMatcher(func(s Stack) bool { calls++; return s.Frame == 1 })
	for _, c := range []struct {
		s    StackID
		want bool
	}{{0, false}, {1, true}, {2, true}, {3, false}, {4, false}, {NoStack, false}, {99, false}} {
		if got := m(c.s); got != c.want {
			t.Errorf("stack %d: %v, want %v", c.s, got, c.want)
		}
	}
	n := calls
	m(2)
	if calls != n {
		t.Errorf("stack 2 asked again: %d more calls, want none", calls-n)
	}
}
