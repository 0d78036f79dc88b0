package tracer_test

import (
	"testing"

	"github.com/giltrace/giltrace/tracer"
)

// Many short threads must not exhaust the budget with their first chunks.
func TestManyThreadsFitTheBudget(t *testing.T) {
	r := tracer.NewRecorder(tracer.Config{MaxEvents: 1100 * 1024})
	p := r.AddProcess("p", 1)
	for i := range 1000 {
		b := r.NewThread("t", p)
		b.Emit(int64(i), tracer.KindThreadStart, tracer.NoStack, 0)
		b.Emit(int64(i)+1, tracer.KindThreadEnd, tracer.NoStack, 0)
	}
	tr := r.Finish(tracer.Meta{})
	if tr.Dropped != 0 || len(tr.Events) != 2000 {
		t.Errorf("dropped %d, kept %d events; want 0 and 2000", tr.Dropped, len(tr.Events))
	}
}

// At the bound, events are dropped and the trace is cut at the first lost
// one, so that what is kept is a consistent prefix.
func TestBudgetCutsTheTrace(t *testing.T) {
	r := tracer.NewRecorder(tracer.Config{MaxEvents: 3000})
	p := r.AddProcess("p", 1)
	a, b := r.NewThread("a", p), r.NewThread("b", p)
	// b takes its first chunk (1024 events), then a takes 1024 and the 952
	// left, and loses the rest: the trace is cut at a's first lost event.
	b.Emit(1, tracer.KindCallEnter, tracer.NoStack, 0)
	for i := range 4000 {
		a.Emit(int64(2*i), tracer.KindCallEnter, tracer.NoStack, 0)
	}
	for i := 1; i < 100; i++ {
		b.Emit(int64(2*i+1), tracer.KindCallEnter, tracer.NoStack, 0)
	}
	tr := r.Finish(tracer.Meta{})
	if len(tr.Events) != 1976+100 || tr.Dropped != 4000-1976 {
		t.Fatalf("kept %d, dropped %d: want %d and %d", len(tr.Events), tr.Dropped, 1976+100, 4000-1976)
	}
	if last := tr.Events[len(tr.Events)-1].Time; last != 2*1975 {
		t.Errorf("last kept event at %d, want %d", last, 2*1975)
	}
}
