package cpython

import (
	"debug/elf"
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/giltrace/giltrace/tracer"
)

// fakeMem serves a machine without a process: return addresses below
// 0x9000 are in libpython, the others in _hashlib.
type fakeMem struct{}

const (
	testLib    = "/py/lib/libpython3.11.so.1.0"
	testHash   = "/py/lib/python3.11/lib-dynload/_hashlib.cpython-311-x86_64-linux-gnu.so"
	raSleep    = 0x1010 // in pysleep
	raLock     = 0x2010 // in acquire_timed
	raHashlib  = 0x9010 // in EVP_hash
	testThread = 100
)

func (fakeMem) memory(int) *memory { return &memory{} }
func (fakeMem) mapping(_ int, addr uint64) (string, uint64, bool) {
	if addr >= 0x9000 {
		return testHash, addr, true
	}
	return testLib, addr, true
}
func (fakeMem) interval(int) (int64, bool)        { return 5_000_000, true }
func (fakeMem) holder(int) (uint64, uint64, bool) { return 0, 0, false }
func (fakeMem) codeType(int) (uint64, bool)       { return 0, false }
func (fakeMem) forget(int)                        {}

func testMachine(rec *tracer.Recorder) *machine {
	in := &interp{layout: &layout{minor: 11, frameOwner: -1, codeQualname: -1, codeCode: -1}}
	m := newMachine(rec, in, frameArgs{}, 32, "test", fakeMem{})
	m.syms[testLib] = &symbolize{funcs: symbols("pysleep", 0x1000, "acquire_timed", 0x2000)}
	m.syms[testHash] = &symbolize{funcs: symbols("EVP_hash", 0x9000)}
	return m
}

// symbols makes 0x100-byte function symbols from name, address pairs.
func symbols(kv ...any) []elf.Symbol {
	var out []elf.Symbol
	for i := 0; i < len(kv); i += 2 {
		out = append(out, elf.Symbol{Name: kv[i].(string), Value: uint64(kv[i+1].(int)), Size: 0x100})
	}
	return out
}

// step feeds a canned hit at t microseconds.
func step(m *machine, us int64, tid int, event string, args ...any) {
	e := rawEvent{tid: tid, tgid: testThread, event: event}
	for i := 0; i < len(args); i += 2 {
		e.args = append(e.args, arg{name: args[i].(string), vals: []uint64{uint64(args[i+1].(int))}})
	}
	m.step(&e, us*1000)
}

func dump(tr *tracer.Trace) string {
	var b strings.Builder
	for _, e := range tr.Events {
		fmt.Fprintf(&b, "%d %s %s", e.Time/1000, tr.Threads[e.Thread].Name, e.Kind)
		switch e.Kind {
		case tracer.KindLockWait:
			fmt.Fprintf(&b, " %s", tr.Locks[e.Lock()].Name)
		case tracer.KindLockAcquire:
			fmt.Fprintf(&b, " %s %s", tr.Locks[e.Lock()].Name, e.Acquire())
		case tracer.KindLockRelease:
			fmt.Fprintf(&b, " %s %s", tr.Locks[e.Lock()].Name, e.Release())
		case tracer.KindDropRequest:
			fmt.Fprintf(&b, " %s holder=%s", tr.Locks[e.Lock()].Name, tr.Threads[e.Peer()].Name)
		case tracer.KindIOBegin:
			fmt.Fprintf(&b, " %s", tr.Str(e.IOKind()))
		case tracer.KindNativeBegin:
			fmt.Fprintf(&b, " releases=%v", e.ReleasesGIL())
		}
		b.WriteString("\n")
	}
	return b.String()
}

// TestMachineProtocol feeds the hits of two threads (uncontended start, a
// sleep, contention with an inferred drop request and a forced switch, a
// lock wait, a thread end, a GIL-releasing hashlib call) and checks the
// exact events.
func TestMachineProtocol(t *testing.T) {
	rec := tracer.NewRecorder(tracer.Config{})
	m := testMachine(rec)
	const main, worker = testThread, 101
	step(m, 0, main, evTakeGIL, "ts", 1)
	step(m, 1, main, evTakeGILRet)
	step(m, 10, main, evSave, "ra", raSleep)
	step(m, 11, main, evDropGIL, "ts", 1)
	step(m, 12, worker, evTakeGIL, "ts", 2)
	step(m, 13, worker, evTakeGILRet)
	step(m, 20, main, evRestore, "ts", 1)
	step(m, 21, main, evTakeGIL, "ts", 1)
	step(m, 5030, worker, evDropGIL, "ts", 2) // the eval breaker
	step(m, 5031, main, evTakeGILRet)
	step(m, 5032, worker, evTakeGIL, "ts", 2)
	step(m, 6000, main, evSave, "ra", raLock)
	step(m, 6001, main, evDropGIL, "ts", 1)
	step(m, 6002, main, evLock, "lock", 0xabc, "us", -1)
	step(m, 6003, worker, evTakeGILRet)
	step(m, 7000, main, evRestore, "ts", 1)
	step(m, 7001, main, evTakeGIL, "ts", 1)
	step(m, 7100, worker, evThreadEnd)
	step(m, 7101, worker, evDropGIL, "ts", 2)
	step(m, 7102, main, evTakeGILRet)
	step(m, 7200, worker, evExit)
	step(m, 7500, main, evSave, "ra", raHashlib)
	step(m, 7501, main, evDropGIL, "ts", 1)
	step(m, 7600, main, evRestore, "ts", 1)
	step(m, 7601, main, evTakeGIL, "ts", 1)
	step(m, 7602, main, evTakeGILRet)
	m.finish(8000_000, tracer.ReleaseThreadEnd)
	tr := rec.Finish(tracer.Meta{})
	if err := tr.CheckValid(); err != nil {
		t.Fatalf("invalid: %v\n%s", err, dump(tr))
	}
	want := `0 MainThread thread-start
0 MainThread lock-acquire GIL uncontended
11 MainThread io-begin sleep
11 MainThread lock-release GIL io
12 thread 101 thread-start
12 thread 101 lock-acquire GIL uncontended
20 MainThread io-end
21 MainThread lock-wait GIL
5021 MainThread drop-request GIL holder=thread 101
5030 thread 101 lock-release GIL drop-request
5031 MainThread lock-acquire GIL forced
5032 thread 101 lock-wait GIL
6000 MainThread lock-wait lock 0xabc
6001 MainThread lock-release GIL lock-wait
6003 thread 101 lock-acquire GIL after-wait
6003 thread 101 call-enter
7000 MainThread lock-acquire lock 0xabc after-wait
7001 MainThread lock-wait GIL
7101 thread 101 lock-release GIL thread-end
7101 thread 101 thread-end
7102 MainThread lock-acquire GIL after-wait
7102 MainThread lock-release lock 0xabc unlock
7501 MainThread native-begin releases=true
7501 MainThread lock-release GIL native
7600 MainThread native-end
7600 MainThread lock-acquire GIL uncontended
8000 MainThread lock-release GIL thread-end
8000 MainThread thread-end
`
	if got := dump(tr); got != want {
		t.Errorf("events\n%s\nwant\n%s", got, want)
	}
}

// TestMachineAttach checks the start synthesised for threads already
// running: one first seen releasing the GIL, one first seen inside a
// blocking call (ignored until it asks for the GIL, then taking it from
// the first, which released it on a drop request: a forced switch), and
// the end of a stopped run.
func TestMachineAttach(t *testing.T) {
	rec := tracer.NewRecorder(tracer.Config{})
	m := testMachine(rec)
	step(m, 100, 201, evDropGIL, "ts", 1) // held the GIL at attach
	step(m, 101, 202, evRestore, "ts", 2) // was blocked at attach
	step(m, 102, 202, evTakeGIL, "ts", 2)
	step(m, 103, 202, evTakeGILRet)
	step(m, 150, 201, evTakeGIL, "ts", 1)
	m.finish(200_000, tracer.ReleaseInterrupt)
	tr := rec.Finish(tracer.Meta{})
	if err := tr.CheckValid(); err != nil {
		t.Fatalf("invalid: %v\n%s", err, dump(tr))
	}
	want := `99 thread 201 thread-start
99 thread 201 lock-acquire GIL uncontended
100 thread 201 lock-release GIL drop-request
102 thread 202 thread-start
102 thread 202 lock-wait GIL
103 thread 202 lock-acquire GIL forced
150 thread 201 lock-wait GIL
200 thread 201 thread-end
200 thread 202 lock-release GIL interrupt
200 thread 202 thread-end
`
	if got := dump(tr); got != want {
		t.Errorf("events\n%s\nwant\n%s", got, want)
	}
}

