package flamegraph_test

import (
	"maps"
	"path/filepath"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/exporters/flamegraph"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// noHolderBlame sums the blame view's stacks of no holder by their frames
// below the thread, and returns the view's total.
func noHolderBlame(t *testing.T, tr *tracer.Trace) (map[string]int64, int64) {
	t.Helper()
	stacks, values := parseFolded(t, folded(t, tr, flamegraph.ViewBlame))
	sums := map[string]int64{}
	var total int64
	for i, st := range stacks {
		total += values[i]
		if st[0] == "(no holder)" {
			sums[strings.Join(st[1:], ";")] += values[i]
		}
	}
	return sums, total
}

// TestBlameUnobservedHolds: in the Blame view of a real program recorded
// without --lock-holds, the parts of guest lock waits with no holder shown
// are state unknown-holder, not handoff (their wake-up latency); the
// GIL's stay handoffs, the total is unchanged, and a VM run is unchanged.
func TestBlameUnobservedHolds(t *testing.T) {
	tr, err := tracer.ReadFile(filepath.Join(testkit.FixtureDir(), "python-lock-contention.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	observed, total := noHolderBlame(t, tr)
	if len(observed) != 1 || observed["handoff"] <= 0 {
		t.Fatalf("lock holds observed: no-holder blame %v, want handoff only", observed)
	}

	unobs := *tr
	unobs.Meta.Extra = maps.Clone(tr.Meta.Extra)
	delete(unobs.Meta.Extra, "lock_holds")
	got, total2 := noHolderBlame(t, &unobs)
	if total2 != total {
		t.Errorf("total blame %d ns without lock holds, %d with", total2, total)
	}
	if got["unknown-holder"] <= 0 || got["handoff"] <= 0 || len(got) != 2 || got["unknown-holder"]+got["handoff"] != observed["handoff"] {
		t.Errorf("lock holds not observed: no-holder blame %v, want unknown-holder and handoff summing to %v", got, observed)
	}

	vm := *tr
	vm.Meta.Extra = maps.Clone(unobs.Meta.Extra)
	vm.Meta.Extra["source"] = "vm"
	if got, _ := noHolderBlame(t, &vm); !maps.Equal(got, observed) {
		t.Errorf("a VM run: no-holder blame %v, want %v", got, observed)
	}
}
