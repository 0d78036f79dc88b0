package tracer

import "testing"

// TestHeldEachRandom: HeldEach gives Held of every wait on random traces.
func TestHeldEachRandom(t *testing.T) {
	for seed := range uint64(20) {
		tr := genTrace(seed, 2, 5, 3000)
		s := Derive(tr)
		n := 0
		for l := range tr.Locks {
			for wi, held := range s.HeldEach(LockID(l)) {
				if h := s.Held(&s.Waits[wi]); h != held {
					t.Fatalf("seed %d, wait %+v: HeldEach %d, Held %d", seed, s.Waits[wi], held, h)
				}
				n++
			}
		}
		if n == 0 {
			t.Fatalf("seed %d: no waits", seed)
		}
	}
}
