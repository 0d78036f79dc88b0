package flamegraph_test

import (
	"maps"
	"path/filepath"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/exporters/flamegraph"
	"github.com/giltrace/giltrace/exporters/pprof"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// noHolderBlame sums the blame view's stacks of no holder (thread
// "(none)") by their frames below the thread, and returns the view's
// total.
func noHolderBlame(t *testing.T, tr *tracer.Trace) (map[string]int64, int64) {
	t.Helper()
	stacks, values := parseFolded(t, folded(t, tr, flamegraph.ViewBlame))
	sums := map[string]int64{}
	var total int64
	for i, st := range stacks {
		total += values[i]
		if st[0] == "(none)" {
			sums[strings.Join(st[1:], ";")] += values[i]
		}
	}
	return sums, total
}

// pprofNoHolder sums the pprof blame profile's samples of no holder the
// same way: "state;frame".
func pprofNoHolder(t *testing.T, tr *tracer.Trace) map[string]int64 {
	t.Helper()
	p, err := pprof.Profile(tracer.Derive(tr), pprof.KindBlame)
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]int64{}
	for _, smp := range p.Sample {
		if smp.Label["thread"][0] == "(none)" {
			sums[smp.Label["state"][0]+";"+smp.Location[0].Line[0].Function.Name] += smp.Value[1]
		}
	}
	return sums
}

// TestBlameUnobservedHolds: in the Blame view of a real program recorded
// without --lock-holds, the parts of guest lock waits with no holder shown
// are state unknown-holder, not handoff (their wake-up latency); the
// GIL's stay handoffs, the total is unchanged, a VM run is unchanged, and
// every no-holder part is named as in gil-blame.pb.gz: thread "(none)",
// then its state and frame ("(no holder)" and no frame before, and a join
// lock's part was a handoff).
func TestBlameUnobservedHolds(t *testing.T) {
	tr, err := tracer.ReadFile(filepath.Join(testkit.FixtureDir(), "python-lock-contention.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	observed, total := noHolderBlame(t, tr)
	if observed["handoff;[no holder]"] <= 0 || observed["join;[the joined thread]"] <= 0 || len(observed) != 2 {
		t.Errorf("lock holds observed: no-holder blame %v, want handoff and join", observed)
	}
	if want := pprofNoHolder(t, tr); !maps.Equal(observed, want) {
		t.Errorf("lock holds observed: no-holder blame %v, pprof's %v", observed, want)
	}

	unobs := *tr
	unobs.Meta.Extra = maps.Clone(tr.Meta.Extra)
	delete(unobs.Meta.Extra, "lock_holds")
	got, total2 := noHolderBlame(t, &unobs)
	if total2 != total {
		t.Errorf("total blame %d ns without lock holds, %d with", total2, total)
	}
	if got["unknown-holder;[holder not observed]"] <= 0 || got["handoff;[no holder]"] <= 0 || len(got) != 3 ||
		got["unknown-holder;[holder not observed]"]+got["handoff;[no holder]"] != observed["handoff;[no holder]"] {
		t.Errorf("lock holds not observed: no-holder blame %v, want unknown-holder, handoff and join", got)
	}
	if want := pprofNoHolder(t, &unobs); !maps.Equal(got, want) {
		t.Errorf("lock holds not observed: no-holder blame %v, pprof's %v", got, want)
	}

	vm := *tr
	vm.Meta.Extra = maps.Clone(unobs.Meta.Extra)
	vm.Meta.Extra["source"] = "vm"
	if got, _ := noHolderBlame(t, &vm); !maps.Equal(got, observed) {
		t.Errorf("a VM run: no-holder blame %v, want %v", got, observed)
	}
}
