package diagnosis_test

import (
	"strings"
	"testing"

	"github.com/giltrace/giltrace/diagnosis"
	"github.com/giltrace/giltrace/vm"
)

// TestLockHeldWaitingForTheGIL: eight CPU-bound threads that take a lock
// around 20 us of work hold it about 1 ms a time, waiting for the GIL
// inside it (a thread that waited for the lock gave up the GIL). The
// lock-bound verdict says the GIL makes the lock the bottleneck and
// advises by the estimate without a GIL, not "shorten the critical
// section" (QA: a 20 us section held 2.7 ms a time was told to be
// shortened, "GIL or not").
func TestLockHeldWaitingForTheGIL(t *testing.T) {
	src := `name: lk
clock: virtual
threads:
  - {name: w, count: 8, run: f}
functions:
  f:
    - repeat: {times: 80, body: [{lock: {name: qlock, body: [{compute: 20us}]}}, {compute: 2ms}]}
`
	r := runWith(t, src, "cpython", vm.Options{Cores: 4})
	v := verdict(r, diagnosis.LockBound)
	if v == nil {
		t.Fatalf("verdicts %s, want lock-bound", r.VerdictCodes())
	}
	if !strings.Contains(v.Text, "waiting for the GIL inside the critical section, whose own work is 12.8ms") || strings.Contains(v.Text, "GIL or not") {
		t.Errorf("lock-bound text: %s", v.Text)
	}
	if !strings.HasPrefix(v.Advice, "The GIL, not the critical section's work, serialises the threads here: without a GIL or as processes, an estimated 4.00x") || strings.Contains(v.Advice, "Shorten") {
		t.Errorf("lock-bound advice: %s", v.Advice)
	}
}
