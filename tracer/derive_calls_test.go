package tracer_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"runtime"
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// TestDeriveCallsApart: the call spans derived on their own goroutine
// beside the rest (callPass) are those derived after it, and so is
// everything else, on every fixture, on traces cut short (calls left
// open) and on random ones (events in any order, of threads never
// started or already ended).
func TestDeriveCallsApart(t *testing.T) {
	if runtime.GOMAXPROCS(0) < 2 {
		t.Skip("GOMAXPROCS=1: the calls are never derived apart")
	}
	cases := append(testkit.All(t),
		testkit.Case{Name: "large", Trace: testkit.Large(50_000)},
		testkit.Case{Name: "webapp", Trace: testkit.WebApp(6, 200)},
	)
	for _, c := range cases[:len(cases):len(cases)] {
		if n := len(c.Trace.Events); n > 10 {
			cut := *c.Trace
			cut.Events = c.Trace.Events[:n/2]
			cases = append(cases, testkit.Case{Name: c.Name + "-cut", Trace: &cut})
		}
	}
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 200 {
		cases = append(cases, testkit.Case{Name: fmt.Sprintf("bytes-%d", i), Trace: testkit.RandomBytes(r, 300)})
	}
	calls := 0
	for _, c := range cases {
		restore := tracer.SetCallsApart(math.MaxInt)
		after := tracer.Derive(c.Trace)
		restore()
		restore = tracer.SetCallsApart(0)
		apart := tracer.Derive(c.Trace)
		restore()
		calls += len(after.Calls)
		if want := refCalls(c.Trace); !reflect.DeepEqual(after.Calls, want) {
			t.Errorf("%s: %d calls derived, %d by the reference", c.Name, len(after.Calls), len(want))
		}
		if !reflect.DeepEqual(apart.Calls, after.Calls) {
			t.Errorf("%s: %d calls derived apart, %d after the rest, or different", c.Name, len(apart.Calls), len(after.Calls))
		}
		if !reflect.DeepEqual(apart.States, after.States) || !reflect.DeepEqual(apart.Holds, after.Holds) ||
			!reflect.DeepEqual(apart.Waits, after.Waits) || !reflect.DeepEqual(apart.Threads, after.Threads) {
			t.Errorf("%s: the spans other than calls differ", c.Name)
		}
	}
	if calls == 0 {
		t.Fatal("no case has calls")
	}
}

// TestDeriveCallsApartStops: with the calls derived apart, a done
// context stops the derivation with its cause (that their pass stops
// too: TestCallPassStops).
func TestDeriveCallsApartStops(t *testing.T) {
	defer tracer.SetCallsApart(0)()
	tr := testkit.Large(300_000)
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("stopped by SIGTERM")
	cancel(cause)
	if s, err := tracer.DeriveContext(ctx, tr); s != nil || !errors.Is(err, cause) {
		t.Errorf("cancelled: %v, %v", s, err)
	}
	if s := tracer.Derive(tr); len(s.Calls) == 0 {
		t.Error("testkit.Large has no calls")
	}
}

// refCalls pairs the calls of tr as Derive did before the calls had a
// pass of their own (review): a thread's events count from its
// ThreadStart to its ThreadEnd, each CallEnter opens a call at the depth
// of those open, each CallExit ends the innermost, and the calls open at
// a thread's end, or at the trace's end, end then. In thread order, each
// thread's in the order they began.
func refCalls(tr *tracer.Trace) []tracer.CallSpan {
	type th struct {
		started, ended bool
		calls          []tracer.CallSpan
		open           []int
	}
	ths := make([]th, len(tr.Threads))
	for _, e := range tr.Events {
		if int(e.Thread) >= len(ths) {
			continue
		}
		x := &ths[e.Thread]
		switch {
		case x.ended:
		case !x.started:
			x.started = e.Kind == tracer.KindThreadStart
		case e.Kind == tracer.KindThreadEnd:
			for _, i := range x.open {
				x.calls[i].End = e.Time
			}
			x.open, x.ended = nil, true
		case e.Kind == tracer.KindCallEnter:
			x.open = append(x.open, len(x.calls))
			x.calls = append(x.calls, tracer.CallSpan{Thread: e.Thread, Stack: e.Stack, Depth: len(x.open), Start: e.Time, End: -1})
		case e.Kind == tracer.KindCallExit && len(x.open) > 0:
			x.calls[x.open[len(x.open)-1]].End = e.Time
			x.open = x.open[:len(x.open)-1]
		}
	}
	out := []tracer.CallSpan{}
	for i := range ths {
		if x := &ths[i]; x.started && !x.ended {
			for _, k := range x.open {
				x.calls[k].End = tr.Duration()
			}
		}
		out = append(out, ths[i].calls...)
	}
	return out
}
