package vm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm/workload"
)

// daemonSrc: the main thread sleeps 100 ms while daemon threads would run
// for seconds, each caught at the exit in another state: computing under
// the GIL, sleeping, holding a lock, waiting for it, waiting for a notify
// that never comes, in a native call that releases the GIL, not started.
const daemonSrc = `name: daemons
gil: {mode: %s}
threads:
  - {name: main, run: mainf}
  - {name: cpu, count: 2, run: spin, daemon: true}
  - {name: poll, run: poll, daemon: true}
  - {name: holder, run: hold, daemon: true}
  - {name: waiter, run: take, daemon: true, start_after: 10ms}
  - {name: listener, run: listen, daemon: true}
  - {name: hasher, run: hash, daemon: true}
  - {name: late, run: spin, daemon: true, start_after: 1s}
functions:
  mainf: [{sleep: 100ms}, {compute: 1ms}]
  spin: [{repeat: {times: 1000, body: [{compute: 5ms}]}}]
  poll: [{repeat: {times: 1000, body: [{sleep: 5ms}, {compute: 10us}]}}]
  hold: [{lock: {name: l, body: [{sleep: 10s}]}}]
  take: [{lock: {name: l, body: [{compute: 1ms}]}}]
  listen: [{wait: {lock: news, until: notify}}]
  hash: [{native: {duration: 10s, releases_gil: true}}]
  never: [{notify: news}]
`

// TestDaemonThreadsVirtual: when the main thread, the only one that is not
// a daemon, ends, the process exits: every daemon thread ends then,
// whatever it was doing, the run is not interrupted, and two runs give the
// same bytes; in every GIL mode and on fewer cores than threads.
// (TestVirtualRunAheadIsExact's random workloads have daemons too.)
func TestDaemonThreadsVirtual(t *testing.T) {
	for _, mode := range []string{"cpython", "legacy", "none"} {
		for _, cores := range []int{0, 1, 3} {
			if mode == "legacy" && cores != 1 {
				// The legacy GIL's holder keeps it from the main thread
				// for seconds of ticks (6 s to simulate); on one core
				// the slices hand it over.
				continue
			}
			t.Run(fmt.Sprintf("%s/%d-cores", mode, cores), func(t *testing.T) {
				w, err := workload.Parse("daemons.yaml", []byte(fmt.Sprintf(daemonSrc, mode)))
				if err != nil {
					t.Fatal(err)
				}
				var files [][]byte
				for range 2 {
					tr, err := Run(context.Background(), w, Options{ClockMode: workload.ClockVirtual, Cores: cores})
					if err != nil {
						t.Fatal(err)
					}
					if err := tr.CheckValid(); err != nil {
						t.Fatal(err)
					}
					if tr.Meta.Extra["interrupted"] != "" {
						t.Error("the run is marked interrupted")
					}
					checkDaemonsEndAtExit(t, tr, 0)
					files = append(files, traceBytes(t, tr))
				}
				if !bytes.Equal(files[0], files[1]) {
					t.Error("two runs differ")
				}
			})
		}
	}
}

// checkDaemonsEndAtExit checks that every thread ended, the daemons within
// slack of main's end and no event of theirs after that.
func checkDaemonsEndAtExit(t *testing.T, tr *tracer.Trace, slack int64) {
	t.Helper()
	s := tracer.Derive(tr)
	var exit int64 = -1
	for i, th := range tr.Threads {
		if th.Name == "main" {
			exit = s.Threads[i].End
		}
	}
	if exit < 100*int64(time.Millisecond) {
		t.Fatalf("main ended at %v, before its 100ms sleep", time.Duration(exit))
	}
	for i, th := range tr.Threads {
		ts := s.Threads[i]
		if !ts.Ended {
			t.Errorf("%s did not end", th.Name)
		}
		if ts.End > exit+slack+10 {
			t.Errorf("%s ended at %v, after the exit at %v", th.Name, time.Duration(ts.End), time.Duration(exit))
		}
	}
	if d := tr.Duration(); d > exit+slack+10 {
		t.Errorf("the trace lasts %v, past the exit at %v", time.Duration(d), time.Duration(exit))
	}
}

// TestDaemonThreadsReal: the same in real time, where the daemons notice
// the exit within a few milliseconds (their work would last seconds).
func TestDaemonThreadsReal(t *testing.T) {
	for _, mode := range []string{"cpython", "none"} {
		t.Run(mode, func(t *testing.T) {
			w, err := workload.Parse("daemons.yaml", []byte(fmt.Sprintf(daemonSrc, mode)))
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			tr, err := Run(context.Background(), w, Options{LoopsPerMS: testLoopsPerMS()})
			if err != nil {
				t.Fatal(err)
			}
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("the run took %v: the daemons were not stopped at the exit", el)
			}
			if err := tr.CheckValid(); err != nil {
				t.Fatal(err)
			}
			if tr.Meta.Extra["interrupted"] != "" {
				t.Error("the run is marked interrupted")
			}
			checkDaemonsEndAtExit(t, tr, int64(500*time.Millisecond))
		})
	}
}