func TestStackWindow(t *testing.T) {
	w := stackWindow{base: 1000, data: make([]byte, 100)}
	tests := []struct {
		addr uint64
		n    int
		ok   bool
	}{
		{1000, 100, true}, {1050, 50, true}, {1050, 51, false}, {999, 1, false},
		{1100, 0, true}, {1101, 0, false}, {1<<64 - 8, 16, false}, {1010, -1, false},
	}
	for _, tc := range tests {
		if _, ok := w.read(tc.addr, tc.n); ok != tc.ok {
			t.Errorf("read(%d, %d): %v, want %v", tc.addr, tc.n, ok, tc.ok)
		}
	}
	if _, ok := (stackWindow{}).read(0, 0); ok {
		t.Error("empty window read")
	}
}

// TestMachineTimedWaits: without lock holds, a timed wait on a lock that
// lasted its whole timeout ran out (ranOut): it is I/O "lock-timeout",
// not a wait that got its lock, as with the outcome probed; one that
// ended sooner got it (a notification), and so did an untimed one. A
// timed wait in Thread.join stays a wait for the join lock (the diagnosis
// tells a timed join that ran out by the next join). 3.13's parking lot
// gives the timeout in nanoseconds.
func TestMachineTimedWaits(t *testing.T) {
	rec := tracer.NewRecorder(tracer.Config{})
	m := testMachine(rec)
	const main = testThread
	var top tracer.Frame // the waiter's frame, as a stack read gives it
	wait := func(at int64, lock, us int, dur int64) {
		step(m, at, main, evSave, "ra", raLock)
		step(m, at+1, main, evDropGIL, "ts", 1)
		step(m, at+2, main, evLock, "lock", lock, "us", us)
		m.threads[main].top = top
		step(m, at+dur, main, evRestore, "ts", 1)
		step(m, at+dur+1, main, evTakeGIL, "ts", 1)
		step(m, at+dur+2, main, evTakeGILRet)
	}
	step(m, 0, main, evTakeGIL, "ts", 1)
	step(m, 1, main, evTakeGILRet)
	wait(10, 0xa, 100, 103) // Event.wait(0.0001), ran out
	wait(200, 0xb, 100, 60) // notified before its timeout
	wait(300, 0xc, -1, 500) // untimed
	top = tracer.Frame{Func: "Thread._wait_for_tstate_lock", File: "/py/lib/python3.11/threading.py"}
	wait(1000, 0xd, 100, 103) // a timed join that ran out
	top = tracer.Frame{}
	step(m, 1200, main, evPark, "lock", 0xe, "timeout", 100_000) // 3.13: ns
	step(m, 1201, main, evDetach, "ra", raLock)
	step(m, 1202, main, evDropGIL, "ts", 1)
	step(m, 1310, main, evAttach, "ts", 1)
	step(m, 1311, main, evTakeGIL, "ts", 1)
	step(m, 1312, main, evTakeGILRet)
	step(m, 1400, main, evPark, "lock", 0xf, "timeout", 100_000) // notified sooner
	step(m, 1401, main, evDetach, "ra", raLock)
	step(m, 1402, main, evDropGIL, "ts", 1)
	step(m, 1450, main, evAttach, "ts", 1)
	step(m, 1451, main, evTakeGIL, "ts", 1)
	step(m, 1452, main, evTakeGILRet)
	// A clone of the parking lot whose timeout GCC made a constant
	// (inlineSite.clone): the probe's, 100 us, ran out.
	m.inlined = map[string]*inlineProbe{"park_i0": {event: evPark, name: "park_i0", us: 100_000, usConst: true, site: inlineSite{clone: true}}}
	step(m, 1500, main, "park_i0", "lock", 0x10)
	step(m, 1501, main, evDetach, "ra", raLock)
	step(m, 1502, main, evDropGIL, "ts", 1)
	step(m, 1610, main, evAttach, "ts", 1)
	step(m, 1611, main, evTakeGIL, "ts", 1)
	step(m, 1612, main, evTakeGILRet)
	m.finish(2_000, tracer.ReleaseThreadEnd)
	tr := rec.Finish(tracer.Meta{})
	if err := tr.CheckValid(); err != nil {
		t.Fatalf("invalid: %v\n%s", err, dump(tr))
	}
	got := dump(tr)
	for _, want := range []string{
		"11 MainThread io-begin lock-timeout\n",
		"201 MainThread lock-release GIL lock-wait\n260 MainThread lock-acquire lock 0xb after-wait\n",
		"800 MainThread lock-acquire lock 0xc after-wait\n",
		"1103 MainThread lock-acquire lock 0xd (Thread.join) after-wait\n",
		"1202 MainThread io-begin lock-timeout\n",
		"1450 MainThread lock-acquire lock 0xf after-wait\n",
		"1502 MainThread io-begin lock-timeout\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in\n%s", want, got)
		}
	}
	if m.lockTimeouts != 3 {
		t.Errorf("lock timeouts %d, want 3", m.lockTimeouts)
	}
}

