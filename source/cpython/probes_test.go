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

// TestJumpTarget: a function whose code is a tail jump (Debian's 3.14
// _PyThreadState_Detach: endbr64; jmp detach_thread.constprop.0).
func TestJumpTarget(t *testing.T) {
	for _, c := range []struct {
		code []byte
		want uint64
		ok   bool
	}{
		{[]byte{0xf3, 0x0f, 0x1e, 0xfa, 0xeb, 0x0a}, 0x6fa2f0 + 4 + 2 + 0x0a, true}, // the 3.14 stub: jmp 6fa300
		{[]byte{0xe9, 0xfb, 0xff, 0xff, 0xff}, 0x6fa2f0, true},                      // jmp to itself, rel32 -5
		{[]byte{0xf3, 0x0f, 0x1e, 0xfa, 0x48, 0x83, 0xec, 0x08}, 0, false},          // a function's body
		{[]byte{0xf3}, 0, false},
	} {
		got, ok := jumpTarget(c.code, 0x6fa2f0)
		if ok != c.ok || got != c.want {
			t.Errorf("% x: %#x %v, want %#x %v", c.code, got, ok, c.want, c.ok)
		}
	}
}
