package vm

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm/workload"
)

// TestWaitUntilNotify, in virtual time (exact): a wait until: notify ends
// at the notify (the worker's, after its 5 ms of compute), however long
// that takes; a notify that comes before the wait is kept, and the wait
// then returns at once; in processes mode each process's wait takes one of
// the notifies, whichever process gave it.
func TestWaitUntilNotify(t *testing.T) {
	for _, c := range []struct {
		name             string
		before, work     time.Duration // the main thread's compute before its wait; the worker's before its notify
		processes        int
		wantMin, wantMax time.Duration // the main thread's lock wait
	}{
		{"wait then notify", 0, 5 * time.Millisecond, 1, 4900 * time.Microsecond, 5200 * time.Microsecond},
		{"longer work, longer wait", 0, 20 * time.Millisecond, 1, 19900 * time.Microsecond, 20200 * time.Microsecond},
		{"notify first", 30 * time.Millisecond, time.Millisecond, 1, 0, 100 * time.Microsecond},
		{"two processes", 0, 5 * time.Millisecond, 2, 4900 * time.Microsecond, 5200 * time.Microsecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := fmt.Sprintf(`name: notify
clock: virtual
processes: %d
threads:
  - {name: main, run: main}
  - {name: worker, run: work}
functions:
  main:
    - compute: %v
    - wait: {lock: done, until: notify}
    - compute: 1ms
  work:
    - compute: %v
    - notify: done
`, c.processes, c.before+time.Microsecond, c.work)
			w, err := workload.Parse("notify.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			_, s := mustRun(t, w, Options{Cores: 4})
			for i, th := range s.Trace.Threads {
				if !strings.HasPrefix(th.Name, "main") {
					continue
				}
				got := time.Duration(s.ThreadTotals(tracer.ThreadID(i))[tracer.StateLockWait])
				if got < c.wantMin || got > c.wantMax {
					t.Errorf("%s waited %v, want %v to %v", th.Name, got, c.wantMin, c.wantMax)
				}
			}
		})
	}
}

// TestNotifyDeadlock: a run whose threads all wait until a notify that
// none is left to give stops with an error saying so, in both clocks (in
// real time it waited for ever).
func TestNotifyDeadlock(t *testing.T) {
	const src = `name: short
threads: [{name: a, run: a}, {name: b, run: b}]
functions:
  a: [{wait: {lock: x, until: notify}}, {wait: {lock: x, until: notify}}, {compute: 1ms}]
  b: [{compute: 2ms}, {notify: x}]
`
	for _, clock := range bothClocks {
		if err := runSrc(t, "short", src, clock, Options{}); err == nil || !strings.Contains(err.Error(), `every thread left waits until a notify that no thread is left to give (a on "x")`) {
			t.Errorf("%s: error %v, want the notify deadlock", clock, err)
		}
	}
}

// TestNotifyFIFO, in virtual time (exact): a notify goes to the thread
// that has waited longest, as Condition.notify does (the lowest-numbered
// thread took every notify before, whatever the order of arrival).
func TestNotifyFIFO(t *testing.T) {
	w, err := workload.Parse("fifo.yaml", []byte(`name: fifo
clock: virtual
threads:
  - {name: c1, run: late}
  - {name: c2, run: middle}
  - {name: c3, run: early}
  - {name: p, run: produce}
functions:
  early: [{sleep: 1ms}, {wait: {lock: q, until: notify}}, {compute: 1ms}]
  middle: [{sleep: 2ms}, {wait: {lock: q, until: notify}}, {compute: 1ms}]
  late: [{sleep: 3ms}, {wait: {lock: q, until: notify}}, {compute: 1ms}]
  produce: [{sleep: 20ms}, {notify: q}, {sleep: 10ms}, {notify: q}, {sleep: 10ms}, {notify: q}]
`))
	if err != nil {
		t.Fatal(err)
	}
	_, s := mustRun(t, w, Options{Cores: 4})
	end := map[string]time.Duration{}
	for i, th := range s.Trace.Threads {
		end[th.Name] = time.Duration(s.Threads[i].End)
	}
	// c3 waited first, then c2, then c1: woken at 20, 30 and 40 ms.
	if !(end["c3"] < 25*time.Millisecond && end["c2"] > 30*time.Millisecond && end["c2"] < 35*time.Millisecond && end["c1"] > 40*time.Millisecond) {
		t.Errorf("ends %v: want c3 woken first (20 ms), then c2 (30 ms), then c1 (40 ms)", end)
	}
}

