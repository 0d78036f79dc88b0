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
	p.stop()
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
