package report

import (
	"strings"
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/vm"
)

// TestIdleWorkersText: a pool whose workers wait, idle, on one lock until
// its main thread notifies them (QA: asyncio.to_thread's workers, called
// lock-bound) gets no verdict; the text says instead what limits the run
// (the main thread's own work) and that the workers were idle, and the
// Guest locks table says where the lock was waited for, not who "held"
// it.
func TestIdleWorkersText(t *testing.T) {
	txt := virtualText(t, testkit.IdlePool, vm.Options{Cores: 2})
	for _, want := range []string{
		"Verdict: none of the verdicts' thresholds was reached (see docs/diagnosis.md); what limits the run instead:\n  one thread's work: main's own work, 500ms, fills 95 % of the run's 524ms wall: 500ms running Python with the GIL. That work runs on one thread,",
		"\n    What to do: Shorten main's own work, or split it so that other threads or processes share it; more threads, processes or a free-threaded Python cannot make the run more than 1.05x faster while it stays on one thread.",
		"\n  idle threads: The 4 threads that waited for work spent 94 % of their time (1.96s) waiting there for work or a notification from another thread, in w (line 12): idle, not held up by another thread's critical section.",
		"  work  pool     12     1.96s  12     46.9ms  - (waits for a notification, in w (line 12))\n",
	} {
		if !strings.Contains(txt, want) {
			t.Errorf("text lacks %q:\n%s", want, txt)
		}
	}
	if strings.Contains(txt, "lock-bound") {
		t.Errorf("text says lock-bound:\n%s", txt)
	}
}
