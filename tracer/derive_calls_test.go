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
		data := make([]byte, 3*r.IntN(300))
		for j := range data {
			data[j] = byte(r.Uint32())
		}
		cases = append(cases, testkit.Case{Name: fmt.Sprintf("bytes-%d", i), Trace: testkit.FromBytes(data)})
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

// TestDeriveCallsApartStops: a done context stops the calls' goroutine
// too, with the context's cause.
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