// TestDaemonWaitingForNotifyAtExit: a daemon waiting for a notify that
// never comes when the main thread ends is stopped by the exit, not
// reported as a deadlock.
func TestDaemonWaitingForNotifyAtExit(t *testing.T) {
	const src = `name: listener
threads:
  - {name: main, run: mainf}
  - {name: listener, run: listen, daemon: true}
functions:
  mainf: [{sleep: 10ms}]
  listen: [{wait: {lock: news, until: notify}}]
  never: [{notify: news}]
`
	for _, clock := range bothClocks {
		if err := runSrc(t, "listener", src, clock, Options{}); err != nil {
			t.Errorf("%s: %v", clock, err)
		}
	}
}

// daemonBody is random operations (computes, sleeps, native calls, locks,
// repeats, waits) for daemonWorkload.
func daemonBody(r *rand.Rand, depth int, lock int) string {
	var ops []string
	for range 1 + r.IntN(3) {
		switch k := r.IntN(8); {
		case k == 0:
			ops = append(ops, fmt.Sprintf("{compute: %dms}", 1+r.IntN(10)))
		case k == 1:
			ops = append(ops, fmt.Sprintf("{sleep: %dms}", 1+r.IntN(10)))
		case k == 2:
			ops = append(ops, fmt.Sprintf("{native: {duration: %dms, releases_gil: %v}}", 1+r.IntN(10), r.IntN(2) == 0))
		case k == 3 && depth < 2 && lock < 2:
			l := lock + r.IntN(2-lock)
			ops = append(ops, fmt.Sprintf("{lock: {name: l%d, body: [%s]}}", l, daemonBody(r, depth+1, l+1)))
		case k == 4 && depth < 2:
			ops = append(ops, fmt.Sprintf("{repeat: {times: %d, body: [%s]}}", 1+r.IntN(20), daemonBody(r, depth+1, lock)))
		case k == 5:
			ops = append(ops, fmt.Sprintf("{wait: {lock: w, duration: %dms}}", 1+r.IntN(10)))
		default:
			ops = append(ops, fmt.Sprintf("{compute: %dus}", 100*(1+r.IntN(50))))
		}
	}
	return strings.Join(ops, ", ")
}

// daemonWorkload is a random workload of one or two processes, each with
// a main thread and daemon groups, in a random GIL mode.
func daemonWorkload(r *rand.Rand) string {
	modes := []string{"cpython", "cpython", "legacy", "none"}
	var b strings.Builder
	procs := 1 + r.IntN(2)
	mode := modes[r.IntN(len(modes))]
	gil := fmt.Sprintf("{mode: %s, switch_interval: %dms}", mode, 1+r.IntN(5))
	if mode != "cpython" {
		gil = "{mode: " + mode + "}"
	}
	fmt.Fprintf(&b, "name: rv\nprocesses: %d\ngil: %s\nthreads:\n", procs, gil)
	fmt.Fprintf(&b, "  - {name: main, run: f0}\n")
	n := 1 + r.IntN(4)
	for g := 1; g <= n; g++ {
		fmt.Fprintf(&b, "  - {name: d%d, run: f%d, count: %d, daemon: true, repeat: %d, start_after: %dms}\n", g, g, 1+r.IntN(3), 1+r.IntN(50), r.IntN(3))
	}
	fmt.Fprintf(&b, "functions:\n  f0: [%s]\n", daemonBody(r, 0, 0))
	for g := 1; g <= n; g++ {
		fmt.Fprintf(&b, "  f%d: [%s]\n", g, daemonBody(r, 0, 0))
	}
	return b.String()
}

// daemonCheck: a valid trace, and no event of a daemon after its process's exit (the last end of
// a non-daemon of that process), allowing slack ns for the unwinding.
func daemonCheck(tr *tracer.Trace, slack int64) error {
	if err := tr.CheckValid(); err != nil {
		return err
	}
	daemon := func(name string) bool { return strings.HasPrefix(name, "d") }
	exit := map[tracer.ProcID]int64{}
	for _, e := range tr.Events {
		th := tr.Threads[e.Thread]
		if !daemon(th.Name) && e.Kind == tracer.KindThreadEnd {
			exit[th.Proc] = max(exit[th.Proc], e.Time)
		}
	}
	for _, e := range tr.Events {
		th := tr.Threads[e.Thread]
		if daemon(th.Name) && e.Time > exit[th.Proc]+slack {
			return fmt.Errorf("daemon %s: %s at %d, after its process's exit at %d (+%dns)", th.Name, e.Kind, e.Time, exit[th.Proc], e.Time-exit[th.Proc])
		}
	}
	return nil
}

