package vm

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm/workload"
)

// stepClock is a Clock in virtual time: reading it advances it by 1 ns,
// sleeping and burning advance it by their duration at once. Parking waits
// for real (a test of the seam, not a scheduler).
type stepClock struct {
	mu  sync.Mutex
	now int64
}

func (c *stepClock) Now() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now++
	return c.now
}

func (c *stepClock) advance(ctx context.Context, d time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now += int64(d)
	return ctx.Err() == nil
}

func (c *stepClock) Sleep(ctx context.Context, _ *Waker, d time.Duration) bool {
	return c.advance(ctx, d)
}
func (c *stepClock) Burn(ctx context.Context, d time.Duration) bool { return c.advance(ctx, d) }
func (c *stepClock) Park(ctx context.Context, wake *Waker, timeout time.Duration) Wake {
	return (&realClock{start: time.Now()}).Park(ctx, wake, timeout)
}

// TestClockSeam: every time the VM records and every sleep and burn goes
// through the Clock, so an hour of I/O and an hour of native work take no
// real time under a virtual clock.
func TestClockSeam(t *testing.T) {
	w := &workload.Workload{Name: "virtual", Seed: 1,
		Functions: fns(map[string][]workload.Op{"f": {blockIO(time.Hour), native(time.Hour, true), native(time.Hour, false), loops(10)}}),
		Threads:   []workload.ThreadGroup{group("T", 1, "f")}}
	start := time.Now()
	tr, s := mustRun(t, w, Options{Clock: &stepClock{}})
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("a virtual run took %v of real time", d)
	}
	tot := s.ThreadTotals(0)
	if tot[tracer.StateIO] < int64(time.Hour) || tot[tracer.StateNative] < int64(time.Hour) || tot[tracer.StateNativeHolding] < int64(time.Hour) {
		t.Errorf("virtual totals %v, expected an hour each of I/O, native and native holding the GIL", tot)
	}
	if tr.Duration() < int64(3*time.Hour) || tr.Duration() > int64(3*time.Hour+time.Second) {
		t.Errorf("trace lasts %v, expected 3h of virtual time", time.Duration(tr.Duration()))
	}
}

// TestSleepPastItsDeadline: a sleep whose deadline has passed before it
// parks (its thread descheduled on a loaded machine) returns at once; it
// used to park with a negative timeout, which Park reads as none, and
// wait forever (TestManyThreadsAreNotCut hung under -race).
func TestSleepPastItsDeadline(t *testing.T) {
	w := NewWaker()
	done := make(chan bool, 1)
	go func() { done <- w.Sleep(context.Background(), time.Nanosecond) }()
	select {
	case ok := <-done:
		if !ok {
			t.Error("Sleep returned false without a stop")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a 1 ns sleep did not return in 10 s")
	}
}
