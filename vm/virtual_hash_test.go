package vm

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm/workload"
)

// TestVirtualHashes writes the SHA-256 of the trace of many virtual runs
// (every fixture, the benchmark's countdowns and random workloads, at
// several core counts, switch intervals, wake-up latencies and seeds) to
// the file named by VHASH, one line per run: a scheduler change that must
// not change the model is checked by comparing the file before and after
// it (docs/performance.md, "Virtual time"). Skipped without VHASH.
func TestVirtualHashes(t *testing.T) {
	out := os.Getenv("VHASH")
	if out == "" {
		t.Skip("set VHASH=FILE to write the hashes of many virtual runs to FILE")
	}
	type named struct {
		name string
		w    *workload.Workload
	}
	var ws []named
	for _, w := range fixtures(t) {
		ws = append(ws, named{w.Name, w})
	}
	long := func(mode tracer.GILMode, n int, d time.Duration) *workload.Workload {
		return &workload.Workload{Name: "bench", Seed: 1, GIL: workload.GILConfig{Mode: mode},
			Functions: fns(map[string][]workload.Op{"count": {compute(d)}}),
			Threads:   []workload.ThreadGroup{group("T", n, "count")}}
	}
	ws = append(ws, named{"countdown-8", long(tracer.GILCPython, 8, 200*time.Millisecond)},
		named{"countdown-2", long(tracer.GILCPython, 2, 200*time.Millisecond)},
		named{"legacy-2", long(tracer.GILLegacy, 2, 20*time.Millisecond)})
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 60 {
		ws = append(ws, named{fmt.Sprintf("random-%d", i), randomWorkload(r)})
	}
	var b strings.Builder
	for _, nw := range ws {
		if nw.w.Name == "free-threaded" || nw.w.Name == "multiprocessing" {
			continue
		}
		for _, cores := range []int{0, 1, 3, 64} {
			for _, si := range []time.Duration{0, time.Millisecond, 100 * time.Microsecond} {
				for _, lat := range []time.Duration{0, 50 * time.Microsecond} {
					for _, seed := range []int64{1, 7} {
						s := seed
						o := Options{ClockMode: workload.ClockVirtual, Cores: cores, SwitchInterval: si, WakeLatency: lat, Seed: &s}
						ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
						tr, err := Run(ctx, nw.w, o)
						cancel()
						if err != nil && !errors.Is(err, errDeadlock) {
							t.Fatalf("%s: %v", nw.name, err)
						}
						fmt.Fprintf(&b, "%s cores=%d si=%v lat=%v seed=%d events=%d err=%v %x\n", nw.name, cores, si, lat, seed, len(tr.Events), err != nil, sha256.Sum256(traceBytes(t, tr)))
					}
				}
			}
		}
	}
	if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}