// TestDaemonRandom: random workloads of daemons (every GIL mode, 0-3
// cores, one process for all or not): nothing of a daemon after its
// process's exit (a daemon is bounded by the queued times of its
// process's other threads: in mode none a parked main thread left it
// unbounded, and it recorded 100 ms past the exit), never interrupted,
// the same bytes twice. TestVirtualRunAheadIsExact compares random
// workloads with daemons against strict runs.
func TestDaemonRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 9))
	n := 40
	if raceEnabled {
		n = 10
	}
	for i := range n {
		src := daemonWorkload(r)
		w, err := workload.Parse("daemons.yaml", []byte(src))
		if err != nil {
			t.Fatalf("%v\n%s", err, src)
		}
		cores, one := r.IntN(4), r.IntN(3) == 0
		if strings.Contains(src, "mode: legacy") {
			cores = 1 // else its holder keeps the GIL for seconds of ticks: slow to simulate
		}
		var files [][]byte
		for range 2 {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			tr, err := Run(ctx, w, Options{ClockMode: workload.ClockVirtual, Cores: cores, OneProcess: one})
			cancel()
			if err == nil {
				err = daemonCheck(tr, 50)
			}
			if err == nil && tr.Meta.Extra["interrupted"] != "" {
				err = errors.New("interrupted")
			}
			if err != nil {
				t.Fatalf("%d (%d cores, one process %v): %v\n%s", i, cores, one, err, src)
			}
			files = append(files, traceBytes(t, tr))
		}
		if !bytes.Equal(files[0], files[1]) {
			t.Fatalf("%d (%d cores, one process %v): two runs differ\n%s", i, cores, one, src)
		}
	}
}

// TestDaemonExitCases: a daemon stopped while waiting for its start gate
// does not count as a thread waiting for a start (it made the notify
// deadlock check fire in the other process); daemons that get a core only
// at the exit end there without taking the GIL.
func TestDaemonExitCases(t *testing.T) {
	const gated = `name: gated
processes: 2
threads:
  - {name: main, run: m1, process: 1}
  - {name: starter, run: st, process: 1, daemon: true}
  - {name: bg, run: spin, process: 1, daemon: true}
  - {name: main2, run: listen, process: 2}
  - {name: notifier, run: late, process: 2}
functions:
  m1: [{sleep: 10ms}]
  st: [{sleep: 1s}, {start: bg}]
  spin: [{compute: 5ms}]
  listen: [{wait: {lock: news, until: notify}}]
  late: [{compute: 50ms}, {notify: news}]
`
	for _, clock := range bothClocks {
		if err := runSrc(t, "gated", gated, clock, Options{}); err != nil {
			t.Errorf("%s: %v", clock, err)
		}
	}
	// Without a GIL, a main thread parked on a lock a daemon holds: the
	// other daemon, computing, ran on past the exit.
	w, err := workload.Parse("lockd.yaml", []byte(`name: lockd
gil: {mode: none}
threads:
  - {name: main, run: m}
  - {name: dholder, run: h, daemon: true}
  - {name: dspinner, run: s, daemon: true}
functions:
  m: [{sleep: 1ms}, {lock: {name: l, body: [{compute: 1ms}]}}]
  h: [{lock: {name: l, body: [{sleep: 5ms}]}}]
  s: [{repeat: {times: 100, body: [{compute: 1ms}]}}]
`))
	if err != nil {
		t.Fatal(err)
	}
	for _, cores := range []int{0, 2} {
		tr, err := Run(context.Background(), w, Options{ClockMode: workload.ClockVirtual, Cores: cores})
		if err == nil {
			err = daemonCheck(tr, 50)
		}
		if err != nil {
			t.Errorf("lockd on %d cores: %v", cores, err)
		}
	}
	w, err = workload.Parse("tie.yaml", []byte(`name: tie
threads:
  - {name: main, run: m}
  - {name: d, count: 2, run: f, daemon: true}
functions:
  m: [{compute: 2ms}]
  f: [{compute: 100ms}]
`))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := Run(context.Background(), w, Options{ClockMode: workload.ClockVirtual, Cores: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range tr.Events {
		if tr.Threads[e.Thread].Name != "main" && (e.Kind == tracer.KindLockAcquire || e.Kind == tracer.KindLockWait) {
			t.Errorf("%s: %s at %v, at or after the exit", tr.Threads[e.Thread].Name, e.Kind, time.Duration(e.Time))
		}
	}
}
