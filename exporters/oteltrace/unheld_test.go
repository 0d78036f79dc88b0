package oteltrace

import (
	"maps"
	"path/filepath"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// unheldAs counts the wait spans with some time unheld by the attribute
// giltrace.wait.unheld ("" without), by kind of lock.
func unheldAs(t *testing.T, tr *tracer.Trace) map[[2]string]int {
	t.Helper()
	e := export(t, tr, Options{WaitThreshold: 1})
	n := map[[2]string]int{}
	for i := range e.spans {
		s := &e.spans[i]
		if !strings.HasPrefix(s.Name, "gil wait") && !strings.HasPrefix(s.Name, "lock wait ") || attr(s, "gil.unheld_ns").AsInt64() <= 0 {
			continue
		}
		kind := "gil"
		if strings.HasPrefix(s.Name, "lock wait ") {
			kind = "guest"
			if strings.HasSuffix(s.Name, "(Thread.join)") {
				kind = "join"
			}
		}
		n[[2]string{kind, attr(s, "giltrace.wait.unheld").AsString()}]++
	}
	return n
}

// TestWaitUnheldUnobserved: a wait span's gil.unheld_ns is a handoff's
// latency only where the trace shows the lock's holds; the wait of a real
// program recorded without --lock-holds for a guest lock says
// giltrace.wait.unheld unknown-holder, and a join lock's join.
func TestWaitUnheldUnobserved(t *testing.T) {
	tr, err := tracer.ReadFile(filepath.Join(testkit.FixtureDir(), "python-lock-contention.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	observed := unheldAs(t, tr)
	if observed[[2]string{"gil", ""}] == 0 || observed[[2]string{"guest", ""}] == 0 || observed[[2]string{"join", "join"}] == 0 || len(observed) != 3 {
		t.Errorf("lock holds observed: %v, want waits for the GIL and guest locks without the attribute, a join lock's join", observed)
	}
	unobs := *tr
	unobs.Meta.Extra = maps.Clone(tr.Meta.Extra)
	delete(unobs.Meta.Extra, "lock_holds")
	want := map[[2]string]int{
		{"gil", ""}:                 observed[[2]string{"gil", ""}],
		{"guest", "unknown-holder"}: observed[[2]string{"guest", ""}],
		{"join", "join"}:            observed[[2]string{"join", "join"}],
	}
	if got := unheldAs(t, &unobs); !maps.Equal(got, want) {
		t.Errorf("lock holds not observed: %v, want %v", got, want)
	}
}
