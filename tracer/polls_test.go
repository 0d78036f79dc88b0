package tracer_test

import (
	"slices"
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// pollCase: a thread P that sleeps 100 ms at a time (kind), n times from
// 1 ms on, each sleep followed by gap of the kind gapKind ("" running),
// ending 1 ms after its last sleep; workers running from 0 to their ends;
// and, if other > 0, one more thread O that ends at other (< 0: O never
// ends, a daemon).
type pollCase struct {
	kind, gapKind string
	n             int
	gap           int64
	ends          []int64
	other         int64
	tail          int // short writes after the loop (its results logged)
}

func (c pollCase) trace() (*tracer.Trace, tracer.ThreadID, []tracer.ThreadID) {
	b := testkit.New("poll")
	p := b.FreeThreadedProcess("poll", 1)
	m := b.Thread(p, "P")
	var ws []*testkit.Thread
	for i := range c.ends {
		ws = append(ws, b.Thread(p, "w"+string(rune('1'+i))))
	}
	m.Start(0)
	for _, w := range ws {
		w.Start(0)
	}
	var o *testkit.Thread
	if c.other != 0 {
		o = b.Thread(p, "O")
		o.Start(0)
	}
	t := int64(1 * ms)
	for range c.n {
		m.IOBegin(t, c.kind).IOEnd(t + 100*ms)
		t += 100 * ms
		if c.gapKind != "" {
			m.IOBegin(t, c.gapKind).IOEnd(t + c.gap)
		}
		t += c.gap
	}
	for range c.tail {
		m.IOBegin(t, "disk").IOEnd(t + 10_000)
		t += 20_000
	}
	m.End(t)
	var ids []tracer.ThreadID
	for i, w := range ws {
		w.End(c.ends[i])
		ids = append(ids, w.ID())
	}
	if o != nil && c.other > 0 {
		o.End(c.other)
	}
	return b.Trace(), m.ID(), ids
}

// TestPolls: a thread whose last sleeps go on until the other threads
// have ended, the last inside its last sleep, polls them (tracer.Poll):
// its sleeps but the rest of the last are a wait for them (PollWait); an
// Event.wait(0.1) never set ("lock-timeout") polls as a sleep does. Not
// with fewer than 3 sleeps, nor when no thread ended inside the last (a
// daemon stopped as the process exits ends after it), nor when a thread
// alive when the loop began outlived it (QA: a main thread pacing a fixed
// number of ticks while 2 workers ran, one ending in its last tick; a
// worker sleeping in a loop beside another while the main thread lived
// on), nor with work between the sleeps (QA: workers that fetch, then
// sleep).
func TestPolls(t *testing.T) {
	poll := pollCase{kind: "sleep", n: 5, gap: 1 * ms, ends: []int64{250 * ms, 430 * ms}}
	tr, id, ws := poll.trace()
	s := tracer.Derive(tr)
	p := s.Polls()[id]
	if p == nil || !slices.Equal(p.Targets, ws) || p.LastEnd != 430*ms || p.From != 1*ms || p.To != 505*ms {
		t.Fatalf("poll %+v, want the workers, the last ending at 430 ms, from 1 ms to 505 ms", p)
	}
	if got, want := s.PollWait(id), 500*ms-75*ms; got != want {
		t.Errorf("PollWait %d, want %d (five sleeps of 100 ms but the 75 ms after the last worker ended)", got, want)
	}
	event := poll
	event.kind = "lock-timeout"
	for _, tc := range []struct {
		name string
		c    pollCase
		want bool
	}{
		{"Event.wait(0.1)", event, true},
		{"its results logged after it: 400 writes", pollCase{kind: "sleep", n: 5, gap: 1 * ms, ends: []int64{250 * ms, 430 * ms}, tail: 400}, true},
		{"two sleeps", pollCase{kind: "sleep", n: 2, gap: 1 * ms, ends: []int64{50 * ms, 150 * ms}}, false},
		{"no thread ends in the last sleep", pollCase{kind: "sleep", n: 5, gap: 1 * ms, ends: []int64{250 * ms, 510 * ms}}, false},
		{"a thread alive at the start outlives it", pollCase{kind: "sleep", n: 5, gap: 1 * ms, ends: []int64{430 * ms}, other: 600 * ms}, false},
		{"beside a thread that never ends (a daemon)", pollCase{kind: "sleep", n: 5, gap: 1 * ms, ends: []int64{430 * ms}, other: -1}, true},
		{"15 ms of network I/O between the sleeps", pollCase{kind: "sleep", gapKind: "network", n: 5, gap: 15 * ms, ends: []int64{250 * ms, 500 * ms}}, false},
	} {
		tr, id, _ := tc.c.trace()
		s := tracer.Derive(tr)
		if got := s.Polls()[id] != nil; got != tc.want || !got && s.PollWait(id) != 0 {
			t.Errorf("%s: poll %v, want %v (%+v)", tc.name, got, tc.want, s.Polls()[id])
		}
	}
}

// TestPollsNotOfCutThreads: at the end of an attach every thread still
// running is cut where it was (its end comes with no thread-end release of
// the GIL): the main thread's sleep loop and a worker's are then no polls
// of each other (QA: each was taken for a poll of the other, and the
// model's joins deadlocked). A worker that ends as a thread ends, inside
// the main thread's last sleep, is polled.
func TestPollsNotOfCutThreads(t *testing.T) {
	for _, workerEnds := range []bool{false, true} {
		b := testkit.New("attach")
		p := b.Process("srv", 1)
		gil := tracer.LockID(0)
		m, w := b.Thread(p, "MainThread"), b.Thread(p, "w")
		m.Start(0)
		w.Start(0)
		sleeps := func(th *testkit.Thread, from int64, n int) int64 {
			at := from
			for range n {
				th.Acquire(at, gil, tracer.AcquireUncontended)
				th.IOBegin(at+1*ms, "sleep").Release(at+1*ms, gil, tracer.ReleaseIO)
				th.IOEnd(at + 101*ms)
				at += 101 * ms
			}
			return at
		}
		end := sleeps(m, 1*ms, 5)
		if workerEnds {
			at := sleeps(w, 50*ms, 4) // ends at 455 ms, inside the main thread's last sleep (406-506 ms)
			w.Acquire(at, gil, tracer.AcquireUncontended).Release(at+1*ms, gil, tracer.ReleaseThreadEnd).End(at + 1*ms)
			m.Acquire(end, gil, tracer.AcquireUncontended).Release(end+1*ms, gil, tracer.ReleaseThreadEnd).End(end + 1*ms)
		} else {
			sleeps(w, 50*ms, 4)
			w.IOBegin(505*ms, "sleep")
			m.IOBegin(end, "sleep")
			m.End(end + 50*ms) // the attach's end: both cut in a sleep
			w.End(end + 50*ms)
		}
		tr := b.Trace()
		if tr.Procs[p].GIL != gil {
			t.Fatalf("the process's GIL is lock %d, not %d", tr.Procs[p].GIL, gil)
		}
		s := tracer.Derive(tr)
		polls := s.Polls()
		switch {
		case !workerEnds && len(polls) != 0:
			for id, pl := range polls {
				t.Errorf("threads cut at the trace's end: %s polls %v", tr.Threads[id].Name, pl.Targets)
			}
		case workerEnds && (polls[m.ID()] == nil || !slices.Equal(polls[m.ID()].Targets, []tracer.ThreadID{w.ID()})):
			t.Errorf("a worker that ended inside the main thread's last sleep: polls %v", polls)
		}
	}
}
