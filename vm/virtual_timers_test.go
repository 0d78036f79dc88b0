package vm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm/workload"
)

// lazySameAsEager runs w with lazy timed waits and with every expiry
// queued (eagerTimers) and reports how the two traces differ, "" if they
// are byte-identical; lazy reports whether the lazy run had a lazy lock.
func lazySameAsEager(t *testing.T, w *workload.Workload, o Options) (diff string, lazy bool) {
	t.Helper()
	o.ClockMode = workload.ClockVirtual
	defer func() { eagerTimers, vclockDone = false, nil }()
	run := func(eager bool) (*tracer.Trace, error) {
		eagerTimers = eager
		vclockDone = func(c *vclock) {
			for _, p := range c.procs {
				lazy = lazy || p.gilLock != nil && p.gilLock.lazy
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return Run(ctx, w, o)
	}
	a, errA := run(true)
	b, errB := run(false)
	if (errA == nil) != (errB == nil) {
		return fmt.Sprintf("errors %v and %v", errA, errB), lazy
	}
	if a == nil || b == nil {
		return "", lazy
	}
	// Stacks are numbered as threads first run them, in the order the
	// coroutines ran, which an expiry resumed or not changes.
	a, b = canonicalStacks(a), canonicalStacks(b)
	for i := range min(len(a.Events), len(b.Events)) {
		if a.Events[i] != b.Events[i] {
			return fmt.Sprintf("event %d of %d: queued %+v, lazy %+v", i, len(a.Events), a.Events[i], b.Events[i]), lazy
		}
	}
	if len(a.Events) != len(b.Events) || !bytes.Equal(traceBytes(t, a), traceBytes(t, b)) {
		return fmt.Sprintf("%d and %d events", len(a.Events), len(b.Events)), lazy
	}
	return "", lazy
}

// TestLazyTimersAreExact: computing the GIL waiters' timed waits
// (virtual_timers.go) gives the same trace, byte for byte (stacks numbered
// in the order of use: canonicalStacks), as queueing
// every expiry: on the fixtures, countdowns of 3 to 16 threads (one
// waiter's expiry a switch matters, the others' change nothing) at switch
// intervals from 50 us to 5 ms, wake-up latencies of 0 to 50 us (expiries
// in the free lock's window before the woken waiter runs: they take the
// lock) and random workloads. Every case but the limited-core ones has a
// lazy lock. The 16 threads' lock walks a ring (ringFrom), the others
// pass over their waiters.
func TestLazyTimersAreExact(t *testing.T) {
	check := func(name string, w *workload.Workload, o Options, wantLazy bool) {
		t.Helper()
		diff, lazy := lazySameAsEager(t, w, o)
		if diff != "" {
			t.Errorf("%s (%+v): lazy timed waits changed the run: %s", name, o, diff)
		}
		if wantLazy && !lazy {
			t.Errorf("%s (%+v): no lazy lock", name, o)
		}
	}
	for _, w := range fixtures(t) {
		check(w.Name, w, Options{}, w.GIL.Mode != tracer.GILNone && w.GIL.Mode != tracer.GILLegacy)
		check(w.Name, w, Options{SwitchInterval: 100 * time.Microsecond, WakeLatency: 50 * time.Microsecond}, false)
		check(w.Name, w, Options{Cores: 2}, false) // queued: a waiter needs a core
	}
	rings := 0
	ringBuilt = func() { rings++ }
	defer func() { ringBuilt = nil }()
	for _, n := range []int{3, 8, 16} {
		w := &workload.Workload{Name: "countdown", Seed: 1, GIL: workload.GILConfig{Mode: tracer.GILCPython},
			Functions: fns(map[string][]workload.Op{"count": {compute(100 * time.Millisecond)}}),
			Threads:   []workload.ThreadGroup{group("T", n, "count")}}
		rings = 0
		for _, si := range []time.Duration{0, time.Millisecond, 50 * time.Microsecond} {
			for _, lat := range []time.Duration{0, time.Nanosecond, 50 * time.Microsecond} {
				for _, timer := range []time.Duration{0, -1} { // -1: no timer latency
					for _, seed := range []int64{1, 2} {
						check(fmt.Sprintf("countdown of %d", n), w, Options{SwitchInterval: si, WakeLatency: lat, TimerLatency: timer, Seed: &seed}, true)
					}
				}
			}
		}
		// 16 threads: 15 waiters, a ring (ringFrom); 8: a pass.
		if (rings > 0) != (n >= ringFrom+1) {
			t.Errorf("countdown of %d: %d rings kept", n, rings)
		}
	}
	// A timed wait past maxRingPeriod (phases would not fit a ring key):
	// 15 waiters, no ring, the same run.
	rings = 0
	long := &workload.Workload{Name: "countdown", Seed: 1, GIL: workload.GILConfig{Mode: tracer.GILCPython},
		Functions: fns(map[string][]workload.Op{"count": {compute(12 * time.Second)}}),
		Threads:   []workload.ThreadGroup{group("T", 16, "count")}}
	check("countdown of 16 at a 5 s interval", long, Options{SwitchInterval: 5 * time.Second}, true)
	if rings != 0 {
		t.Errorf("countdown of 16 at a 5 s interval: %d rings kept, want none (maxRingPeriod)", rings)
	}
	r := rand.New(rand.NewPCG(11, 12))
	for i := range 40 {
		check(fmt.Sprintf("random %d", i), randomWorkload(r), Options{Cores: 64}, false)
	}
	// Rings in workloads of every kind: random ones with up to 6 times
	// the threads (I/O, native calls, guest locks, daemons stopped), at
	// the ring's bounds and with bounds of 2 and 1 (rings given up and
	// built again as waiters come and go). The review of the ring found
	// the other random workloads below its bounds: none built one.
	many := rand.New(rand.NewPCG(15, 16))
	defer func() { ringFrom, ringTo = 12, 6 }()
	n := 20
	if raceEnabled {
		n = 4
	}
	for _, b := range [][2]int{{12, 6}, {2, 1}} {
		ringFrom, ringTo = b[0], b[1]
		rings = 0
		for i := range n {
			w := randomWorkload(many)
			w.GIL.Mode = tracer.GILCPython // the lazy lock's
			for g := range w.Threads {
				w.Threads[g].Count *= 1 + many.IntN(6)
			}
			check(fmt.Sprintf("random of many threads %d, ring from %d", i, b[0]), w, Options{SwitchInterval: time.Duration(20+many.IntN(500)) * time.Microsecond}, false)
		}
		if rings == 0 {
			t.Errorf("random workloads of many threads, ring from %d waiters: no ring built", b[0])
		}
		t.Logf("ring from %d waiters: %d rings built", b[0], rings)
	}
}

// TestLazyTimersAreExactMany is TestLazyTimersAreExact on many random
// workloads: GILTRACE_VIRTUAL_STRESS=SEEDS runs 150 per seed, each with a
// core per thread and on 64 cores, and compares the first with a run in
// strict order (TestVirtualRunAheadIsExact). Skipped without it.
func TestLazyTimersAreExactMany(t *testing.T) {
	seeds, _ := strconv.Atoi(os.Getenv("GILTRACE_VIRTUAL_STRESS"))
	if seeds <= 0 {
		t.Skip("a long check: GILTRACE_VIRTUAL_STRESS=SEEDS (150 random workloads each)")
	}
	lazyRuns := 0
	for seed := 1; seed <= seeds; seed++ {
		r := rand.New(rand.NewPCG(uint64(seed), 33))
		for i := range 150 {
			w := randomWorkload(r)
			si := time.Duration(10+r.IntN(1000)) * time.Microsecond
			lat := time.Duration(r.IntN(60)) * time.Microsecond
			for _, cores := range []int{0, 64} {
				diff, lazy := lazySameAsEager(t, w, Options{Cores: cores, SwitchInterval: si, WakeLatency: lat})
				if diff != "" {
					t.Errorf("seed %d, workload %d (mode %s, %d processes), %d cores: %s", seed, i, w.GIL.Mode, w.Processes, cores, diff)
				}
				if lazy {
					lazyRuns++
				}
			}
			// Running ahead of lazy locks' queued expiries changes nothing.
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			strictOrder = true
			a, errA := Run(ctx, w, Options{ClockMode: workload.ClockVirtual, SwitchInterval: si, WakeLatency: lat})
			strictOrder = false
			b, errB := Run(ctx, w, Options{ClockMode: workload.ClockVirtual, SwitchInterval: si, WakeLatency: lat})
			cancel()
			if (errA == nil) != (errB == nil) || !bytes.Equal(traceBytes(t, canonicalStacks(a)), traceBytes(t, canonicalStacks(b))) {
				t.Errorf("seed %d, workload %d: running ahead changed the run (%v, %v)", seed, i, errA, errB)
			}
		}
	}
	t.Logf("%d runs with a lazy lock", lazyRuns)
}

// BenchmarkVirtualThreads: the countdown (10 s of CPU-bound work, 5 ms
// switch interval) shared by 2 to 64 threads, each GIL switch 4 events:
// the GIL waiters' expiries computed (the default), every expiry queued
// (eagerTimers), and, at 8 threads, the recorder disabled (what the
// simulation alone costs; no events, so ns/op is its figure).
func BenchmarkVirtualThreads(b *testing.B) {
	for _, n := range []int{2, 8, 16, 64} {
		w := &workload.Workload{Name: "bench", Seed: 1, GIL: workload.GILConfig{Mode: tracer.GILCPython},
			Functions: fns(map[string][]workload.Op{"count": {compute(10 * time.Second / time.Duration(n))}}),
			Threads:   []workload.ThreadGroup{group("T", n, "count")}}
		for _, how := range []string{"computed", "queued", "unrecorded"} {
			if how == "unrecorded" && n != 8 {
				continue
			}
			b.Run(fmt.Sprintf("%d-threads-%s", n, how), func(b *testing.B) {
				eagerTimers, unrecorded = how == "queued", how == "unrecorded"
				var resumes, turns int64 // coroutines resumed, turns run in place (virtual_turns.go)
				vclockDone = func(c *vclock) { resumes, turns = resumes+c.resumes, turns+c.turns }
				defer func() { eagerTimers, unrecorded, vclockDone = false, false, nil }()
				benchEvents(b, w)
				b.ReportMetric(float64(resumes)/float64(b.N), "resumes/op")
				b.ReportMetric(float64(turns)/float64(b.N), "turns/op")
			})
		}
	}
	// 1 024 contended threads of 1 s each (809 k events): the ring's
	// buckets at their bound, and the trace's 1 024 starts far out of
	// the order of the GIL's events (gather's events set aside,
	// tracer/order.go). A sub-benchmark, not one of its own, so that
	// -bench 'BenchmarkVirtual/...' does not run it once to look for
	// sub-benchmarks.
	w := &workload.Workload{Name: "bench", Seed: 1, GIL: workload.GILConfig{Mode: tracer.GILCPython},
		Functions: fns(map[string][]workload.Op{"count": {compute(time.Second)}}),
		Threads:   []workload.ThreadGroup{group("T", 1024, "count")}}
	b.Run("1024-threads-1s", func(b *testing.B) { benchEvents(b, w) })
}

// benchEvents runs w in virtual time at every iteration of b and reports
// its trace events per second of the process's CPU.
func benchEvents(b *testing.B, w *workload.Workload) {
	events := 0
	cpu0 := cpuTime()
	for b.Loop() {
		tr, err := Run(context.Background(), w, Options{ClockMode: workload.ClockVirtual})
		if err != nil {
			b.Fatal(err)
		}
		events += len(tr.Events)
	}
	b.ReportMetric(float64(events)/(cpuTime()-cpu0).Seconds(), "events/cpu-s")
}

// BenchmarkVirtualFixedCost: a run's fixed cost (its threads and their
// coroutines, buffers and stacks, the trace's layout), in ns/op: a
// countdown of 1 us a thread, with 1, 8 and 64 threads.
func BenchmarkVirtualFixedCost(b *testing.B) {
	for _, n := range []int{1, 8, 64} {
		w := &workload.Workload{Name: "bench", Seed: 1, GIL: workload.GILConfig{Mode: tracer.GILCPython},
			Functions: fns(map[string][]workload.Op{"count": {compute(time.Microsecond)}}),
			Threads:   []workload.ThreadGroup{group("T", n, "count")}}
		b.Run(fmt.Sprintf("%d-threads", n), func(b *testing.B) {
			for b.Loop() {
				if _, err := Run(context.Background(), w, Options{ClockMode: workload.ClockVirtual}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCoroutineRoundTrip: what a handoff between two threads costs
// in virtual time without turns in place, a coroutine's resume and
// suspend (iter.Pull), in ns/op.
func BenchmarkCoroutineRoundTrip(b *testing.B) {
	next, stop := iter.Pull(func(yield func(struct{}) bool) {
		for yield(struct{}{}) {
		}
	})
	defer stop()
	for b.Loop() {
		next()
	}
}

// TestOrderLogIsExact: a virtual run's trace, its events gathered in the
// order the recorder logged them (tracer.Config.Sequential), equals the
// trace of the same run with its buffers merged: every fixture, with a
// core per thread and on 2 cores, countdowns and random workloads.
func TestOrderLogIsExact(t *testing.T) {
	check := func(name string, w *workload.Workload, o Options) {
		t.Helper()
		o.ClockMode = workload.ClockVirtual
		got, err := Run(context.Background(), w, o)
		if err != nil && !errors.Is(err, errDeadlock) {
			t.Fatalf("%s: %v", name, err)
		}
		unordered = true
		want, err := Run(context.Background(), w, o)
		unordered = false
		if err != nil && !errors.Is(err, errDeadlock) {
			t.Fatalf("%s: %v", name, err)
		}
		if !slices.Equal(got.Events, want.Events) {
			t.Errorf("%s (%+v): the logged order gave another trace (%d events, merged %d)", name, o, len(got.Events), len(want.Events))
		}
	}
	for _, w := range fixtures(t) {
		check(w.Name, w, Options{})
		check(w.Name, w, Options{Cores: 2})
	}
	for _, n := range []int{2, 8, 64} {
		w := &workload.Workload{Name: "countdown", Seed: 1, GIL: workload.GILConfig{Mode: tracer.GILCPython},
			Functions: fns(map[string][]workload.Op{"count": {compute(100 * time.Millisecond)}}),
			Threads:   []workload.ThreadGroup{group("T", n, "count")}}
		check(fmt.Sprintf("countdown of %d", n), w, Options{SwitchInterval: 50 * time.Microsecond})
	}
	r := rand.New(rand.NewPCG(13, 14))
	for i := range 40 {
		check(fmt.Sprintf("random %d", i), randomWorkload(r), Options{Cores: 1 + r.IntN(64)})
	}
}

// TestRing: the ring's search and phases against their definitions,
// waiters coming and going at random, times moving forward, back and far.
func TestRing(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for round := range 200 {
		l := &lock{timedWait: time.Duration(1 + r.Int64N(6_000_000))}
		T := int64(l.timedWait)
		x := r.Int64N(1 << 40)
		for range 50 {
			switch r.IntN(4) {
			case 0:
				x = r.Int64N(1 << 40) // anywhere
			case 1:
				x -= r.Int64N(2 * T) // back
			default:
				x += r.Int64N(3 * T) // forward
			}
			if x < 0 {
				x = 0
			}
			if got, want := l.phaseOf(x), x%T; got != want {
				t.Fatalf("round %d: phaseOf(%d) = %d with T %d, want %d", round, x, got, T, want)
			}
		}
		type entry struct {
			p      int64
			id     tracer.ThreadID
			member bool
		}
		// in: the members, by thread index (0 to 63).
		const threads = 64
		in := make([]entry, threads)
		var rg ring
		rg.init(threads, T)
		less := func(a, b entry) bool { return a.p < b.p || a.p == b.p && a.id < b.id }
		for range 150 {
			i := int32(r.IntN(threads))
			if in[i].member {
				rg.remove(i)
				in[i].member = false
			} else {
				e := entry{r.Int64N(T), tracer.ThreadID(r.IntN(1000)), true}
				if slices.ContainsFunc(in, func(f entry) bool { return f.member && f.id == e.id }) {
					continue
				}
				if r.IntN(4) == 0 {
					e.p = T - 1 - r.Int64N(min(T, 3)) // the last buckets, with ties
				}
				// Told a member that may come after it (insertNear): the
				// right one, or any, or none.
				k, near := ringKey(e.p, e.id), int32(-1)
				if rg.n > 0 && r.IntN(2) == 0 {
					near = rg.from(k)
					if r.IntN(2) == 0 {
						near = int32(r.IntN(threads)) // maybe not a member
					}
				}
				rg.insertNear(i, k, near)
				in[i] = e
			}
			// The members in key order, each its index.
			var want []int32
			for j, e := range in {
				if e.member {
					want = append(want, int32(j))
				}
			}
			slices.SortFunc(want, func(a, b int32) int {
				if less(in[a], in[b]) {
					return -1
				}
				return 1
			})
			if rg.n != len(want) {
				t.Fatalf("round %d: %d members in the ring, %d in it", round, rg.n, len(want))
			}
			for j := range int32(threads) {
				if rg.has(j) != in[j].member {
					t.Fatalf("round %d: has(%d) = %v", round, j, rg.has(j))
				}
			}
			// A walk from anywhere, in the ring or not: the first member
			// not before it, then the others in order, cyclically.
			for k := range 6 {
				p, id := r.Int64N(T), tracer.ThreadID(r.IntN(1001))
				if k < len(want) {
					p, id = in[want[k]].p, in[want[k]].id // a member's own key
				}
				start := 0
				for start < len(want) && less(in[want[start]], entry{p, id, true}) {
					start++
				}
				i := rg.from(ringKey(p, id))
				if len(want) == 0 {
					if i != -1 {
						t.Fatalf("round %d: from(%d, %d) = %d in an empty ring", round, p, id, i)
					}
					continue
				}
				for m := range len(want) + 1 {
					if w := want[(start+m)%len(want)]; i != w {
						t.Fatalf("round %d: the walk from (%d, %d), step %d, at %d, want %d (members %v of %v)", round, p, id, m, i, w, want, in)
					}
					if rg.nodes[rg.nodes[i].next].prev != i {
						t.Fatalf("round %d: %d's next's prev is %d", round, i, rg.nodes[rg.nodes[i].next].prev)
					}
					i = rg.nodes[i].next
				}
			}
			if r.IntN(40) == 0 {
				rg.empty()
				clear(in)
				for j := range rg.head {
					if rg.head[j] != -1 {
						t.Fatalf("round %d: bucket %d's head %d after empty", round, j, rg.head[j])
					}
				}
				for _, w := range rg.full {
					if w != 0 {
						t.Fatalf("round %d: full buckets after empty", round)
					}
				}
			}
		}
	}
}

// TestRingWalks: the ring's walks (firstNext, firstMatters) find what the
// pass over every waiter finds, on random lock states small enough for
// ties everywhere: expiries at the very bound, equal phases, a switch at
// the time of a wait's beginning, waiters queued to stop, the lock held
// or free. The review of the ring found a wrong bound (x+1 for the held
// lock's x) surviving every run of the simulation: such expiries are rare
// there.
func TestRingWalks(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	for round := range 20000 {
		T := int64(1 + r.IntN(12))
		c := &vclock{}
		l := &lock{timedWait: time.Duration(T), clock: c, vc: c, locked: r.IntN(3) > 0, switches: uint64(5 + r.IntN(3))}
		now := int64(40 + r.IntN(40))
		l.switchAt = now - int64(r.IntN(int(2*T+2)))
		l.last = &thread{id: tracer.ThreadID(r.IntN(20))}
		cur := tracer.ThreadID(r.IntN(20))
		var vs []*vthread
		for i, id := range r.Perm(20)[:1+r.IntN(16)] {
			v := &vthread{id: tracer.ThreadID(id), c: c, index: int32(i), qi: -1, armed: true}
			if r.IntN(2) == 0 {
				// Began since the latest switch, with its switch number.
				v.chain, v.chainSw = l.switchAt+int64(r.IntN(int(now-l.switchAt+1))), l.switches
			} else {
				v.chain, v.chainSw = now-int64(r.IntN(60)), l.switches-uint64(1+r.IntN(2))
			}
			v.fire = v.chain + T*int64(1+r.IntN(8)) // on its chain, maybe stale
			if r.IntN(6) == 0 {
				v.qi, v.qwhy = 0, Wake(r.IntN(3)) // queued: to stop, or the rep
			}
			vs = append(vs, v)
		}
		if q := vs[r.IntN(len(vs))]; q.qi >= 0 && q.qwhy == WakeTimeout {
			l.rep = q
		}
		c.threads = vs
		// The pass on one copy of the fires, the walks on another.
		fires := make([]int64, len(vs))
		for i, v := range vs {
			fires[i] = v.fire
		}
		l.vwaiters = vs
		wantBest, wantAt := l.pass(now, cur)
		wantMin := l.minV
		for i, v := range vs {
			v.fire = fires[i]
		}
		l.ring.init(len(vs), T)
		for _, v := range vs {
			v.phase = l.phaseOf(v.chain)
			l.ring.insert(v.index, ringKey(v.phase, v.id))
		}
		gotMin := l.firstNext(now, cur)
		gotBest, gotAt := l.firstMatters(now, cur)
		for i, v := range vs {
			v.fire = fires[i]
		}
		// rearm's walks, one walk for both where they start together.
		bothMin, bothBest, bothAt := l.ringWalks(now, cur)
		if bothMin != wantMin || bothBest != wantBest || bothAt != wantAt {
			t.Fatalf("round %d (T %d, now %d, thread %d, locked %v, switch at %d): ringWalks gives first %v, best %v at %d; the pass %v, %v at %d",
				round, T, now, cur, l.locked, l.switchAt, bothMin, bothBest, bothAt, wantMin, wantBest, wantAt)
		}
		if gotMin != wantMin || gotBest != wantBest || gotAt != wantAt {
			id := func(v *vthread) any {
				if v == nil {
					return nil
				}
				return v.id
			}
			t.Fatalf("round %d (T %d, now %d, thread %d, locked %v, switch at %d by %d): walks give first %v, best %v at %d; the pass %v, %v at %d",
				round, T, now, cur, l.locked, l.switchAt, l.last.id, id(gotMin), id(gotBest), gotAt, id(wantMin), id(wantBest), wantAt)
		}
	}
}