// TestIOUntilNotify, in virtual time (exact): an io with until: L is
// recorded as I/O of its kind, not a lock wait, and ends at the first
// notify on L, here another process's (a pipe that a child writes), or at
// its duration if none comes first; a notify given before it begins ends
// it at once.
func TestIOUntilNotify(t *testing.T) {
	for _, c := range []struct {
		name         string
		before, work time.Duration // the parent's compute before its I/O; the child's before its notify
		d            time.Duration // the I/O's duration
		want         time.Duration // the parent's I/O
	}{
		{"ended by the notify", 10 * time.Millisecond, 300 * time.Millisecond, 900 * time.Millisecond, 290 * time.Millisecond},
		{"its duration first", 10 * time.Millisecond, 300 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond},
		{"notify first", 400 * time.Millisecond, 300 * time.Millisecond, 900 * time.Millisecond, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := fmt.Sprintf(`name: pipe
clock: virtual
processes: 2
threads:
  - {name: MainThread, run: parent, process: 1}
  - {name: MainThread, run: child, process: 2}
functions:
  parent:
    - compute: %v
    - io: {duration: %v, kind: disk, until: result}
    - compute: 5ms
  child:
    - compute: %v
    - notify: result
    - compute: 50ms
`, c.before, c.d, c.work)
			w, err := workload.Parse("pipe.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			_, s := mustRun(t, w, Options{Cores: 2})
			// Compute is counted in loops (VirtualLoopsPerMS): its times
			// are within a fraction of a millisecond of the durations.
			tot := s.ThreadTotals(0)
			if got := time.Duration(tot[tracer.StateIO]); got < c.want-500*time.Microsecond || got > c.want+500*time.Microsecond {
				t.Errorf("the parent's I/O: %v, want %v", got, c.want)
			}
			if got := time.Duration(tot[tracer.StateLockWait]); got != 0 {
				t.Errorf("the parent's lock waits: %v, want none", got)
			}
			for _, sp := range s.ThreadStates(0) {
				if k := s.Trace.Str(sp.IOKind()); sp.State == tracer.StateIO && k != "disk" {
					t.Errorf("an I/O of kind %q, want disk", k)
				}
			}
		})
	}
}

// TestLateNotifyEndsItsOwnWait: a notify that comes after its wait gave
// up (a model's capped wait) is that wait's, not the next one's queued
// after it (review: a read of 10 us on L gave up; the child's notify for
// it, at 50 ms, ended the parent's join on L, which lasted until the
// child's exit at 600 ms).
func TestLateNotifyEndsItsOwnWait(t *testing.T) {
	src := `name: late
clock: virtual
processes: 2
threads:
  - {name: MainThread, run: parent, process: 1}
  - {name: MainThread, run: child, process: 2}
functions:
  parent:
    - io: {duration: 10us, kind: disk, until: L}
    - io: {duration: 1s, kind: wait, until: L}
  child:
    - sleep: 50ms
    - notify: L
    - compute: 550ms
    - notify: L
`
	w, err := workload.Parse("late.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	_, s := mustRun(t, w, Options{Cores: 2})
	if end := time.Duration(s.Threads[0].End); end < 599*time.Millisecond || end > 602*time.Millisecond {
		t.Errorf("the parent ended at %v, want at the child's second notify, about 600 ms", end)
	}
}
