package diagnosis

import (
	"strings"
	"testing"
)

// TestLimitTextNamesTheWait: a thread's earliest end that its start and
// its own work do not add up to says that it waits for other threads (QA:
// "cannot start before 15.9ms and has 159ms of its own work: it ends at
// 389ms at the earliest"); one that they do add up to does not.
func TestLimitTextNamesTheWait(t *testing.T) {
	waits := Limit{Kind: LimitThread, Name: "MainThread", NS: 274e6, WorkNS: 159e6, FromNS: 15.9e6}.text(2)
	if !strings.Contains(waits, "has 159ms of its own work and waits for other threads: it ends at 274ms at the earliest") {
		t.Errorf("a thread that waits: %q", waits)
	}
	alone := Limit{Kind: LimitThread, Name: "c", NS: 300e6, WorkNS: 200e6, FromNS: 100e6}.text(2)
	if strings.Contains(alone, "waits") || !strings.Contains(alone, "cannot start before 100ms and has 200ms of its own work: it ends at 300ms") {
		t.Errorf("a thread that does not wait: %q", alone)
	}
}

// TestMeasuredNoteSimulated: a simulated run whose one-thread wall makes a
// measured speedup below its overlap does not blame the machine (QA: "The
// machine, not the threads, made up the difference" in virtual time); a
// real run still does.
func TestMeasuredNoteSimulated(t *testing.T) {
	for _, clock := range []string{"virtual", "real"} {
		a := &analysis{r: &Report{Summary: Summary{Clock: clock}, Speedup: Speedup{Overlap: 4.42, Measured: 1.99, SerialWallNS: 8e9}}}
		got := a.measuredNote()
		machine := strings.Contains(got, "The machine, not the threads")
		queue := strings.Contains(got, "simulated cores' queue")
		if clock == "virtual" && (machine || !queue) || clock == "real" && (!machine || queue) {
			t.Errorf("clock %s: %q", clock, got)
		}
	}
}