// TestMachineLockHolds feeds observed lock holds (Options.LockHolds): an
// uncontended hold across a sleep, a contended acquire that waits for it,
// a release of a lock never shown held (left out), a lock that one
// thread only held (left out), and a lock held until the thread ends.
func TestMachineLockHolds(t *testing.T) {
	rec := tracer.NewRecorder(tracer.Config{})
	m := testMachine(rec)
	m.lockHolds = true
	const main, worker = testThread, 101
	step(m, 0, main, evTakeGIL, "ts", 1)
	step(m, 1, main, evTakeGILRet)
	step(m, 5, main, evLock, "lock", 0xc, "us", 0)
	step(m, 6, main, evLockRet, "ret", 1)
	step(m, 7, main, evUnlock, "lock", 0xc)
	step(m, 8, main, evLock, "lock", 0xd, "us", 0) // held by one thread only: left out
	step(m, 9, main, evLockRet, "ret", 1)
	step(m, 10, main, evLock, "lock", 0xa, "us", 0)
	step(m, 11, main, evLockRet, "ret", 1)
	step(m, 12, main, evUnlock, "lock", 0xd)
	step(m, 20, main, evSave, "ra", raSleep)
	step(m, 21, main, evDropGIL, "ts", 1)
	step(m, 22, worker, evTakeGIL, "ts", 2)
	step(m, 23, worker, evTakeGILRet)
	step(m, 30, worker, evLock, "lock", 0xa, "us", 0)
	step(m, 31, worker, evLockRet, "ret", 0)
	step(m, 32, worker, evSave, "ra", raLock)
	step(m, 33, worker, evDropGIL, "ts", 2)
	step(m, 34, worker, evLock, "lock", 0xa, "us", -1)
	step(m, 40, main, evTakeGIL, "ts", 1)
	step(m, 41, main, evTakeGILRet)
	step(m, 50, main, evUnlock, "lock", 0xa)
	step(m, 51, worker, evLockRet, "ret", 1)
	step(m, 52, worker, evTakeGIL, "ts", 2)
	step(m, 60, main, evSave, "ra", raSleep)
	step(m, 61, main, evDropGIL, "ts", 1)
	step(m, 62, worker, evTakeGILRet)
	step(m, 70, worker, evUnlock, "lock", 0xa)
	step(m, 71, worker, evUnlock, "lock", 0xb) // never shown held
	step(m, 72, worker, evLock, "lock", 0xc, "us", 0)
	step(m, 73, worker, evLockRet, "ret", 1)
	step(m, 80, worker, evThreadEnd)
	step(m, 81, worker, evDropGIL, "ts", 2)
	step(m, 90, main, evTakeGIL, "ts", 1)
	step(m, 91, main, evTakeGILRet)
	m.finish(100_000, tracer.ReleaseThreadEnd)
	tr := rec.Finish(tracer.Meta{})
	if err := tr.CheckValid(); err != nil {
		t.Fatalf("invalid: %v\n%s", err, dump(tr))
	}
	want := `0 MainThread thread-start
0 MainThread lock-acquire GIL uncontended
6 MainThread lock-acquire lock 0xc uncontended
7 MainThread lock-release lock 0xc unlock
11 MainThread lock-acquire lock 0xa uncontended
21 MainThread io-begin sleep
21 MainThread lock-release GIL io
22 thread 101 thread-start
22 thread 101 lock-acquire GIL uncontended
32 thread 101 lock-wait lock 0xa
33 thread 101 lock-release GIL lock-wait
40 MainThread io-end
40 MainThread lock-acquire GIL uncontended
50 MainThread lock-release lock 0xa unlock
51 thread 101 lock-acquire lock 0xa after-wait
52 thread 101 lock-wait GIL
61 MainThread io-begin sleep
61 MainThread lock-release GIL io
62 thread 101 lock-acquire GIL after-wait
70 thread 101 lock-release lock 0xa unlock
73 thread 101 lock-acquire lock 0xc uncontended
73 thread 101 call-enter
81 thread 101 lock-release GIL thread-end
81 thread 101 lock-release lock 0xc thread-end
81 thread 101 thread-end
90 MainThread io-end
90 MainThread lock-acquire GIL uncontended
100 MainThread lock-release GIL thread-end
100 MainThread thread-end
`
	if got := dump(tr); got != want {
		t.Errorf("events\n%s\nwant\n%s", got, want)
	}
	if m.unmatchedLocks != 1 || m.crossReleases != 0 {
		t.Errorf("unmatched %d, cross-thread %d; want 1, 0", m.unmatchedLocks, m.crossReleases)
	}
}

// TestMachineCrossThreadRelease feeds the releases of a lock by a thread
// that does not hold it: a Condition's waiter lock (taken by the waiter,
// waited for by the waiter, released by the notifier, never released by
// the waiter), and a lock released by another thread while its holder
// sleeps, then taken at once by the releaser (then by the sleeper: a lock
// held by one thread only is left out). The trace stays valid: the
// waiter lets its lock go when it begins to wait for it, the sleeper its
// own when it has the GIL back, and the releaser's acquire goes to a new
// lock of the same address.
func TestMachineCrossThreadRelease(t *testing.T) {
	rec := tracer.NewRecorder(tracer.Config{})
	m := testMachine(rec)
	m.lockHolds = true
	const main, worker = testThread, 101
	step(m, 0, main, evTakeGIL, "ts", 1)
	step(m, 1, main, evTakeGILRet)
	step(m, 2, main, evLock, "lock", 0xb, "us", 0)
	step(m, 3, main, evLockRet, "ret", 1)
	step(m, 4, main, evUnlock, "lock", 0xb)
	// main: waiter = allocate_lock(); waiter.acquire(); waiter.acquire()
	step(m, 10, main, evLock, "lock", 0xee, "us", 0)
	step(m, 11, main, evLockRet, "ret", 1)
	step(m, 12, main, evLock, "lock", 0xee, "us", 0)
	step(m, 13, main, evLockRet, "ret", 0)
	step(m, 14, main, evSave, "ra", raLock)
	step(m, 16, main, evDropGIL, "ts", 1)
	step(m, 17, main, evLock, "lock", 0xee, "us", -1)
	step(m, 18, worker, evTakeGIL, "ts", 2)
	step(m, 19, worker, evTakeGILRet)
	step(m, 20, worker, evUnlock, "lock", 0xee) // notify: the waiter's lock
	step(m, 21, main, evLockRet, "ret", 1)
	step(m, 22, main, evTakeGIL, "ts", 1)
	// worker takes 0xb and sleeps holding it
	step(m, 30, worker, evLock, "lock", 0xb, "us", 0)
	step(m, 31, worker, evLockRet, "ret", 1)
	step(m, 32, worker, evSave, "ra", raSleep)
	step(m, 33, worker, evDropGIL, "ts", 2)
	step(m, 34, main, evTakeGILRet)
	// main releases it, then takes it
	step(m, 40, main, evUnlock, "lock", 0xb)
	step(m, 41, main, evLock, "lock", 0xb, "us", 0)
	step(m, 42, main, evLockRet, "ret", 1)
	step(m, 43, main, evUnlock, "lock", 0xb)
	step(m, 50, worker, evTakeGIL, "ts", 2)
	step(m, 60, main, evSave, "ra", raSleep)
	step(m, 61, main, evDropGIL, "ts", 1)
	step(m, 62, worker, evTakeGILRet)
	step(m, 70, worker, evLock, "lock", 0xb, "us", 0)
	step(m, 71, worker, evLockRet, "ret", 1)
	step(m, 72, worker, evUnlock, "lock", 0xb)
	m.finish(100_000, tracer.ReleaseThreadEnd)
	tr := rec.Finish(tracer.Meta{})
	if err := tr.CheckValid(); err != nil {
		t.Fatalf("invalid: %v\n%s", err, dump(tr))
	}
	want := `0 MainThread thread-start
0 MainThread lock-acquire GIL uncontended
3 MainThread lock-acquire lock 0xb uncontended
4 MainThread lock-release lock 0xb unlock
11 MainThread lock-acquire lock 0xee uncontended
14 MainThread lock-release lock 0xee unlock
14 MainThread lock-wait lock 0xee
16 MainThread lock-release GIL lock-wait
18 thread 101 thread-start
18 thread 101 lock-acquire GIL uncontended
21 MainThread lock-acquire lock 0xee after-wait
22 MainThread lock-wait GIL
31 thread 101 lock-acquire lock 0xb uncontended
33 thread 101 io-begin sleep
33 thread 101 lock-release GIL io
34 MainThread lock-acquire GIL after-wait
42 MainThread lock-acquire lock 0xb uncontended
43 MainThread lock-release lock 0xb unlock
50 thread 101 io-end
50 thread 101 lock-wait GIL
61 MainThread io-begin sleep
61 MainThread lock-release GIL io
62 thread 101 lock-acquire GIL after-wait
62 thread 101 lock-release lock 0xb unlock
71 thread 101 lock-acquire lock 0xb uncontended
72 thread 101 lock-release lock 0xb unlock
100 MainThread lock-release lock 0xee thread-end
100 thread 101 lock-release GIL thread-end
100 MainThread thread-end
100 thread 101 thread-end
`
	if got := dump(tr); got != want {
		t.Errorf("events\n%s\nwant\n%s", got, want)
	}
	if m.crossReleases != 2 || len(tr.Locks) != 4 {
		t.Errorf("cross-thread releases %d, locks %d; want 2, 4 (the GIL, 0xee, 0xb twice)", m.crossReleases, len(tr.Locks))
	}
}

