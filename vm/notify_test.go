package vm

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm/workload"
)

// TestWaitUntilNotify, in virtual time (exact): a wait until: notify ends
// at the notify (the worker's, after its 5 ms of compute), however long
// that takes; a notify that comes before the wait is kept, and the wait
// then returns at once; in processes mode each process's wait takes one of
// the notifies, whichever process gave it.
func TestWaitUntilNotify(t *testing.T) {
	for _, c := range []struct {
		name             string
		before, work     time.Duration // the main thread's compute before its wait; the worker's before its notify
		processes        int
		wantMin, wantMax time.Duration // the main thread's lock wait
	}{
		{"wait then notify", 0, 5 * time.Millisecond, 1, 4900 * time.Microsecond, 5200 * time.Microsecond},
		{"longer work, longer wait", 0, 20 * time.Millisecond, 1, 19900 * time.Microsecond, 20200 * time.Microsecond},
		{"notify first", 30 * time.Millisecond, time.Millisecond, 1, 0, 100 * time.Microsecond},
		{"two processes", 0, 5 * time.Millisecond, 2, 4900 * time.Microsecond, 5200 * time.Microsecond},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := fmt.Sprintf(`name: notify
clock: virtual
processes: %d
threads:
  - {name: main, run: main}
  - {name: worker, run: work}
functions:
  main:
    - compute: %v
    - wait: {lock: done, until: notify}
    - compute: 1ms
  work:
    - compute: %v
    - notify: done
`, c.processes, c.before+time.Microsecond, c.work)
			w, err := workload.Parse("notify.yaml", []byte(src))
			if err != nil {
				t.Fatal(err)
			}
			_, s := mustRun(t, w, Options{Cores: 4})
			for i, th := range s.Trace.Threads {
				if !strings.HasPrefix(th.Name, "main") {
					continue
				}
				got := time.Duration(s.ThreadTotals(tracer.ThreadID(i))[tracer.StateLockWait])
				if got < c.wantMin || got > c.wantMax {
					t.Errorf("%s waited %v, want %v to %v", th.Name, got, c.wantMin, c.wantMax)
				}
			}
		})
	}
}
