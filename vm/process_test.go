package vm

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm/workload"
)

// poolYAML: a parent (process 1) that starts and joins a helper, and two
// workers (processes 2 and 3) of 20 ms of Python each, one of which also
// starts and joins a helper of the same name.
const poolYAML = `name: pool
processes: 3
threads:
  - {name: MainThread, run: parent, process: 1}
  - {name: helper, run: help, process: 1}
  - {name: MainThread, run: work, process: 2}
  - {name: MainThread, run: parent, process: 3}
  - {name: helper, run: help, process: 3}
functions:
  parent: [{start: helper}, {compute: 20ms}, {join: helper}]
  help: [{sleep: 30ms}]
  work: [{compute: 20ms}]
`

// TestVirtualProcessGroups: each group runs in its process only; each
// process starts and joins its own helper; the processes have their own
// GILs, so the worker of process 2 never waits for one, and the wall is
// the longest process's: the helper takes its GIL when its parent drops it
// (one 5 ms interval) and sleeps 30 ms.
func TestVirtualProcessGroups(t *testing.T) {
	w, err := workload.Parse("pool.yaml", []byte(poolYAML))
	if err != nil {
		t.Fatal(err)
	}
	tr, s := sim(t, w, Options{Cores: 4})
	var got []string
	for _, th := range tr.Threads {
		got = append(got, th.Name+"@"+tr.Procs[th.Proc].Name)
	}
	want := "MainThread@pool-1 helper@pool-1 MainThread@pool-2 MainThread@pool-3 helper@pool-3"
	if strings.Join(got, " ") != want {
		t.Fatalf("threads %v, want %s", got, want)
	}
	if gw := s.ThreadTotals(2)[tracer.StateGILWait]; gw > int64(DefaultWakeLatency) {
		t.Errorf("process 2's worker waited %v for its GIL: it has its process's GIL to itself", time.Duration(gw))
	}
	if d := time.Duration(tr.Duration()); d < 35*time.Millisecond || d > 36*time.Millisecond {
		t.Errorf("wall %v, want 35 ms and a few wake-up latencies", d)
	}
	// Each parent joined its own helper, on its own join lock.
	for _, p := range []string{"pool-1", "pool-3"} {
		n := 0
		for _, l := range tr.Locks {
			if l.Name == "join helper" && tr.Procs[l.Proc].Name == p {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s has %d join locks of helper, want 1", p, n)
		}
	}
}

// TestVirtualOneProcess: Options.OneProcess runs every process's threads
// in one process with one GIL: the Python work of the three main threads
// (60 ms) is serialised, and each main thread still starts and joins only
// its own process's helper.
func TestVirtualOneProcess(t *testing.T) {
	w, err := workload.Parse("pool.yaml", []byte(poolYAML))
	if err != nil {
		t.Fatal(err)
	}
	tr, s := sim(t, w, Options{Cores: 4, OneProcess: true})
	if len(tr.Procs) != 1 || len(tr.Threads) != 5 {
		t.Fatalf("%d processes, %d threads; want 1 and 5", len(tr.Procs), len(tr.Threads))
	}
	if d := time.Duration(tr.Duration()); d < 60*time.Millisecond || d > 100*time.Millisecond {
		t.Errorf("wall %v, want at least the 60 ms of Python serialised", d)
	}
	for id, th := range tr.Threads {
		if th.Name != "MainThread" {
			continue
		}
		waits := 0
		for _, e := range tr.Events {
			if e.Thread == tracer.ThreadID(id) && e.Kind == tracer.KindLockWait && tr.Locks[e.Lock()].Name == "join helper" {
				waits++
			}
		}
		if waits > 1 {
			t.Errorf("MainThread %d waited on %d helpers' join locks, want at most 1: its own process's", id, waits)
		}
	}
	// The worker of process 2 runs work, not parent: its 20 ms of Python
	// and no join.
	if tt := s.ThreadTotals(2); tt[tracer.StateRunning] < int64(20*time.Millisecond) || tt[tracer.StateRunning] > int64(20*time.Millisecond+time.Microsecond) || tt[tracer.StateLockWait] != 0 {
		t.Errorf("process 2's MainThread: %v running, %v lock wait; want 20ms and none", time.Duration(tt[tracer.StateRunning]), time.Duration(tt[tracer.StateLockWait]))
	}
	// A group beyond the processes of an override is refused.
	if _, err := Run(context.Background(), w, Options{ClockMode: workload.ClockVirtual, Processes: 2}); err == nil || !strings.Contains(err.Error(), `thread group "MainThread" belongs to process 3, but the run has 2: run it with 3 or more processes`) {
		t.Errorf("2 processes for a workload of 3: %v", err)
	}
}

// TestVirtualWait: a wait is recorded as a wait on its lock for exactly
// its duration, the GIL released; a wait on a lock another thread holds at
// its end waits for the release.
func TestVirtualWait(t *testing.T) {
	w, err := workload.Parse("wait.yaml", []byte(`name: wait
threads:
  - {name: consumer, run: consume}
  - {name: producer, run: produce}
functions:
  consume: [{compute: 1ms}, {wait: {duration: 10ms, lock: queue}}, {compute: 1ms}]
  produce: [{compute: 2ms}, {lock: {name: queue, body: [{sleep: 12ms}]}}]
`))
	if err != nil {
		t.Fatal(err)
	}
	tr, s := sim(t, w, Options{Cores: 2})
	q := lockNamed(tr, "queue")
	waits := lockEvents(tr, tracer.KindLockWait, q, "consumer")
	acq := lockEvents(tr, tracer.KindLockAcquire, q, "consumer")
	rel := lockEvents(tr, tracer.KindLockRelease, q, "producer")
	if len(waits) != 1 || len(acq) != 1 || len(rel) != 1 {
		t.Fatalf("consumer: %d waits and %d acquires of queue, producer %d releases; want 1 each", len(waits), len(acq), len(rel))
	}
	// The wait's 10 ms end at 11 ms, while the producer holds queue (from
	// 3 ms, after its 2 ms of Python, to 15 ms): the consumer takes it
	// after the release.
	if acq[0].Time < rel[0].Time {
		t.Errorf("consumer took queue at %v, before the producer released it at %v", time.Duration(acq[0].Time), time.Duration(rel[0].Time))
	}
	tt := s.ThreadTotals(0)
	if lw := time.Duration(tt[tracer.StateLockWait]); lw < 14*time.Millisecond || lw > 14*time.Millisecond+2*DefaultWakeLatency+time.Microsecond {
		t.Errorf("consumer waited %v on queue, want from 1 ms to the producer's release at 15 ms", lw)
	}
	// Alone, the wait lasts exactly its duration.
	w.Threads = w.Threads[:1]
	tr, s = sim(t, w, Options{Cores: 1})
	if lw := time.Duration(s.ThreadTotals(0)[tracer.StateLockWait]); lw < 10*time.Millisecond || lw > 10*time.Millisecond+DefaultWakeLatency {
		t.Errorf("a wait of 10ms alone: %v of lock wait", lw)
	}
	_ = tr
}

// TestWaitRealTime: in real time a wait of 20 ms is a wait on its lock of
// at least 20 ms, the GIL released (another thread runs meanwhile).
func TestWaitRealTime(t *testing.T) {
	w, err := workload.Parse("wait.yaml", []byte(`name: wait
threads:
  - {name: waiter, run: w}
  - {name: runner, run: r}
functions:
  w: [{wait: {duration: 20ms, lock: event}}]
  r: [{compute: 10ms}]
`))
	if err != nil {
		t.Fatal(err)
	}
	tr, s := mustRun(t, w, Options{})
	lw := time.Duration(s.ThreadTotals(0)[tracer.StateLockWait])
	if lw < 20*time.Millisecond || lw > time.Second {
		t.Errorf("waiter waited %v on event, want 20 ms or a little more", lw)
	}
	if n := len(lockEvents(tr, tracer.KindLockWait, lockNamed(tr, "event"), "waiter")); n != 1 {
		t.Errorf("%d waits on event, want 1", n)
	}
	if gw := time.Duration(s.ThreadTotals(1)[tracer.StateGILWait]); gw > 5*time.Millisecond+500*time.Millisecond {
		t.Errorf("runner waited %v for the GIL while the waiter waited without it", gw)
	}
}
