package tracer_test

import (
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// TestWaitChains: a loop of timed waits that ran out (I/O "lock-timeout")
// until a wait that got its lock is a chain, from its first timeout that
// the loop's checks (at most 2 ms of work between two waits, GIL waits
// aside) lead on to the wait; a timeout followed by more work (given up)
// is in none, nor is any when the trace does not say that its waits' ends
// are known (lock_wait_ends).
func TestWaitChains(t *testing.T) {
	build := func(known bool) (*tracer.Trace, tracer.ThreadID) {
		b := testkit.New("chains")
		if known {
			b.Meta().Extra = map[string]string{"lock_wait_ends": "known"}
		}
		p := b.FreeThreadedProcess("chains", 1)
		l := b.Lock(p, "lock 0x10")
		m := b.Thread(p, "MainThread")
		m.Start(0)
		at := int64(0)
		timeout := func(gap int64) {
			m.IOBegin(at, "lock-timeout").IOEnd(at + 100*ms)
			at += 100*ms + gap
		}
		wait := func(d, gap int64) {
			m.Wait(at, l).Acquire(at+d, l, tracer.AcquireAfterWait).Release(at+d+1000, l, tracer.ReleaseUnlock)
			at += d + gap
		}
		timeout(3 * ms) // followed by 3 ms of work: not in the chain after it
		timeout(ms / 2)
		timeout(ms / 2)
		wait(20*ms, 50*ms) // the chain's end: timeouts 1 and 2
		timeout(300 * ms)  // given up: 300 ms of work after it
		wait(10*ms, ms)    // a wait alone
		m.End(at)
		return b.Trace(), m.ID()
	}
	tr, id := build(true)
	s := tracer.Derive(tr)
	cs := s.WaitChains()
	if len(cs) != 1 || len(cs[id]) != 1 {
		t.Fatalf("chains %+v, want one of MainThread", cs)
	}
	c := cs[id][0]
	sts := s.ThreadStates(id)
	if c.From != 103*ms || sts[c.First].Start != c.From || sts[c.Wait].State != tracer.StateLockWait || sts[c.Wait].Start != c.To || c.To != 304*ms {
		t.Errorf("chain %+v, want from 103 ms to the wait at 304 ms; spans %+v", c, sts)
	}
	tr, _ = build(false)
	if cs := tracer.Derive(tr).WaitChains(); len(cs) != 0 {
		t.Errorf("without lock_wait_ends: chains %+v", cs)
	}
}
