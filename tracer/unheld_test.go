package tracer_test

import (
	"testing"

	"github.com/giltrace/giltrace/tracer"
)

func TestUnheldOf(t *testing.T) {
	locks := []tracer.Lock{{Name: "GIL", GIL: true}, {Name: "lock 0x10"}, {Name: "lock 0x20 (Thread.join)"}}
	cases := []struct {
		extra map[string]string
		want  [4]tracer.Unheld // GIL, guest, join, NoLock
	}{
		{nil, [4]tracer.Unheld{tracer.UnheldHandoff, tracer.UnheldHandoff, tracer.UnheldJoin, tracer.UnheldHandoff}},
		{map[string]string{"source": "cpython", "lock_holds": "observed"}, [4]tracer.Unheld{tracer.UnheldHandoff, tracer.UnheldHandoff, tracer.UnheldJoin, tracer.UnheldHandoff}},
		{map[string]string{"source": "cpython"}, [4]tracer.Unheld{tracer.UnheldHandoff, tracer.UnheldUnobserved, tracer.UnheldJoin, tracer.UnheldHandoff}},
	}
	for _, c := range cases {
		tr := &tracer.Trace{Meta: tracer.Meta{Extra: c.extra}, Locks: locks}
		for i, l := range []tracer.LockID{0, 1, 2, tracer.NoLock} {
			if got := tr.UnheldOf(l); got != c.want[i] {
				t.Errorf("Extra %v, lock %d: %v, want %v", c.extra, l, got, c.want[i])
			}
		}
	}
	for u, want := range map[tracer.Unheld][2]string{
		tracer.UnheldHandoff:    {"handoff", "[no holder]"},
		tracer.UnheldJoin:       {"join", "[the joined thread]"},
		tracer.UnheldUnobserved: {"unknown-holder", "[holder not observed]"},
	} {
		if got := [2]string{u.String(), u.Frame()}; got != want {
			t.Errorf("%d: %v, want %v", u, got, want)
		}
	}
}
