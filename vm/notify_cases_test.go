package vm

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/giltrace/giltrace/vm/workload"
)

// bothClocks are the clocks the notify cases run in.
var bothClocks = []workload.ClockMode{workload.ClockVirtual, workload.ClockReal}

// runSrc runs workload src in clock (a real clock has this machine's
// cores: o.Cores is for virtual time) and fails the test if it hangs.
func runSrc(t *testing.T, name, src string, clock workload.ClockMode, o Options) error {
	t.Helper()
	w, err := workload.Parse(name+".yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	o.ClockMode = clock
	if clock == workload.ClockReal {
		o.Cores = 0
	}
	if o.LoopsPerMS == 0 {
		o.LoopsPerMS = testLoopsPerMS()
	}
	done := make(chan error, 1)
	go func() {
		_, err := Run(context.Background(), w, o)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: run hung", clock)
		return nil
	}
}

// A waiter that took its notify but has not yet retaken the GIL counted
// as waiting: the notifier's end, soon after its notify, reported a
// deadlock (every virtual run; some real ones).
func TestNotifyCaseFalseDeadlockAfterTake(t *testing.T) {
	for _, after := range []string{"20us", "200us", "1ms"} {
		src := `name: fd
threads: [{name: a, run: a}, {name: b, run: b}]
functions:
  a: [{wait: {lock: x, until: notify}}, {compute: 1ms}]
  b: [{compute: 2ms}, {notify: x}, {compute: ` + after + `}]
`
		for _, c := range bothClocks {
			fails := 0
			for range 10 {
				if err := runSrc(t, "fd", src, c, Options{}); err != nil {
					if fails++; fails == 1 {
						t.Logf("%s, %s after the notify: %v", c, after, err)
					}
				}
			}
			if fails > 0 {
				t.Errorf("%s, %s after the notify: %d/10 runs failed", c, after, fails)
			}
		}
	}
}

// Two notifies back to back, the later waiter (c1) a lower thread index:
// c1 runs first, fails its take (c2 is first in the queue), parks again;
// c2 takes; nobody wakes c1 though a notify is pending for it.
func TestNotifyCaseLostWakeup(t *testing.T) {
	src := `name: lw
clock: virtual
threads:
  - {name: c1, run: late}
  - {name: c2, run: early}
  - {name: p, run: produce}
functions:
  early: [{sleep: 1ms}, {wait: {lock: q, until: notify}}, {compute: 1ms}]
  late: [{sleep: 2ms}, {wait: {lock: q, until: notify}}, {compute: 1ms}]
  produce: [{sleep: 10ms}, {notify: q}, {notify: q}, {sleep: 50ms}]
`
	for _, c := range bothClocks {
		if err := runSrc(t, "lw", src, c, Options{Cores: 4}); err != nil {
			t.Errorf("%s: %v", c, err)
		}
	}
}

// A guest lock used both as a mutex and as a notify lock: a release of
// the mutex may wake the notice waiter instead of the blocked acquirer.
func TestNotifyCaseSharedLock(t *testing.T) {
	src := `name: sl
threads:
  - {name: w, run: waiter}
  - {name: m, run: mutex, count: 2}
  - {name: p, run: produce}
functions:
  waiter: [{wait: {lock: q, until: notify}}]
  mutex: [{repeat: {times: 20, body: [{lock: {name: q, body: [{io: 1ms}]}}]}}]
  produce: [{sleep: 200ms}, {notify: q}]
`
	for _, c := range bothClocks {
		if err := runSrc(t, "sl", src, c, Options{Cores: 4}); err != nil {
			t.Errorf("%s: %v", c, err)
		}
	}
}

// Eight waiters, eight notifies back to back: each taken notify wakes the
// next waiter while more are pending (they deadlocked).
func TestNotifyCaseLostWakeupMany(t *testing.T) {
	src := `name: lwm
threads:
  - {name: c, run: cons, count: 8}
  - {name: p, run: produce}
functions:
  cons: [{wait: {lock: q, until: notify}}, {compute: 100us}]
  produce: [{sleep: 10ms}, {repeat: {times: 8, body: [{notify: q}]}}, {sleep: 20ms}]
`
	for _, c := range bothClocks {
		for range 10 {
			if err := runSrc(t, "lwm", src, c, Options{Cores: 4}); err != nil {
				t.Errorf("%s: %v", c, err)
				break
			}
		}
	}
}

// A notice waiter and a thread waiting to take the lock of the same name:
// the lock's release wakes the latter (it woke the notice waiter, which
// went back to sleep: a hang in real time).
func TestNotifyCaseSharedLock2(t *testing.T) {
	src := `name: sl2
threads:
  - {name: w, run: waiter}
  - {name: m1, run: holder}
  - {name: m2, run: giver}
functions:
  waiter: [{wait: {lock: q, until: notify}}]
  holder: [{lock: {name: q, body: [{io: 5ms}]}}]
  giver: [{sleep: 1ms}, {lock: {name: q, body: [{notify: q}]}}]
`
	for _, c := range bothClocks {
		for i := range 10 {
			seed := int64(i)
			if err := runSrc(t, "sl2", src, c, Options{Cores: 4, Seed: &seed}); err != nil {
				t.Errorf("%s seed %d: %v", c, i, err)
				break
			}
		}
	}
}

// A ping-pong of notifies and waits in real time: a wait that has taken
// its notify is not stuck, even before it has left its wait (10 of 11 real
// runs reported a false deadlock).
func TestNotifyCasePingPongReal(t *testing.T) {
	src := `name: pingpong
threads:
  - {name: a, run: ping}
  - {name: b, run: pong}
functions:
  ping:
    - repeat: {times: 200, body: [{notify: x}, {wait: {lock: y, until: notify}}]}
  pong:
    - repeat: {times: 200, body: [{wait: {lock: x, until: notify}}, {notify: y}]}
`
	for i := 0; i < 5; i++ {
		if err := runSrc(t, "pingpong", src, workload.ClockReal, Options{}); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
}

// A capped wait that gave up does not take a notify from a wait still
// waiting: a waits from 0, b gives up at 11 ms, the one notify at 20 ms
// ends a's wait (it was owed to b and swallowed: a deadlock).
func TestNotifyCaseGiveUpKeepsOrder(t *testing.T) {
	src := `name: giveup
clock: virtual
threads:
  - {name: a, run: fa}
  - {name: b, run: fb}
  - {name: p, run: prod}
functions:
  fa:
    - wait: {lock: q, until: notify}
  fb:
    - sleep: 1ms
    - wait: {lock: q, until: notify, duration: 10ms}
  prod:
    - sleep: 20ms
    - notify: q
    - sleep: 20ms
`
	w, err := workload.Parse("giveup.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	_, s := mustRun(t, w, Options{Cores: 2})
	for i, th := range s.Trace.Threads {
		if got := time.Duration(s.Threads[i].End); th.Name == "a" && (got < 20*time.Millisecond || got > 21*time.Millisecond) {
			t.Errorf("a ended at %v, want at the notify, 20 ms", got)
		}
	}
}

// A wait for a notify from a thread that only it starts, after the wait:
// a deadlock the run reports, in both clocks (real time waited for ever).
func TestNotifyCaseUnstartedNotifier(t *testing.T) {
	src := `name: unstarted
threads:
  - {name: main, run: main}
  - {name: w, run: work}
functions:
  main:
    - wait: {lock: x, until: notify}
    - start: w
  work:
    - notify: x
`
	for _, c := range bothClocks {
		err := runSrc(t, "unstarted", src, c, Options{})
		if err == nil || !strings.Contains(err.Error(), `(main on "x"; 1 more wait for a start: that none of them will give)`) {
			t.Errorf("%s: %v, want the notify deadlock naming the unstarted thread", c, err)
		}
	}
}
