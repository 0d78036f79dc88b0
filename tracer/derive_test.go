package tracer_test

import (
	"slices"
	"testing"
	"unsafe"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

const ms = int64(1e6)

func TestDeriveStatesAreGapFree(t *testing.T) {
	for name, tr := range map[string]*tracer.Trace{
		"countdown": testkit.Countdown(4),
		"mixed":     testkit.Mixed(),
		"large":     testkit.Large(20000),
	} {
		t.Run(name, func(t *testing.T) {
			if err := tr.CheckValid(); err != nil {
				t.Fatal(err)
			}
			s := tracer.Derive(tr)
			for id := range tr.Threads {
				th := s.Threads[id]
				if !th.Ended {
					t.Errorf("thread %d: not ended", id)
				}
				at := th.Start
				for _, sp := range s.ThreadStates(tracer.ThreadID(id)) {
					if sp.Start != at || sp.End <= sp.Start {
						t.Fatalf("thread %d: span %+v does not continue at %d", id, sp, at)
					}
					at = sp.End
				}
				if at != th.End {
					t.Errorf("thread %d: spans end at %d, thread at %d", id, at, th.End)
				}
				if got, want := s.ThreadTotals(tracer.ThreadID(id)).Sum(), th.End-th.Start; got != want {
					t.Errorf("thread %d: totals %d, wall %d", id, got, want)
				}
			}
		})
	}
}

func TestDeriveCountdown(t *testing.T) {
	tr := testkit.Countdown(4)
	s := tracer.Derive(tr)
	if got := len(s.DropRequests); got != 4 {
		t.Errorf("drop requests = %d, want 4", got)
	}
	// 4 forced handoffs + the final one after the first thread ends.
	if got := len(s.Handoffs); got != 5 {
		t.Fatalf("handoffs = %d, want 5", got)
	}
	for i, h := range s.Handoffs[:4] {
		if h.Why != tracer.ReleaseDropRequest || h.How != tracer.AcquireForced || h.From == h.To {
			t.Errorf("handoff %d = %+v", i, h)
		}
		if gap := h.Acquired - h.Released; gap != 100_000 {
			t.Errorf("handoff %d gap = %d, want 100000", i, gap)
		}
	}
	// Every wait is charged to the other thread or to nobody, and the blame
	// covers the whole wait.
	var waited, blamed int64
	for _, w := range s.Waits {
		at := w.Start
		for b := range s.BlameOf(&w) {
			if b.Start != at || b.End <= b.Start {
				t.Fatalf("wait %+v: blame %+v does not continue at %d", w, b, at)
			}
			if b.Holder == w.Thread {
				t.Fatalf("wait %+v blamed on itself", w)
			}
			at = b.End
			blamed += b.End - b.Start
		}
		if at != w.End {
			t.Fatalf("wait %+v: blame ends at %d", w, at)
		}
		waited += w.End - w.Start
	}
	var stateWait int64
	for id := range tr.Threads {
		stateWait += s.ThreadTotals(tracer.ThreadID(id))[tracer.StateGILWait]
	}
	if waited != blamed || waited != stateWait {
		t.Errorf("waits %d, blamed %d, gil-wait state %d: want equal", waited, blamed, stateWait)
	}
	// T2 waits from its start (5 ns) to its forced acquire at 5.2 ms, blamed
	// on T1 in count() until T1's release at 5.1 ms, then on nobody.
	w := s.Waits[1]
	if w.Thread != 1 || w.Start != 5 || w.End != 5*ms+200_000 || !w.Contended || !w.Acquired {
		t.Fatalf("T2's first wait = %+v", w)
	}
	bl := slices.Collect(s.BlameOf(&w))
	last := bl[len(bl)-1]
	if last.Holder != tracer.NoThread || last.Start != 5*ms+100_000 {
		t.Errorf("last blame = %+v, want nobody from 5.1 ms", last)
	}
	if f := tr.StackFrames(bl[len(bl)-2].Stack); len(f) != 2 || f[0].Func != "count" || f[1].Func != "main" {
		t.Errorf("blamed stack = %+v, want count <- main", f)
	}
}

func TestDeriveMixed(t *testing.T) {
	tr := testkit.Mixed()
	s := tracer.Derive(tr)
	want := map[string]tracer.Totals{
		// worker-1: 0-100 gil-wait, run to 5.002ms, wait to 5.004, run to
		// 6.0002, lock-wait 6.0002-8.0003, gil-wait to 10.0004, run to
		// 10.0008, native to 12, gil-wait to 12.0001, run to 12.0005.
		"worker-1": {
			tracer.StateRunning:  (5*ms + 2000 - 100) + (6*ms + 200 - (5*ms + 4000)) + 400 + 400,
			tracer.StateGILWait:  100 + 2000 + (10*ms + 400 - (8*ms + 300)) + 100,
			tracer.StateNative:   12*ms - (10*ms + 800),
			tracer.StateLockWait: 8*ms + 300 - (6*ms + 200),
		},
		"worker-2": {
			tracer.StateGILWait:       5*ms + 3000 - 1000 + 100,
			tracer.StateRunning:       300 + 400 + 300,
			tracer.StateIO:            8*ms - (5*ms + 3300),
			tracer.StateNativeHolding: 10*ms - (8*ms + 500),
		},
		"ft-1": {tracer.StateRunning: 8*ms + 100, tracer.StateIO: ms},
		"ft-2": {tracer.StateRunning: 8*ms + 100, tracer.StateIO: ms},
	}
	for id, th := range tr.Threads {
		if got := s.ThreadTotals(tracer.ThreadID(id)); got != want[th.Name] {
			t.Errorf("%s: totals %v, want %v", th.Name, got, want[th.Name])
		}
	}
	var guest int
	for _, w := range s.Waits {
		if w.Lock == 1 {
			guest++
			bl := slices.Collect(s.BlameOf(&w))
			if w.Thread != 0 || !w.Acquired || len(bl) != 4 || bl[0].Holder != 1 || bl[0].State != tracer.StateIO || bl[3].Holder != tracer.NoThread {
				t.Errorf("cache wait = %+v, blame %+v", w, bl)
			}
		}
	}
	if guest != 1 {
		t.Errorf("guest-lock waits = %d, want 1", guest)
	}
	if len(s.Calls) != 7 {
		t.Errorf("calls = %d, want 7", len(s.Calls))
	}
}

func TestLargeSize(t *testing.T) {
	tr := testkit.Large(100_000)
	if err := tr.CheckValid(); err != nil {
		t.Fatal(err)
	}
	if n := len(tr.Events); n < 90_000 || n > 120_000 {
		t.Errorf("Large(100000) has %d events", n)
	}
}

func BenchmarkDerive(b *testing.B) {
	tr := testkit.Large(1_000_000)
	b.ResetTimer()
	for b.Loop() {
		tracer.Derive(tr)
	}
	b.ReportMetric(float64(len(tr.Events))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

// TestDeriveStates: without the call spans, every other view is Derive's.
func TestDeriveStates(t *testing.T) {
	for _, c := range testkit.All(t) {
		full, states := tracer.Derive(c.Trace), tracer.DeriveStates(c.Trace)
		if len(states.Calls) != 0 {
			t.Errorf("%s: %d call spans", c.Name, len(states.Calls))
		}
		if !slices.Equal(full.States, states.States) || !slices.Equal(full.Holds, states.Holds) ||
			!slices.Equal(full.Waits, states.Waits) || !slices.Equal(full.Handoffs, states.Handoffs) ||
			!slices.Equal(full.DropRequests, states.DropRequests) || !slices.Equal(full.Threads, states.Threads) {
			t.Errorf("%s: DeriveStates differs from Derive beyond the calls", c.Name)
		}
	}
}

// TestStateSpanArg: a state span is 32 bytes, its lock and I/O kind
// sharing a word: Lock is the lock only in the wait states, IOKind the
// kind only in StateIO, and Derive sets each from the events (Mixed: a
// GIL wait, a wait for the cache lock, "db" and "network" I/O).
func TestStateSpanArg(t *testing.T) {
	if n := unsafe.Sizeof(tracer.StateSpan{}); n != 32 {
		t.Errorf("a StateSpan is %d bytes, want 32", n)
	}
	for st := range tracer.State(tracer.NumStates) {
		sp := tracer.NewStateSpan(1, st, 10, 20, 3, 7, 9)
		wantLock, wantIO := tracer.NoLock, tracer.StringID(0)
		switch st {
		case tracer.StateGILWait, tracer.StateLockWait:
			wantLock = 7
		case tracer.StateIO:
			wantIO = 9
		}
		if sp.Lock() != wantLock || sp.IOKind() != wantIO || sp.Thread != 1 || sp.State != st || sp.Start != 10 || sp.End != 20 || sp.Stack != 3 {
			t.Errorf("%v: %+v, Lock %d, IOKind %d; want Lock %d, IOKind %d", st, sp, sp.Lock(), sp.IOKind(), wantLock, wantIO)
		}
	}
	tr := testkit.Mixed()
	s := tracer.Derive(tr)
	seen, kinds := map[tracer.State]bool{}, map[string]bool{}
	for _, sp := range s.States {
		seen[sp.State] = true
		switch sp.State {
		case tracer.StateGILWait:
			if l := sp.Lock(); int(l) >= len(tr.Locks) || !tr.Locks[l].GIL {
				t.Errorf("GIL wait %+v: lock %d is not a GIL", sp, l)
			}
		case tracer.StateLockWait:
			if l := sp.Lock(); int(l) >= len(tr.Locks) || tr.Locks[l].Name != "cache" {
				t.Errorf("lock wait %+v: lock %d, want the cache", sp, l)
			}
		case tracer.StateIO:
			// The kind of the thread's last I/O begun by then.
			want := tracer.StringID(0)
			for _, e := range tr.Events {
				if e.Thread == sp.Thread && e.Kind == tracer.KindIOBegin && e.Time <= sp.Start {
					want = e.IOKind()
				}
			}
			if k := sp.IOKind(); k != want || k == 0 {
				t.Errorf("I/O %+v: kind %q, want %q", sp, tr.Str(k), tr.Str(want))
			}
			kinds[tr.Str(sp.IOKind())] = true
		}
	}
	for _, st := range []tracer.State{tracer.StateGILWait, tracer.StateLockWait, tracer.StateIO} {
		if !seen[st] {
			t.Errorf("Mixed has no %v span", st)
		}
	}
	if !kinds["db"] || !kinds["network"] {
		t.Errorf("I/O kinds %v, want db and network", kinds)
	}
}
