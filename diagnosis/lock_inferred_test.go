package diagnosis

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// TestLockHoldsInferred: a real program traced without --lock-holds has
// its guest locks' holds inferred (from the end of a wait until the GIL
// came back), so they look like GIL waits inside the lock whatever the
// holder did under it. The lock-bound verdict then says the holds are not
// known, asks for --lock-holds, and does not tell the GIL to be the
// bottleneck, nor quote the estimates as gains (QA: lock_contention.py,
// which sleeps 5 ms under its lock, was told processes would give 2.9x;
// its own prediction said 0.98x). The same trace with observed holds
// keeps its verdict.
func TestLockHoldsInferred(t *testing.T) {
	tr, err := tracer.ReadFile(filepath.Join(testkit.FixtureDir(), "python-lock-contention.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	if tr.Meta.Extra["lock_holds"] != "observed" {
		t.Fatalf("the fixture was recorded with --lock-holds: lock_holds %q", tr.Meta.Extra["lock_holds"])
	}
	observed := Analyze(tracer.Derive(tr))
	delete(tr.Meta.Extra, "lock_holds")
	inferred := Analyze(tracer.Derive(tr))
	for _, tc := range []struct {
		name     string
		r        *Report
		inferred bool
	}{{"observed", observed, false}, {"inferred", inferred, true}} {
		v := verdictOf(tc.r, LockBound)
		if v == nil {
			t.Fatalf("%s: verdicts %s, want lock-bound", tc.name, tc.r.VerdictCodes())
		}
		said := strings.Contains(v.Text, "Its holds were not recorded (the program was traced without --lock-holds)") &&
			strings.HasPrefix(v.Advice, "Record again with --lock-holds") && strings.Contains(v.Advice, "may be far too high")
		if said != tc.inferred || strings.Contains(v.Advice, "The GIL, not the critical section's work") {
			t.Errorf("%s: %s\n%s", tc.name, v.Text, v.Advice)
		}
		if len(tc.r.Locks) == 0 || tc.r.Locks[0].HoldsInferred != tc.inferred || tc.r.Speedup.LockHoldsInferred != tc.inferred {
			t.Errorf("%s: holds_inferred %+v, speedup's %v; want %v", tc.name, tc.r.Locks, tc.r.Speedup.LockHoldsInferred, tc.inferred)
		}
	}
	// On Python 3.14 and later --lock-holds cannot record them (a
	// threading.Lock is a PyMutex): the verdict says so and does not ask
	// for it.
	tr.Meta.Extra["python"] = "3.14.10"
	v := verdictOf(Analyze(tracer.Derive(tr)), LockBound)
	if v == nil || !strings.Contains(v.Text, "PyMutex") || strings.Contains(v.Advice, "Record again with --lock-holds") || !strings.Contains(v.Advice, "may be far too high") {
		t.Errorf("3.14: %+v; want the holds said not recordable, and no recording again with --lock-holds advised", v)
	}
	// The VM observes every hold.
	vm, err := tracer.ReadFile(filepath.Join(testkit.FixtureDir(), "lock-contention.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	if r := Analyze(tracer.Derive(vm)); r.Speedup.LockHoldsInferred || len(r.Locks) == 0 || r.Locks[0].HoldsInferred {
		t.Errorf("VM trace: holds inferred %+v", r.Locks)
	}
}

// TestBarelySooner: when the whole program's estimates beat what it
// achieved by less than the advice's margin, the advice says it would end
// barely sooner, with the figure, not that it would not end sooner (QA:
// "would not end sooner: 2.32x as processes, ..., now 2.23x").
func TestBarelySooner(t *testing.T) {
	tr, err := tracer.ReadFile(filepath.Join(testkit.FixtureDir(), "python-daemon-threads.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	r := Analyze(tracer.Derive(tr))
	found := false
	for _, v := range r.Verdicts {
		if strings.Contains(v.Advice, "whole program") {
			found = true
			if strings.Contains(v.Advice, "would not end sooner") || !strings.Contains(v.Advice, "would end barely sooner (5 % faster): 2.34x as processes") {
				t.Errorf("%s: %s", v.Code, v.Advice)
			}
		}
	}
	if !found {
		t.Fatalf("no advice about the whole program: %s", r.VerdictCodes())
	}
}

// TestLockHoldsRecordable: --lock-holds can record a real program's lock
// holds up to CPython 3.13; a VM trace observes them anyway.
func TestLockHoldsRecordable(t *testing.T) {
	for _, tc := range []struct {
		source, python string
		want           bool
	}{
		{"cpython", "3.11.7", true}, {"cpython", "3.13.0", true}, {"cpython", "3.14.10", false},
		{"cpython", "3.15.2", false}, {"cpython", "4.0", false}, {"cpython", "", true}, {"", "3.14.0", true},
	} {
		tr := &tracer.Trace{Meta: tracer.Meta{Extra: map[string]string{"source": tc.source, "python": tc.python}}}
		if got := LockHoldsRecordable(tr); got != tc.want {
			t.Errorf("%s %q: %v, want %v", tc.source, tc.python, got, tc.want)
		}
	}
}
