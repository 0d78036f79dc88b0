package cpython

import (
	"os"
	"path/filepath"
	"strings"
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

// TestSetPIDsRefusesNone: an empty list of tasks is refused, not written:
// written, it clears the instance's pid filter, and the probes then record
// every CPython process that maps the interpreter. (The file here is not
// tracefs's: writing "" would fail on its absence, so the error's text is
// what tells the refusal.)
func TestSetPIDsRefusesNone(t *testing.T) {
	s := &session{instance: t.TempDir()}
	if err := s.setPIDs(nil); err == nil || !strings.Contains(err.Error(), "no task to trace") {
		t.Fatalf("setPIDs(nil): %v", err)
	}
	os.WriteFile(filepath.Join(s.instance, "set_event_pid"), nil, 0o644) // tracefs has it
	if err := s.setPIDs([]int{7, 9}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(s.instance, "set_event_pid")); string(b) != "7 9 " {
		t.Errorf("set_event_pid %q", b)
	}
}