// TestMachineLockChaos feeds random lock traffic to three threads whose
// GIL handoffs follow the protocol: tries that succeed or fail, blocking
// waits that time out or succeed on any lock (held or not, by anyone),
// releases by any thread of any lock (held by another thread, or free,
// or without the GIL inside a blocking call), locks never released; half
// the runs with lock holds observed, half inferred. The trace is valid
// every time.
func TestMachineLockChaos(t *testing.T) {
	var cross, unmatched, holds int
	for seed := range 400 {
		rng := rand.New(rand.NewPCG(uint64(seed), 1))
		rec := tracer.NewRecorder(tracer.Config{})
		m := testMachine(rec)
		m.lockHolds = seed%2 == 0 // odd seeds: inferred holds, no return or release probe
		hit := func(us int64, tid int, event string, args ...any) {
			if m.lockHolds || (event != evLockRet && event != evUnlock) {
				step(m, us, tid, event, args...)
			}
		}
		tids := []int{testThread, 101, 102}
		const (
			ready   = iota // may take the GIL
			holding        // holds the GIL
			blocked        // in a blocking call (a sleep or a lock wait)
		)
		state := map[int]int{}
		waitLock := map[int]int{}
		holder := 0
		us := int64(0)
		lockAddr := func() int { return 0xa0 + rng.IntN(4) }
		for range 300 {
			us += 1 + rng.Int64N(20)
			tid := tids[rng.IntN(len(tids))]
			switch state[tid] {
			case ready:
				if holder != 0 {
					continue
				}
				step(m, us, tid, evTakeGIL, "ts", tid)
				step(m, us+1, tid, evTakeGILRet)
				us++
				holder, state[tid] = tid, holding
			case holding:
				switch rng.IntN(6) {
				case 0, 1: // lock.acquire(): a try
					step(m, us, tid, evLock, "lock", lockAddr(), "us", 0)
					hit(us+1, tid, evLockRet, "ret", rng.IntN(2))
					us++
				case 2: // lock.release(), held or not
					hit(us, tid, evUnlock, "lock", lockAddr())
				case 3: // a blocking wait for a lock
					a := lockAddr()
					step(m, us, tid, evSave, "ra", raLock)
					step(m, us+1, tid, evDropGIL, "ts", tid)
					step(m, us+2, tid, evLock, "lock", a, "us", -1)
					us += 2
					holder, state[tid], waitLock[tid] = 0, blocked, a
				case 4: // a sleep
					step(m, us, tid, evSave, "ra", raSleep)
					step(m, us+1, tid, evDropGIL, "ts", tid)
					us++
					holder, state[tid], waitLock[tid] = 0, blocked, 0
				case 5: // the eval breaker
					step(m, us, tid, evDropGIL, "ts", tid)
					holder, state[tid] = 0, ready
				}
			case blocked:
				if rng.IntN(4) == 0 { // C code releasing a lock without the GIL
					hit(us, tid, evUnlock, "lock", lockAddr())
					continue
				}
				if waitLock[tid] != 0 {
					hit(us, tid, evLockRet, "ret", rng.IntN(3))
				}
				state[tid] = ready
			}
		}
		m.finish(us*1000+1000, tracer.ReleaseInterrupt)
		tr := rec.Finish(tracer.Meta{})
		if err := tr.CheckValid(); err != nil {
			t.Fatalf("seed %d: invalid: %v\n%s", seed, err, dump(tr))
		}
		cross, unmatched = cross+m.crossReleases, unmatched+m.unmatchedLocks
		for _, e := range tr.Events {
			if e.Kind == tracer.KindLockAcquire && !tr.Locks[e.Lock()].GIL {
				holds++
			}
		}
	}
	if cross == 0 || unmatched == 0 || holds == 0 {
		t.Errorf("cross-thread releases %d, unmatched %d, guest-lock holds %d: the test no longer covers them", cross, unmatched, holds)
	}
}

// TestMachineLive: with a live recording published after every hit (as
// the recording loop does every 5 ms), the final trace is the same as
// without it, and the live recording is valid and holds the same events
// (its threads are named the same here): the main thread's long lock
// wait (Thread.join) is emitted there from its start, provisionally, and
// its own begin and release left out when it ends.
func TestMachineLive(t *testing.T) {
	const main, worker = testThread, 101
	hits := func(m *machine, publish func()) {
		st := func(us int64, tid int, event string, args ...any) {
			step(m, us, tid, event, args...)
			publish()
		}
		st(0, main, evTakeGIL, "ts", 1)
		st(1, main, evTakeGILRet)
		st(10, main, evSave, "ra", raLock)
		st(11, main, evDropGIL, "ts", 1)
		st(12, main, evLock, "lock", 0xabc, "us", -1) // join: no timeout
		st(20, worker, evTakeGIL, "ts", 2)
		st(21, worker, evTakeGILRet)
		for us := int64(1000); us < 20000; us += 1000 { // the worker sleeps now and then
			st(us, worker, evSave, "ra", raSleep)
			st(us+1, worker, evDropGIL, "ts", 2)
			st(us+50, worker, evRestore, "ts", 2)
			st(us+51, worker, evTakeGIL, "ts", 2)
			st(us+52, worker, evTakeGILRet)
		}
		st(20100, worker, evThreadEnd)
		st(20101, worker, evDropGIL, "ts", 2)
		st(20200, worker, evExit)
		st(20300, main, evRestore, "ts", 1)
		st(20301, main, evTakeGIL, "ts", 1)
		st(20302, main, evTakeGILRet)
		m.finish(21000_000, tracer.ReleaseThreadEnd)
		publish()
	}
	plainRec := tracer.NewRecorder(tracer.Config{})
	plain := testMachine(plainRec)
	hits(plain, func() {})
	want := dump(plainRec.Finish(tracer.Meta{}))

	rec, live := tracer.NewRecorder(tracer.Config{}), tracer.NewRecorder(tracer.Config{})
	m := testMachine(rec)
	m.live = live
	provisional := false
	hits(m, func() {
		m.publishLive()
		if th := m.threads[main]; th != nil && th.prov != nil {
			provisional = true
		}
	})
	if !provisional {
		t.Error("the main thread's lock wait was never emitted provisionally")
	}
	if m.liveBroken {
		t.Error("the live recording's IDs differed from the final one's")
	}
	if got := dump(rec.Finish(tracer.Meta{})); got != want {
		t.Errorf("the final trace changed with a live recording:\n%s\nwant\n%s", got, want)
	}
	lt := live.Finish(tracer.Meta{})
	if err := lt.CheckValid(); err != nil {
		t.Fatalf("the live recording is invalid: %v\n%s", err, dump(lt))
	}
	if got := dump(lt); got != want {
		t.Errorf("the live recording:\n%s\nwant the final trace's events\n%s", got, want)
	}
}

// TestDropAfter: the drop request comes from the first timed wait begun
// after the holder took the GIL (take_gil checks switch_number).
func TestDropAfter(t *testing.T) {
	const ms = int64(time.Millisecond)
	for _, tc := range []struct{ start, since, want int64 }{
		{57_280_000, 57_340_000, 67_280_000}, // waiting at the switch: its next wait's end
		{50 * ms, 50 * ms, 55 * ms},          // began as the holder took it
		{60 * ms, 50 * ms, 65 * ms},          // began after the switch
		{40 * ms, 50 * ms, 55 * ms},          // a wait begins exactly at the switch
		{41 * ms, 50 * ms, 56 * ms},
	} {
		if got := dropAfter(tc.start, tc.since, 5*ms); got != tc.want {
			t.Errorf("dropAfter(%v, %v, 5ms) = %v, want %v", time.Duration(tc.start), time.Duration(tc.since), time.Duration(got), time.Duration(tc.want))
		}
	}
}

// TestMachineSampledHold: stacks read during a long hold (holder_sample
// events) split it: the hold runs in the first one from its start, in the
// next from its time, and in the release's stack only at the release.
// Without them the whole hold went to the release's stack.
func TestMachineSampledHold(t *testing.T) {
	rec, m := sampledHold()
	sampleAt(m, 210_000, 2, "other") // another thread state: not the holder's
	step(m, 300_000, testThread, evSave, "ra", raSleep)
	step(m, 300_001, testThread, evDropGIL, "ts", 1)
	step(m, 310_000, testThread, evTakeGIL, "ts", 1)
	step(m, 310_001, testThread, evTakeGILRet)
	m.finish(320_000_000, tracer.ReleaseThreadEnd)
	by := runningBy(t, rec.Finish(tracer.Meta{}))
	if by["spin"] != 199 || by["tail"] != 99 || by["other"] != 0 || m.heldSamples != 2 {
		t.Errorf("running ms by function %v, samples used %d; want spin 199 (0-200 ms), tail 99 (200-300 ms), 2 samples", by, m.heldSamples)
	}
}

