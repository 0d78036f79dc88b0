package diagnosis

import (
	"os"
	"path/filepath"
	"testing"

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
