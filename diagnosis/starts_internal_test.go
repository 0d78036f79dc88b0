package diagnosis

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm/workload"
)

// TestReadWorkloadAsTheLoader: the diagnosis's reader of workload files
// (readWorkload: the diagnosis does not import vm/workload) reads every
// fixture as the loader does: its groups' names, functions, processes and
// start_after, and its functions' operations, kinds, durations, names,
// times and bodies.
func TestReadWorkloadAsTheLoader(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("..", "fixtures", "*.yaml"))
	if err != nil || len(paths) < 10 {
		t.Fatalf("fixtures: %v, %d files", err, len(paths))
	}
	kinds := map[workload.OpKind]string{workload.OpCall: "call", workload.OpCompute: "compute", workload.OpIO: "io", workload.OpNative: "native",
		workload.OpLock: "lock", workload.OpRepeat: "repeat", workload.OpJoin: "join", workload.OpStart: "start", workload.OpWait: "wait", workload.OpNotify: "notify"}
	for _, p := range paths {
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		want, err := workload.Parse(p, src)
		if err != nil {
			t.Fatal(err)
		}
		got, err := readWorkload(string(src))
		if err != nil {
			t.Errorf("%s: %v", p, err)
			continue
		}
		if len(got.groups) != len(want.Threads) {
			t.Errorf("%s: %d groups, the loader %d", p, len(got.groups), len(want.Threads))
			continue
		}
		for i, g := range want.Threads {
			if h := got.groups[i]; h.name != g.Name || h.run != g.Run || h.process != g.Process || h.startAfter != int64(g.StartAfter) {
				t.Errorf("%s: group %+v, the loader %+v", p, h, g)
			}
		}
		var same func(path string, got []wlOp, want []workload.Op)
		same = func(path string, got []wlOp, want []workload.Op) {
			if len(got) != len(want) {
				t.Errorf("%s: %d operations, the loader %d", path, len(got), len(want))
				return
			}
			for k, w := range want {
				g := got[k]
				kind := kinds[w.Kind]
				if g.kind == "sleep" {
					g.kind = "io" // the loader's io of kind sleep
				}
				name := w.Func + w.Group + w.Lock
				if w.Kind == workload.OpWait || w.Kind == workload.OpNotify && g.name == w.Lock {
					name = g.name // wait's lock is not read
				}
				if g.kind != kind || g.ns != int64(w.Duration) && !(w.Kind == workload.OpCompute && w.Loops > 0) || g.loops != w.Loops ||
					g.jitter != int64(w.Jitter) || g.name != name || g.times != w.Times && w.Kind == workload.OpRepeat {
					t.Errorf("%s[%d]: %+v, the loader %+v", path, k, g, w)
				}
				same(path+"/"+kind, g.body, w.Body)
			}
		}
		for name, f := range want.Functions {
			same(p+":"+name, got.funcs[name], f.Ops)
		}
	}
}

// TestJoinPointsAsSummedPerOp: the work after each join, summed from the
// end of each function once (and each called function's work once), is
// the sum of postWork over the ops after it, as before, on random
// nestings of calls, repeats, locks and joins.
func TestJoinPointsAsSummedPerOp(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	kinds := []string{"compute", "io", "sleep", "native", "join", "call", "repeat", "lock", "wait"}
	points := 0
	for trial := range 300 {
		w := &wl{funcs: map[string][]wlOp{}}
		var gen func(depth int) []wlOp
		names := []string{"f0", "f1", "f2", "f3"}
		gen = func(depth int) []wlOp {
			var ops []wlOp
			for range rng.IntN(6) {
				op := wlOp{kind: kinds[rng.IntN(len(kinds))], ns: rng.Int64N(1000), jitter: rng.Int64N(100), loops: rng.Int64N(3) * 1000, times: 1 + rng.IntN(3), name: "g"}
				switch op.kind {
				case "call":
					// Only functions after this one's: no recursion, as the loader.
					if depth >= 3 {
						op.kind = "compute"
					} else {
						op.name = names[depth+1+rng.IntN(3-depth)]
					}
				case "repeat", "lock":
					if depth < 3 {
						op.body = gen(depth + 1)
					}
				}
				ops = append(ops, op)
			}
			return ops
		}
		for i := len(names) - 1; i >= 0; i-- {
			w.funcs[names[i]] = gen(i)
		}
		threads := func(string) []int { return []int{1} }
		got := joinPoints(w, "f0", 2.5, threads)
		// The walk as it was: postWork of the ops after each, each time.
		var want []joinPoint
		var naive func(ops []wlOp) int64
		naive = func(ops []wlOp) int64 {
			var n int64
			for _, op := range ops {
				switch op.kind {
				case "compute":
					if op.loops > 0 {
						n += int64(float64(op.loops) / 2.5 * 1e6)
					} else {
						n += op.ns
					}
				case "io", "sleep":
					n += max(op.ns-op.jitter, 0)
				case "native":
					n += op.ns
				case "lock":
					n += naive(op.body)
				case "repeat":
					n += int64(op.times) * naive(op.body)
				case "call":
					n += naive(w.funcs[op.name])
				}
			}
			return n
		}
		var walk func(ops []wlOp, after int64)
		walk = func(ops []wlOp, after int64) {
			for k, op := range ops {
				rest := after + naive(ops[k+1:])
				switch op.kind {
				case "join":
					want = append(want, joinPoint{threads: []int{1}, afterNS: rest})
				case "call":
					walk(w.funcs[op.name], rest)
				case "lock", "repeat":
					walk(op.body, rest)
				}
			}
		}
		walk(w.funcs["f0"], 0)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("trial %d: joinPoints\n got %v\nwant %v", trial, got, want)
		}
		points += len(got)
	}
	if points < 100 {
		t.Errorf("%d join points in all: the trials test little", points)
	}
}

// TestWorkloadParsedOnce: the analyses of traces that ran one workload
// source (the what-if's eighteen replays of one model) parse it once, not
// each (QA: a model of 50 threads' native-wait calls, 105 KB, took 18 ms a
// parse, 320 ms of a 480 ms prediction), and each gets the same estimates,
// whether alone or at once with the others (each its own memo of the
// functions' work).
func TestWorkloadParsedOnce(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "fixtures", "web-scraping.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tr := testkit.Countdown(20)
	tr.Meta.WorkloadSource = string(src) + "\n# TestWorkloadParsedOnce\n" // a source no other test parsed
	want := Analyze(tracer.Derive(tr)).Speedup
	before := workloadParses.Load()
	const n = 8
	got := make([]Speedup, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got[i] = Analyze(tracer.Derive(tr)).Speedup
		}()
	}
	wg.Wait()
	if p := workloadParses.Load() - before; p != 0 {
		t.Errorf("%d analyses of one source parsed it %d more times, want none after the first", n, p)
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want) {
			t.Errorf("analysis %d: %+v, want %+v", i, got[i], want)
		}
	}
}