// sampledHold is a machine whose thread takes the GIL at 0 and holds it,
// sampled in function spin at 10 ms and in tail at 200 ms.
func sampledHold() (*tracer.Recorder, *machine) {
	rec := tracer.NewRecorder(tracer.Config{})
	m := testMachine(rec)
	step(m, 0, testThread, evTakeGIL, "ts", 1)
	step(m, 1, testThread, evTakeGILRet)
	sampleAt(m, 10_000, 1, "spin")
	sampleAt(m, 200_000, 1, "tail")
	return rec, m
}

// sampleAt feeds a holder_sample of thread state ts in function fn at t
// microseconds.
func sampleAt(m *machine, us int64, ts uint64, fn string) {
	e := rawEvent{tgid: testThread, event: evSample, resolved: true,
		args:   []arg{{name: "ts", vals: []uint64{ts}}},
		frames: []rawFrame{{code: 0x50, instr: 0}},
		codes:  []*code{{name: fn, file: "a.py", first: 1, start: 0x100}}}
	m.step(&e, us*1000)
}

// runningBy is the running time of tr's threads by innermost function, ms.
func runningBy(t *testing.T, tr *tracer.Trace) map[string]int64 {
	t.Helper()
	if err := tr.CheckValid(); err != nil {
		t.Fatalf("invalid: %v\n%s", err, dump(tr))
	}
	by := map[string]int64{}
	for _, sp := range tracer.Derive(tr).States {
		if sp.State == tracer.StateRunning {
			fn := "-"
			if fs := tr.StackFrames(sp.Stack); len(fs) > 0 {
				fn = fs[0].Func
			}
			by[fn] += (sp.End - sp.Start) / 1_000_000
		}
	}
	return by
}

// TestMachineSampledHoldAtExit: a hold that ends without a drop_gil (the
// process exits) runs in the stacks read during it too; they were thrown
// away, and a program ending in a 300 ms loop showed no frame for it.
func TestMachineSampledHoldAtExit(t *testing.T) {
	rec, m := sampledHold()
	step(m, 300_000, testThread, evExit)
	m.finish(300_001_000, tracer.ReleaseThreadEnd)
	by := runningBy(t, rec.Finish(tracer.Meta{}))
	if by["spin"] != 199 || by["tail"] != 100 {
		t.Errorf("running ms by function %v; want spin 199, tail 100 (to the exit)", by)
	}
}

// TestMachineNativeAfterSample: a holder sampled in Python, then in a C
// call after a drop request it ignores, gets its inferred C call keeping
// the GIL: the stack change to the call's stack pushed past the drop
// request, and the call was silently dropped.
func TestMachineNativeAfterSample(t *testing.T) {
	rec := tracer.NewRecorder(tracer.Config{})
	m := testMachine(rec)
	const waiter = 101
	step(m, 0, testThread, evTakeGIL, "ts", 1)
	step(m, 1, testThread, evTakeGILRet)
	sampleAt(m, 20_000, 1, "loop")
	step(m, 50_000, waiter, evTakeGIL, "ts", 2) // asks at 55 ms
	sampleAt(m, 60_000, 1, "call")
	step(m, 120_000, testThread, evDropGIL, "ts", 1)
	step(m, 120_010, waiter, evTakeGILRet)
	m.finish(130_000_000, tracer.ReleaseThreadEnd)
	tr := rec.Finish(tracer.Meta{})
	if err := tr.CheckValid(); err != nil {
		t.Fatalf("invalid: %v\n%s", err, dump(tr))
	}
	if m.inferredNative != 1 {
		t.Fatalf("inferred C calls keeping the GIL: %d, want 1\n%s", m.inferredNative, dump(tr))
	}
	for _, e := range tr.Events {
		if e.Kind == tracer.KindNativeBegin {
			if fs := tr.StackFrames(e.Stack); len(fs) == 0 || fs[0].Func != "call" {
				t.Errorf("the C call shown in %v, want call", fs)
			}
		}
	}
}

// TestThreadName: a thread whose Python name could not be read is named
// after its target (under Thread.run) or its Thread subclass's run, never
// after threading's own functions seen in its teardown (a 3.13 thread was
// "Thread._delete (tid N)").
func TestThreadName(t *testing.T) {
	const lib = "/usr/lib/python3.13/threading.py"
	boot := []tracer.Frame{{Func: "Thread._bootstrap", File: lib}, {Func: "Thread._bootstrap_inner", File: lib}}
	for _, c := range []struct {
		frames []tracer.Frame
		want   string
	}{
		{append(boot[:2:2], tracer.Frame{Func: "Thread.run", File: lib}, tracer.Frame{Func: "w", File: "/tmp/js.py"}), "w (tid 5)"},
		{append(boot[:2:2], tracer.Frame{Func: "Worker.run", File: "/tmp/app.py"}), "Worker.run (tid 5)"},
		{append(boot[:2:2], tracer.Frame{Func: "Thread._delete", File: lib}), "thread 5"},
		{append(boot[:2:2], tracer.Frame{Func: "Thread.run", File: lib}), "thread 5"},
		{boot[:1], "thread 5"},
	} {
		if got := threadName(c.frames, 5); got != c.want {
			t.Errorf("threadName(%v) = %q, want %q", c.frames, got, c.want)
		}
	}
}

// TestMachineUncontendedTake: a thread that takes a free GIL after each
// blocking call spends microseconds in take_gil, mostly the probes' own
// cost (QA: a one-thread program of 100 000 os.stat calls showed 15 % of
// its wall as GIL wait). The time is not a GIL wait: the acquire is shown
// where the thread came to take it, yet after any other thread's hold
// that ended in between, and the trace stays valid.
func TestMachineUncontendedTake(t *testing.T) {
	rec := tracer.NewRecorder(tracer.Config{})
	m := testMachine(rec)
	const main, worker = testThread, 101
	step(m, 0, main, evTakeGIL, "ts", 1)
	step(m, 3, main, evTakeGILRet)
	for i := int64(0); i < 3; i++ { // blocking calls, each taking a free GIL
		at := 10 + 10*i
		step(m, at, main, evSave, "ra", raSleep)
		step(m, at+1, main, evDropGIL, "ts", 1)
		step(m, at+4, main, evRestore, "ts", 1)
		step(m, at+5, main, evTakeGIL, "ts", 1)
		step(m, at+8, main, evTakeGILRet)
	}
	// The worker holds the GIL between main's restore (50) and its take
	// (56): main's acquire comes after the worker's release (54), and
	// main waited for it from 50.
	step(m, 40, main, evSave, "ra", raSleep)
	step(m, 41, main, evDropGIL, "ts", 1)
	step(m, 42, worker, evTakeGIL, "ts", 2)
	step(m, 43, worker, evTakeGILRet)
	step(m, 50, main, evRestore, "ts", 1)
	step(m, 53, worker, evSave, "ra", raSleep)
	step(m, 54, worker, evDropGIL, "ts", 2)
	step(m, 56, main, evTakeGIL, "ts", 1)
	step(m, 59, main, evTakeGILRet)
	m.finish(100_000, tracer.ReleaseThreadEnd)
	tr := rec.Finish(tracer.Meta{})
	if err := tr.CheckValid(); err != nil {
		t.Fatalf("invalid: %v\n%s", err, dump(tr))
	}
	var acquires []int64
	for _, e := range tr.Events {
		if e.Kind == tracer.KindLockAcquire && tr.Threads[e.Thread].Name == "MainThread" {
			acquires = append(acquires, e.Time/1000)
		}
	}
	if want := []int64{0, 14, 24, 34, 54}; fmt.Sprint(acquires) != fmt.Sprint(want) {
		t.Errorf("main's acquires at %v us, want %v\n%s", acquires, want, dump(tr))
	}
	s := tracer.Derive(tr)
	for _, sp := range s.States {
		if sp.State == tracer.StateGILWait && sp.End-sp.Start > 1 && sp.Start < 40_000 {
			t.Errorf("%s waits for the GIL %d-%d ns, with no other holder\n%s", tr.Threads[sp.Thread].Name, sp.Start, sp.End, dump(tr))
		}
	}
}

