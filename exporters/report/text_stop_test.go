package report

import (
	"strings"
	"testing"

	"github.com/giltrace/giltrace/diagnosis"
)

// TestHeadlineStopped: a program that giltrace stopped is said to have
// been stopped, not to have failed, with how it ended.
func TestHeadlineStopped(t *testing.T) {
	status := func(v int) *int { return &v }
	for _, c := range []struct {
		sum       diagnosis.Summary
		want, not string
	}{
		{diagnosis.Summary{Source: "cpython", Stopped: "interrupted", StopGrace: "5s", ExitStatus: status(130)},
			"Stopped: giltrace was stopped and sent the program SIGINT; it exited with status 130 within 5s, and its shutdown is in the run", "until it failed"},
		{diagnosis.Summary{Source: "cpython", Stopped: "interrupted", StopGrace: "5s", ExitStatus: status(0)},
			"it exited with status 0 within 5s", "until it failed"},
		{diagnosis.Summary{Source: "cpython", Stopped: "killed", StopGrace: "500ms", ExitStatus: status(137), ExitSignal: "SIGKILL"},
			"it had not exited 500ms later and was killed (SIGKILL)", "until it failed"},
		// Killed before its grace was over: by a second signal (QA: "it
		// had not exited 1ms later" read as a 1 ms --kill-after).
		{diagnosis.Summary{Source: "cpython", Stopped: "killed", StopGrace: "5s", KilledAfter: "1.2s", ExitStatus: status(137), ExitSignal: "SIGKILL"},
			"a second signal to giltrace killed it (SIGKILL) 1.2s later, before its grace of 5s was over", "had not exited"},
		{diagnosis.Summary{Source: "cpython", Stopped: "killed", StopGrace: "5s", KilledAfter: "5.001s", ExitStatus: status(137), ExitSignal: "SIGKILL"},
			"it had not exited 5.001s later and was killed (SIGKILL)", "second signal"},
		// A program that ignored the SIGINT: said why it was killed.
		{diagnosis.Summary{Source: "cpython", Stopped: "killed", StopGrace: "5s", KilledAfter: "5.001s", ExitStatus: status(137), ExitSignal: "SIGKILL", SIGINTIgnored: true},
			"it had not exited 5.001s later and was killed (SIGKILL); it ignored SIGINT: its shutdown", "second signal"},
		{diagnosis.Summary{Source: "cpython", Stopped: "killed", StopGrace: "1s", KilledAfter: "1.001s", ExitStatus: status(137), ExitSignal: "SIGKILL", KilledChildren: "pid 12, pid 13"},
			"Killed with it, their parent gone: its traced child processes pid 12, pid 13", "Still running"},
		{diagnosis.Summary{Source: "cpython", Stopped: "interrupted", StopGrace: "5s", ExitStatus: status(130), LeftRunning: "pid 14"},
			"Still running when the stopped program had exited (giltrace sent SIGINT to the program only, and traced them no further): pid 14", "Killed with it"},
		{diagnosis.Summary{Source: "cpython", ExitStatus: status(3)},
			"The program exited with status 3: this is its run until it failed", "Stopped"},
		{diagnosis.Summary{Source: "cpython", ExitStatus: status(0), Unkept: "pid 15 (too many open files)"},
			"May be missing probe hits: processes forked during the run whose probes the recorder could not keep armed (a kernel before 6.12, docs/cpython.md); their hits after a relative of theirs exited may be lost: pid 15 (too many open files)", "Stopped"},
		// Its code ran (not failed at its start): no note about a failure
		// at the start (QA).
		{diagnosis.Summary{Source: "cpython", ExitStatus: status(1)},
			"this is its run until it failed", "start-up"},
	} {
		got := headline(&c.sum)
		if !strings.Contains(got, c.want) || strings.Contains(got, c.not) {
			t.Errorf("headline of %+v:\n%s\nwant %q, without %q", c.sum, got, c.want, c.not)
		}
	}
}
