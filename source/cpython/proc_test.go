package cpython

import (
	"slices"
	"syscall"
	"testing"
	"time"
)

// TestPacer: the sampler's pacer ticks through a timerfd (a time.Ticker
// of 0.5 ms ticks every 1.1 ms when the program is otherwise idle), never
// sooner than its interval on average, and stops. With -v it logs the
// intervals of both (docs/cpython.md, "where a long hold ran").
func TestPacer(t *testing.T) {
	const every, n = 500 * time.Microsecond, 400
	p := newPacer(every)
	if p.f == nil {
		t.Fatal("no timerfd: the pacer fell back to a time.Ticker")
	}
	start := time.Now()
	gaps := paced(n, p.wait)
	if d := time.Since(start); d < (n-1)*every {
		t.Errorf("%d ticks of %v in %v: sooner than the interval", n, every, d)
	}
	p.stop()
	if testing.Verbose() {
		tk := time.NewTicker(every)
		defer tk.Stop()
		t.Logf("ticks of %v, p50 and p99: timerfd %v; time.Ticker %v", every, gaps, paced(n, func() { <-tk.C }))
	}
}

// paced is the median and 99th percentile of the intervals between n
// calls of wait.
func paced(n int, wait func()) []time.Duration {
	gaps := make([]time.Duration, n)
	last := time.Now()
	for i := range gaps {
		wait()
		now := time.Now()
		gaps[i], last = now.Sub(last), now
	}
	slices.Sort(gaps)
	return []time.Duration{gaps[n/2], gaps[n*99/100]}
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