// TestTgidOfEndedThread: a thread whose creation was not seen and whose
// /proc entry is gone (created while an attach set up, ended before its
// first hit was read) belongs to the only process traced, else to the
// program or the process attached to, never to a process of its own (it
// was one, named after the program, and the program "child PID").
func TestTgidOfEndedThread(t *testing.T) {
	const gone = 1 << 30 // no such task
	r := &run{tgids: map[int]int{}, python: map[int]bool{}, silent: map[int]bool{}, mainPID: 4242}
	m := testMachine(tracer.NewRecorder(tracer.Config{}))
	if got := r.tgidOf(m, gone); got != 4242 {
		t.Errorf("no process traced yet: %d, want the attached 4242", got)
	}
	m.proc(4242)
	m.proc(5000) // a child
	if got := r.tgidOf(m, gone+1); got != 4242 {
		t.Errorf("two processes traced: %d, want the attached 4242", got)
	}
	r.mainPID = 0
	if got := r.tgidOf(m, gone+2); got != gone+2 {
		t.Errorf("no program known: %d, want the task itself", got)
	}
}

// TestSilentForks: a child that a Python process forked and that has
// had no probe hit yet is one the trace follows (survivors), until its
// first hit, its exec or its exit; one that a program the probes do not
// see forked (a daemon a shell started) is not (review).
func TestSilentForks(t *testing.T) {
	r := &run{tgids: map[int]int{}, python: map[int]bool{}, silent: map[int]bool{}, mainPID: 4242}
	m := testMachine(tracer.NewRecorder(tracer.Config{}))
	fork := func(parent, child int) rawEvent {
		return rawEvent{tid: parent, event: evNewTask, args: []arg{{name: "pid", vals: []uint64{uint64(child)}}, {name: "clone_flags", vals: []uint64{0}}}}
	}
	r.tgids[4242], r.tgids[7000] = 4242, 7000
	r.prepare(m, []rawEvent{{tid: 4242, event: evTakeGIL}, fork(4242, 5001), fork(4242, 5002), fork(4242, 5003), fork(4242, 5004), fork(7000, 7001)})
	if want := map[int]bool{5001: true, 5002: true, 5003: true, 5004: true}; !maps.Equal(r.silent, want) {
		t.Fatalf("silent %v, want %v: the Python program's children, not the other's", r.silent, want)
	}
	r.prepare(m, []rawEvent{{tid: 5001, event: evTakeGIL}, {tid: 5002, event: evExec}, {tid: 5003, event: evExit}})
	if want := map[int]bool{5004: true}; !maps.Equal(r.silent, want) {
		t.Errorf("silent %v, want %v: a hit, an exec and an exit end it", r.silent, want)
	}
}

// TestStaleFrameFetch: a drop_gil hit whose frame fetch faulted (a thread
// ending: no frame left, or on 3.12 no thread state) carries in f0 what
// the previous hit on that CPU fetched there, another thread's frame: the
// kernel leaves its per-CPU buffer as it was. Such a hit has no frame;
// one whose thread state and innermost frame (fp) were fetched keeps its
// own. A worker of 200 sequential 3 ms threads on 3.12 was shown running
// in the main thread's <module> and Thread.start.
func TestStaleFrameFetch(t *testing.T) {
	m := testMachine(tracer.NewRecorder(tracer.Config{}))
	m.in.layout.frameCode, m.in.layout.framePrev, m.in.layout.frameInstr = 0, 8, 16
	m.fa = frameArgs{lo: 0, words: 3, frames: 1}
	stale := []uint64{0x5000, 0, 0x100} // code, previous (none), instruction
	for _, c := range []struct {
		ts, fp uint64
		fp2    bool // fp fetched
		want   int
	}{
		{ts: 0, fp: 0x7000, fp2: true, want: 0}, // 3.12's thread end: fp is stale too
		{ts: 0x1000, fp: 0, fp2: true, want: 0}, // no frame: f0 is stale
		{ts: 0x1000, fp: 0x7000, fp2: true, want: 1},
		{ts: 0x1000, want: 1}, // without fp (a hit made before it was fetched)
	} {
		e := rawEvent{tid: testThread, tgid: testThread, event: evDropGIL,
			args: []arg{{name: "ts", vals: []uint64{c.ts}}, {name: "f0", vals: stale}}}
		if c.fp2 {
			e.args = append(e.args, arg{name: "fp", vals: []uint64{c.fp}})
		}
		m.prefetch(&e)
		if len(e.frames) != c.want {
			t.Errorf("ts %#x fp %#x (fetched %v): %d frames, want %d", c.ts, c.fp, c.fp2, len(e.frames), c.want)
		}
	}
}

// TestMachineLateDropRequest: a waiter that a release woke but that lost
// the GIL to another thread begins a new timed wait then, unseen, and its
// drop request comes one interval into the new hold, before inferDrops
// would place it: the eval breaker's release still gets its request, from
// that waiter, so that no forced switch lacks one (QA, CPython 3.12: 354
// forced switches, 202 drop requests).
func TestMachineLateDropRequest(t *testing.T) {
	rec := tracer.NewRecorder(tracer.Config{})
	m := testMachine(rec)
	const a, b, c = testThread, 102, 103
	step(m, 0, a, evTakeGIL, "ts", 1)
	step(m, 1, a, evTakeGILRet)
	step(m, 10, b, evTakeGIL, "ts", 2)
	step(m, 20, c, evTakeGIL, "ts", 3)
	step(m, 5030, a, evDropGIL, "ts", 1) // b's request, inferred at 5010
	step(m, 5031, c, evTakeGILRet)       // c wins; b waits again from 5030
	step(m, 5040, a, evTakeGIL, "ts", 1)
	step(m, 10035, c, evDropGIL, "ts", 3) // on b's request, made at about 10031
	step(m, 10036, b, evTakeGILRet)
	m.finish(11000_000, tracer.ReleaseThreadEnd)
	tr := rec.Finish(tracer.Meta{})
	if err := tr.CheckValid(); err != nil {
		t.Fatalf("invalid: %v\n%s", err, dump(tr))
	}
	got := dump(tr)
	for _, want := range []string{
		"5010 thread 102 drop-request GIL holder=MainThread\n",
		"10031 thread 102 drop-request GIL holder=thread 103\n10035 thread 103 lock-release GIL drop-request\n",
		"10036 thread 102 lock-acquire GIL forced\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("events lack %q:\n%s", want, got)
		}
	}
	requests, forced := strings.Count(got, "drop-request GIL holder="), strings.Count(got, "lock-acquire GIL forced")
	if forced > requests {
		t.Errorf("%d forced switches, %d drop requests:\n%s", forced, requests, got)
	}
	if m.lateDrops != 1 {
		t.Errorf("lateDrops = %d, want 1", m.lateDrops)
	}
}

