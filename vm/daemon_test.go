package vm

import (
	"bytes"
	"context"
	"fmt"
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
