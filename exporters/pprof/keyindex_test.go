package pprof

import (
	"math/rand/v2"
	"testing"

	"github.com/giltrace/giltrace/tracer"
)

// TestKeyIndexRecent: the per-thread recent keys in front of keyIndex's
// table give every key the number the table gives it, whatever the order:
// threads that cycle through more keys than they keep, keys of no thread
// (NoThread, past maxRecentThreads), and enough keys to grow the table.
func TestKeyIndexRecent(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var x keyIndex
	want := map[key]int{}
	for range 200_000 {
		k := key{thread: tracer.ThreadID(r.IntN(40)), state: int32(r.IntN(3)), stack: tracer.StackID(r.IntN(2 * recentKeys))}
		switch r.IntN(20) {
		case 0:
			k.thread = tracer.NoThread
		case 1:
			k.thread = maxRecentThreads + tracer.ThreadID(r.IntN(3))
		case 2:
			k.waiter = tracer.ThreadID(r.IntN(1000)) // many keys: the table grows
		}
		n, ok := want[k]
		if !ok {
			n = len(want)
			want[k] = n
		}
		i, added := x.index(k)
		if i != n || added == ok {
			t.Fatalf("index(%+v) = %d, %v; want %d, %v", k, i, added, n, !ok)
		}
	}
	if len(x.keys) != len(want) {
		t.Fatalf("%d keys, want %d", len(x.keys), len(want))
	}
}