// TestMachineNoInventedDropRequest: a release on the eval breaker before
// any waiter could have waited a whole switch interval in the hold gets no
// drop request (none could have been made); it is counted instead.
func TestMachineNoInventedDropRequest(t *testing.T) {
	rec := tracer.NewRecorder(tracer.Config{})
	m := testMachine(rec)
	const a, b = testThread, 102
	step(m, 0, a, evTakeGIL, "ts", 1)
	step(m, 1, a, evTakeGILRet)
	step(m, 100, b, evTakeGIL, "ts", 2)
	step(m, 200, a, evDropGIL, "ts", 1) // 100 us into b's 5 ms wait
	step(m, 201, b, evTakeGILRet)
	m.finish(1000_000, tracer.ReleaseThreadEnd)
	tr := rec.Finish(tracer.Meta{})
	if err := tr.CheckValid(); err != nil {
		t.Fatalf("invalid: %v\n%s", err, dump(tr))
	}
	if got := dump(tr); strings.Contains(got, "drop-request GIL holder=") {
		t.Errorf("a drop request no waiter could have made:\n%s", got)
	}
	if m.lateDrops != 0 || m.unexplainedDrops != 1 {
		t.Errorf("lateDrops %d, unexplainedDrops %d; want 0 and 1", m.lateDrops, m.unexplainedDrops)
	}
}

// TestMachineRootNamed: the process attached to (or started) is the one
// named after the program, whichever process's event comes first (QA: a
// multiprocessing pool's worker, seen first, was named the program and
// the process attached to a child).
func TestMachineRootNamed(t *testing.T) {
	rec := tracer.NewRecorder(tracer.Config{})
	m := testMachine(rec)
	m.root = 200
	for i, pid := range []int{300, 200} {
		e := rawEvent{tid: pid, tgid: pid, event: evTakeGIL, args: []arg{{name: "ts", vals: []uint64{uint64(i + 1)}}}}
		m.step(&e, int64(i)*1000)
	}
	tr := rec.Finish(tracer.Meta{})
	var got []string
	for _, p := range tr.Procs {
		got = append(got, fmt.Sprintf("%s pid=%d", p.Name, p.PID))
	}
	want := []string{"test child 300 pid=300", "test pid=200"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("processes %q, want %q", got, want)
	}
}

// TestMachineEndAfterUnaskedRelease: a one-thread program whose last
// release is taken for the eval breaker's, with no waiter (3.12's and
// 3.13's finalization), ends right after it, not a GIL wait later (QA:
// every one-thread program showed a GIL wait of up to 1.3 ms at exit); a
// thread that another one waited for keeps its wait, and a run stopped
// (not ended) keeps the thread until the stop.
func TestMachineEndAfterUnaskedRelease(t *testing.T) {
	for _, tc := range []struct {
		name string
		why  tracer.Release
		want string
	}{
		{"ended", tracer.ReleaseThreadEnd, "500 MainThread lock-release GIL drop-request\n500 MainThread thread-end\n"},
		{"stopped", tracer.ReleaseInterrupt, "500 MainThread lock-release GIL drop-request\n800 MainThread thread-end\n"},
	} {
		rec := tracer.NewRecorder(tracer.Config{})
		m := testMachine(rec)
		step(m, 0, testThread, evTakeGIL, "ts", 1)
		step(m, 1, testThread, evTakeGILRet)
		step(m, 500, testThread, evDropGIL, "ts", 1)
		m.finish(800_000, tc.why)
		tr := rec.Finish(tracer.Meta{})
		if err := tr.CheckValid(); err != nil {
			t.Fatalf("%s: invalid: %v\n%s", tc.name, err, dump(tr))
		}
		if got := dump(tr); !strings.HasSuffix(got, tc.want) {
			t.Errorf("%s: got\n%swant the end\n%s", tc.name, got, tc.want)
		}
	}
}

// deadMem is fakeMem for which process dead has exited: its map cannot
// be read.
type deadMem struct {
	fakeMem
	dead int
}

func (d deadMem) mapping(pid int, addr uint64) (string, uint64, bool) {
	if pid == d.dead {
		return "", 0, false
	}
	return d.fakeMem.mapping(pid, addr)
}

// TestForkedChildClassified: the blocking call of a forked child whose
// map could not be read (it exited before its events were handled) is
// classified by its parent's map when the child's interpreter is where
// its parent's is (its probes hit at the parent's addresses); one that
// exec'd (another address), or not known to be forked, stays of unknown
// kind (the full suite once saw a short-lived child's sleep so).
func TestForkedChildClassified(t *testing.T) {
	const parent, child = testThread, 200
	hit := func(m *machine, us int64, pid int, event string, args ...any) {
		e := rawEvent{tid: pid, tgid: pid, event: event}
		for i := 0; i < len(args); i += 2 {
			e.args = append(e.args, arg{name: args[i].(string), vals: []uint64{uint64(args[i+1].(int))}})
		}
		m.step(&e, us*1000)
	}
	for _, c := range []struct {
		name   string
		ip     int
		forked bool
		want   string
	}{
		{"forked, the parent's layout", 0x5000, true, "sleep"},
		{"exec'd, its interpreter elsewhere", 0x7000, true, "blocking"},
		{"not known to be forked", 0x5000, false, "blocking"},
	} {
		rec := tracer.NewRecorder(tracer.Config{})
		in := &interp{layout: &layout{minor: 11, frameOwner: -1, codeQualname: -1, codeCode: -1}}
		m := newMachine(rec, in, frameArgs{}, 32, "test", deadMem{dead: child})
		m.syms[testLib] = &symbolize{funcs: symbols("pysleep", 0x1000, "acquire_timed", 0x2000)}
		if c.forked {
			m.forkedFrom[child] = parent
		}
		hit(m, 0, parent, evTakeGIL, "ts", 1, "__probe_ip", 0x5000)
		hit(m, 1, parent, evTakeGILRet)
		hit(m, 100, child, evTakeGIL, "ts", 3, "__probe_ip", c.ip)
		hit(m, 101, child, evTakeGILRet)
		hit(m, 110, child, evSave, "ra", raSleep)
		hit(m, 111, child, evDropGIL, "ts", 3)
		m.finish(1_000_000, tracer.ReleaseThreadEnd)
		tr := rec.Finish(tracer.Meta{})
		got := ""
		for _, e := range tr.Events {
			if e.Kind == tracer.KindIOBegin && tr.Procs[tr.Threads[e.Thread].Proc].PID == child {
				got = tr.Str(e.IOKind())
			}
		}
		if got != c.want {
			t.Errorf("%s: the child's call is %q, want %q\n%s", c.name, got, c.want, dump(tr))
		}
	}
}

// dyingMem is fakeMem for a process that exits once gone is set: its
// map cannot be read from then.
type dyingMem struct {
	fakeMem
	gone *bool
}

func (d dyingMem) mapping(pid int, addr uint64) (string, uint64, bool) {
	if *d.gone {
		return "", 0, false
	}
	return d.fakeMem.mapping(pid, addr)
}

// TestSiteClassifiedWhileAlive: a blocking call's site is classified when
// its hit is read (prefetch), while the process maps it, not only when
// the hit is handled, after the reorder window and whatever the reader
// was behind by: a spawned pool worker that had exited by then had its
// time.sleep shown as a blocking call of unknown kind (QA).
func TestSiteClassifiedWhileAlive(t *testing.T) {
	// PyEval_SaveThread's probe, and (review) a probe on a copy of it
	// inlined into the function that blocks, which step reads at the
	// hit's address, not at a return address.
	// And a probe on a clone of it (inlineSite.clone), whose caller is at
	// its return address, as at the function's own probe.
	for _, how := range []string{"probe", "inlined", "clone"} {
		inlined := how != "probe"
		gone := false
		rec := tracer.NewRecorder(tracer.Config{})
		in := &interp{layout: &layout{minor: 11, frameOwner: -1, codeQualname: -1, codeCode: -1}}
		if inlined {
			in.inlined = []inlineProbe{{event: evSave, name: "save_thread_i0", site: inlineSite{clone: how == "clone"}}}
		}
		m := newMachine(rec, in, frameArgs{}, 32, "test", dyingMem{gone: &gone})
		m.syms[testLib] = &symbolize{funcs: symbols("pysleep", 0x1000, "acquire_timed", 0x2000)}
		ev := func(event string, args ...any) rawEvent {
			e := rawEvent{tid: testThread, tgid: testThread, event: event}
			for i := 0; i < len(args); i += 2 {
				e.args = append(e.args, arg{name: args[i].(string), vals: []uint64{uint64(args[i+1].(int))}})
			}
			return e
		}
		save := ev(evSave, "ra", raSleep)
		switch how {
		case "inlined":
			save = ev("save_thread_i0", "__probe_ip", raSleep)
		case "clone":
			save = ev("save_thread_i0", "ra", raSleep, "__probe_ip", 0x2000)
		}
		evs := []rawEvent{ev(evTakeGIL, "ts", 1), ev(evTakeGILRet), save, ev(evDropGIL, "ts", 1)}
		for i := range evs {
			m.prefetch(&evs[i]) // read while it runs
		}
		gone = true // handled once it has exited
		for i, us := range []int64{0, 1, 110, 111} {
			m.step(&evs[i], us*1000)
		}
		m.finish(1_000_000, tracer.ReleaseThreadEnd)
		tr := rec.Finish(tracer.Meta{})
		got := ""
		for _, e := range tr.Events {
			if e.Kind == tracer.KindIOBegin {
				got = tr.Str(e.IOKind())
			}
		}
		if got != "sleep" {
			t.Errorf("%s: the call is %q, want sleep\n%s", how, got, dump(tr))
		}
	}
}

