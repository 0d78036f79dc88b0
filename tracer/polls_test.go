package tracer_test

import (
	"slices"
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// pollTrace: a main thread that sleeps 100 ms at a time, n times from
// 1 ms on, while two workers run from 0 to ends[0] and ends[1].
func pollTrace(n int, ends [2]int64) (*tracer.Trace, [3]tracer.ThreadID) {
	b := testkit.New("poll")
	p := b.FreeThreadedProcess("poll", 1)
	m := b.Thread(p, "MainThread")
	w1, w2 := b.Thread(p, "w1"), b.Thread(p, "w2")
	m.Start(0)
	w1.Start(0)
	w2.Start(0)
	t := int64(1 * ms)
	for range n {
		m.IOBegin(t, "sleep").IOEnd(t + 100*ms)
		t += 101 * ms
	}
	m.End(t)
	w1.End(ends[0])
	w2.End(ends[1])
	return b.Trace(), [3]tracer.ThreadID{m.ID(), w1.ID(), w2.ID()}
}

// TestPolls: a thread whose last sleeps go on until the other threads
// have ended, the last inside its last sleep, polls them (tracer.Poll):
// its sleeps but the rest of the last are a wait for them (PollWait). Not
// with fewer than 3 sleeps, nor when no thread ended inside the last (a
// daemon stopped as the process exits ends after it).
func TestPolls(t *testing.T) {
	tr, ids := pollTrace(5, [2]int64{250 * ms, 430 * ms})
	s := tracer.Derive(tr)
	p := s.Polls()[ids[0]]
	if p == nil || !slices.Equal(p.Targets, []tracer.ThreadID{ids[1], ids[2]}) || p.LastEnd != 430*ms || p.From != 1*ms || p.To != 505*ms {
		t.Fatalf("poll %+v, want the workers, the last ending at 430 ms, from 1 ms to 505 ms", p)
	}
	if got, want := s.PollWait(ids[0]), 500*ms-75*ms; got != want {
		t.Errorf("PollWait %d, want %d (five sleeps of 100 ms but the 75 ms after the last worker ended)", got, want)
	}
	for _, tc := range []struct {
		name string
		n    int
		ends [2]int64
	}{
		{"two sleeps", 2, [2]int64{50 * ms, 150 * ms}},
		{"no thread ends in the last sleep", 5, [2]int64{250 * ms, 510 * ms}},
	} {
		tr, ids := pollTrace(tc.n, tc.ends)
		s := tracer.Derive(tr)
		if p := s.Polls()[ids[0]]; p != nil || s.PollWait(ids[0]) != 0 {
			t.Errorf("%s: poll %+v", tc.name, p)
		}
	}
}
