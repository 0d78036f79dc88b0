package cpython

import (
	"testing"
)

// TestLockHoldProbes checks the lock probes of each pyenv build: without
// lock holds, blocking acquires only; with them, every acquire, its return
// value and every release, probed past PyThread_release_lock's leading
// `sub $8, %rsp` (4 bytes) so that the kernel emulates the probed
// instruction instead of single-stepping it.
func TestLockHoldProbes(t *testing.T) {
	for _, v := range pyenvVersions {
		t.Run(v, func(t *testing.T) {
			in := pyenvInterp(t, v)
			for _, holds := range []bool{false, true} {
				probes, _, err := buildProbes(in, 1, false, holds)
				if err != nil {
					t.Fatal(err)
				}
				by := map[string]probe{}
				for _, p := range probes {
					by[p.name] = p
				}
				_, ret := by[evLockRet]
				rel, unlock := by[evUnlock]
				switch {
				case !holds && (by[evLock].filter != "us != 0" || ret || unlock):
					t.Errorf("without lock holds: %+v", probes)
				case holds && (by[evLock].filter != "" || !ret || !by[evLockRet].ret || !unlock):
					t.Errorf("with lock holds: %+v", probes)
				}
				if !holds {
					continue
				}
				entry, err := in.symbolOffset("PyThread_release_lock")
				if err != nil {
					t.Fatal(err)
				}
				if rel.offset != entry+4 {
					t.Errorf("release probed at %#x, want %#x: past the sub $8, %%rsp at the entry %#x", rel.offset, entry+4, entry)
				}
			}
		})
	}
}