// TestMachineNativeWait: a GIL-releasing call of an extension module
// whose thread the readings found asleep more often than running is I/O
// native-wait in the trace, decided at its end by all its readings, even
// when the live recording published it as native work after its first
// reading found the thread running (review: the final kind was forced to
// the published one); the live recording stays valid, ending the call as
// it began it. With more readings running, it stays native work.
func TestMachineNativeWait(t *testing.T) {
	for _, c := range []struct {
		asleep int
		want   string
	}{{5, "io-begin native-wait"}, {0, "native-begin releases=true"}} {
		rec, live := tracer.NewRecorder(tracer.Config{}), tracer.NewRecorder(tracer.Config{})
		m := testMachine(rec)
		m.live = live
		st := func(us int64, event string, args ...any) {
			step(m, us, testThread, event, args...)
			m.publishLive()
		}
		st(0, evTakeGIL, "ts", 1)
		st(1, evTakeGILRet)
		st(10, evSave, "ra", raHashlib)
		st(11, evDropGIL, "ts", 1)
		st(1500, evTaskState, "asleep", 0) // running: published as native work
		st(2500, evTaskState, "asleep", 0)
		for i := range c.asleep {
			st(int64(4000+1000*i), evTaskState, "asleep", 1)
		}
		st(20000, evRestore, "ts", 1)
		st(20001, evTakeGIL, "ts", 1)
		st(20002, evTakeGILRet)
		m.finish(21000_000, tracer.ReleaseThreadEnd)
		m.publishLive()
		final := dump(rec.Finish(tracer.Meta{}))
		if !strings.Contains(final, "11 MainThread "+c.want+"\n") {
			t.Errorf("%d readings asleep: the trace\n%s\nwant its call as %q", c.asleep, final, c.want)
		}
		lt := live.Finish(tracer.Meta{})
		if err := lt.CheckValid(); err != nil {
			t.Fatalf("%d readings asleep: the live recording is invalid: %v\n%s", c.asleep, err, dump(lt))
		}
		if got := dump(lt); !strings.Contains(got, "11 MainThread native-begin releases=true\n") || !strings.Contains(got, "20000 MainThread native-end\n") {
			t.Errorf("%d readings asleep: the live recording\n%s\nwant the call as native work, as published", c.asleep, got)
		}
	}
}

// TestMachineNativeWaitReadWindow: a reading of a thread's scheduler
// state counts against its call only if the read began after the call's
// release: one that began before may have found the thread as it was
// before the call (asleep waiting for the GIL, or in its previous call),
// and made a computing call a native-wait. The reading's event is at the
// end of the read; "window" is how long the read took.
func TestMachineNativeWaitReadWindow(t *testing.T) {
	for _, c := range []struct {
		at, window int // us
		want       string
	}{
		{14, 10, "native-begin releases=true"}, // began at 4 us, before the release at 11
		{5000, 10, "io-begin native-wait"},
	} {
		rec := tracer.NewRecorder(tracer.Config{})
		m := testMachine(rec)
		step(m, 0, testThread, evTakeGIL, "ts", 1)
		step(m, 1, testThread, evTakeGILRet)
		step(m, 10, testThread, evSave, "ra", raHashlib)
		step(m, 11, testThread, evDropGIL, "ts", 1)
		step(m, int64(c.at), testThread, evTaskState, "asleep", 1, "window", c.window*1000)
		step(m, 20000, testThread, evTakeGIL, "ts", 1)
		step(m, 20001, testThread, evTakeGILRet)
		m.finish(21000_000, tracer.ReleaseThreadEnd)
		if got := dump(rec.Finish(tracer.Meta{})); !strings.Contains(got, "11 MainThread "+c.want+"\n") {
			t.Errorf("a reading asleep at %d us, %d us long: the trace\n%s\nwant the call as %q", c.at, c.window, got, c.want)
		}
	}
}

// TestMapsKeptAfterExit: a miss in a process's map read earlier reads it
// again, and a process that has exited keeps what was read (it was
// replaced by nothing, and every later lookup failed); forget (an exec)
// drops it.
func TestMapsKeptAfterExit(t *testing.T) {
	pm := newProcMem(&interp{})
	const dead = 1 << 30 // no such process
	pm.maps[dead] = []mapping{{start: 0x1000, end: 0x2000, path: "/lib/x.so"}}
	if _, ok := pm.lookupMap(dead, 0x5000); ok {
		t.Errorf("0x5000 found in a map that does not cover it")
	}
	if mp, ok := pm.lookupMap(dead, 0x1800); !ok || mp.path != "/lib/x.so" {
		t.Errorf("after a miss: %+v %v, want /lib/x.so", mp, ok)
	}
	pm.forget(dead)
	if _, ok := pm.lookupMap(dead, 0x1800); ok {
		t.Errorf("found after forget")
	}
}

// TestDetachThroughItsClone: a build whose _PyThreadState_Detach calls
// (not jumps to) the probed clone of detach_thread hits two probes for one
// detach. The eval breaker's drop request (a detach called by
// _Py_HandlePending) stays a drop request: the clone's hit, called from
// _PyThreadState_Detach, is not a blocking call of its own.
func TestDetachThroughItsClone(t *testing.T) {
	rec := tracer.NewRecorder(tracer.Config{})
	m := testMachine(rec)
	m.syms[testLib] = &symbolize{funcs: symbols("pysleep", 0x1000, "acquire_timed", 0x2000, "_Py_HandlePending", 0x3000, "_PyThreadState_Detach", 0x4000)}
	m.inlined = map[string]*inlineProbe{"detach_i0": {event: evDetach, name: "detach_i0", args: "ra=$stack0:x64", site: inlineSite{fn: "detach_thread", clone: true}}}
	const main, other = testThread, 101
	step(m, 0, main, evTakeGIL, "ts", 1)
	step(m, 1, main, evTakeGILRet)
	step(m, 10, other, evTakeGIL, "ts", 2)         // waits
	step(m, 5020, main, evDetach, "ra", 0x3010)    // _PyThreadState_Detach, from _Py_HandlePending
	step(m, 5021, main, "detach_i0", "ra", 0x4010) // its clone, called from _PyThreadState_Detach
	step(m, 5022, main, evDropGIL, "ts", 1)
	step(m, 5100, other, evTakeGILRet)
	m.finish(10_000, tracer.ReleaseThreadEnd)
	tr := rec.Finish(tracer.Meta{})
	for _, e := range tr.Events {
		if e.Kind == tracer.KindIOBegin || e.Kind == tracer.KindNativeBegin {
			t.Errorf("a blocking call at %d: the drop request's detach taken for one\n%s", e.Time/1000, dump(tr))
			break
		}
	}
}
