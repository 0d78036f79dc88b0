package cpython

import (
	"syscall"
	"testing"
	"time"
)

// TestPacer: the sampler's pacer ticks through a timerfd (a time.Ticker
// of 0.5 ms ticks every 1.1 ms when the program is otherwise idle), never
// sooner than its interval on average, and stops.
func TestPacer(t *testing.T) {
	const every, n = 500 * time.Microsecond, 40
	p := newPacer(every)
	if p.f == nil {
		t.Fatal("no timerfd: the pacer fell back to a time.Ticker")
	}
	start := time.Now()
	for range n {
		p.wait()
	}
	if d := time.Since(start); d < (n-1)*every {
		t.Errorf("%d ticks of %v in %v: sooner than the interval", n, every, d)
	}
	// Slowed down (the sampler's slowTick): the ticks follow.
	const slow = 2 * time.Millisecond
	p.setEvery(slow)
	p.wait() // the tick due before the change, if any
	start = time.Now()
	for range 10 {
		p.wait()
	}
	if d := time.Since(start); d < 9*slow {
		t.Errorf("10 ticks of %v in %v: sooner than the interval", slow, d)
	}
	p.stop()
}

// TestSamplerInterval: the sampler reads every sampleTick until the holds
// it finds last longHold or more on average, then every slowTick; a long
// hold (the start-up's) counts as 2 longHold at most.
func TestSamplerInterval(t *testing.T) {
	s := newSampler(&interp{}, frameArgs{}, 8, nil)
	if got := s.interval(); got != sampleTick {
		t.Fatalf("no process read: %v, want %v", got, sampleTick)
	}
	sp := &sampled{}
	s.procs[1] = sp
	hold := func(ns int64) {
		s.now += ns
		sp.holdFirst, sp.holdLast, sp.heldAt = 1, 1+ns-int64(s.every), s.now
		s.endHold(sp)
		s.interval()
	}
	hold(int64(time.Second)) // the start-up
	if s.every != slowTick {
		t.Fatalf("after a long hold: every %v, want %v", s.every, slowTick)
	}
	n := 0
	for ; s.every == slowTick && n < 100; n++ {
		hold(int64(2 * time.Millisecond))
	}
	if s.every != sampleTick || n > 10 {
		t.Errorf("after %d holds of 2 ms: every %v, want %v within 10", n, s.every, sampleTick)
	}
	for n = 0; s.every == sampleTick && n < 100; n++ {
		hold(int64(5 * time.Millisecond))
	}
	if s.every != slowTick || n > 16 {
		t.Errorf("after %d holds of 5 ms: every %v, want %v within 16", n, s.every, slowTick)
	}
	// Another process with short holds: every sampleTick again, until it
	// has not been found holding the GIL for heldRecently (exited).
	other := &sampled{avgHold: float64(time.Millisecond), heldAt: s.now}
	s.procs[2] = other
	if s.interval() != sampleTick {
		t.Errorf("a process with short holds beside: every %v, want %v", s.every, sampleTick)
	}
	hold(int64(heldRecently) + 1)
	if s.every != slowTick {
		t.Errorf("the process with short holds gone: every %v, want %v", s.every, slowTick)
	}
}

// TestSigIgnored reads the SigIgn mask of /proc/PID/status.
func TestSigIgnored(t *testing.T) {
	status := "Name:\tpython3\nSigBlk:\t0000000000000000\nSigIgn:\t0000000001001002\nSigCgt:\t0000000180004002\n"
	for sig, want := range map[syscall.Signal]bool{syscall.SIGINT: true, syscall.SIGTERM: false, syscall.SIGPIPE: true, syscall.SIGHUP: false} {
		if got := sigIgnored(status, sig); got != want {
			t.Errorf("signal %v ignored: %v, want %v", sig, got, want)
		}
	}
	if sigIgnored("Name:\tx\n", syscall.SIGINT) || sigIgnored("SigIgn:\tzz\n", syscall.SIGINT) {
		t.Error("no or a bad SigIgn line read as ignoring SIGINT")
	}
}
