package pprof_test

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/giltrace/giltrace/exporters/pprof"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

var pprofBin = sync.OnceValues(func() (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", err
	}
	// go tool -n prints the path of the built tool (building it if needed):
	// running it directly spares the go command's start-up on every call.
	out, err := exec.Command(goBin, "tool", "-n", "pprof").Output()
	return strings.TrimSpace(string(out)), err
})

// goTool runs `go tool pprof args... file` and returns its output.
func goTool(t *testing.T, file string, args ...string) string {
	t.Helper()
	bin, err := pprofBin()
	if err != nil {
		t.Fatalf("finding go tool pprof: %v", err)
	}
	cmd := exec.Command(bin, append(args, file)...)
	cmd.Env = append(os.Environ(), "PPROF_TMPDIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go tool pprof %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

var (
	sampleLine = regexp.MustCompile(`^\s+(\d+)(?:\s+(\d+))?: `)
	labelPair  = regexp.MustCompile(`(\w+):\[([^\]]*)\]`)
)

// raw is what -raw printed: the sums of the samples' values, in total and
// per label value ("thread=T1"): counts and nanoseconds (for a profile
// with one value, only nanoseconds).
type raw struct {
	count, ns int64
	byLabel   map[string]int64 // nanoseconds per "key=value"
}

func readRaw(t *testing.T, file string) raw {
	t.Helper()
	r := raw{byLabel: map[string]int64{}}
	in := false
	var last int64 // the nanoseconds of the sample whose labels follow
	for line := range strings.Lines(goTool(t, file, "-raw")) {
		switch {
		case strings.HasPrefix(line, "Samples:"):
			in = true
		case strings.HasPrefix(line, "Locations"):
			in = false
		case !in:
		case sampleLine.MatchString(line):
			m := sampleLine.FindStringSubmatch(line)
			a, _ := strconv.ParseInt(m[1], 10, 64)
			last = a
			if m[2] != "" {
				r.count += a
				last, _ = strconv.ParseInt(m[2], 10, 64)
			}
			r.ns += last
		default:
			for _, m := range labelPair.FindAllStringSubmatch(line, -1) {
				r.byLabel[m[1]+"="+m[2]] += last
			}
		}
	}
	return r
}

var accounting = regexp.MustCompile(`Showing nodes accounting for (\d+)(?:ns)?, `)

// focused is the total in nanoseconds of the samples whose label key
// matches value exactly, read from -top.
func focused(t *testing.T, file, key, value string) int64 {
	t.Helper()
	out := goTool(t, file, "-top", "-unit=ns", "-nodefraction=0", "-edgefraction=0",
		"-tagfocus="+key+"=^"+regexp.QuoteMeta(value)+"$")
	m := accounting.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("-top -tagfocus=%s=%s: no total in\n%s", key, value, out)
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	return n
}

// expected are the figures the profiles must reproduce, computed from spans.
type expected struct {
	waits, waitNS  int64 // contended waits; the time of every wait, for any lock
	gilWaitNS      int64 // waits for a GIL
	waiterNS       map[string]int64
	wallNS         int64
	threadNS       map[string]int64 // wall time per thread name
	stateNS        map[string]int64
	threads, funcs []string
}

func expect(s *tracer.Spans) expected {
	t := s.Trace
	e := expected{waiterNS: map[string]int64{}, stateNS: map[string]int64{}, threadNS: map[string]int64{}}
	for _, w := range s.Waits {
		if w.End <= w.Start {
			continue
		}
		if w.Contended {
			e.waits++
		}
		e.waitNS += w.End - w.Start
		e.waiterNS[t.Threads[w.Thread].Name] += w.End - w.Start
		if t.Locks[w.Lock].GIL {
			e.gilWaitNS += w.End - w.Start
		}
	}
	for _, th := range s.Threads {
		e.wallNS += th.End - th.Start
		e.threadNS[t.Threads[th.Thread].Name] += th.End - th.Start
		e.threads = append(e.threads, t.Threads[th.Thread].Name)
		for st, ns := range s.ThreadTotals(th.Thread) {
			e.stateNS[tracer.State(st).String()] += ns
		}
	}
	// The functions on a stack that spent time in some state: a frame
	// that only ever stood in stacks of zero-length spans has no sample.
	seen := map[string]bool{}
	for _, sp := range s.States {
		if sp.End <= sp.Start {
			continue
		}
		for _, f := range t.StackFrames(sp.Stack) {
			// pprof's names drop what stands in angle brackets (C++
			// template arguments): Python's "<module>" prints as "".
			if !seen[f.Func] && !strings.HasPrefix(f.Func, "<") {
				seen[f.Func] = true
				e.funcs = append(e.funcs, f.Func)
			}
		}
	}
	return e
}

// TestGoToolPprof reads every profile of every trace with `go tool pprof`
// and checks its figures against the trace's spans.
func TestGoToolPprof(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go tool pprof")
	}
	for _, c := range testkit.All(t) {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			s := tracer.Derive(c.Trace)
			e := expect(s)
			dir := t.TempDir()
			files := map[pprof.Kind]string{}
			for _, k := range kinds {
				files[k] = filepath.Join(dir, k.String()+".pb.gz")
				if err := os.WriteFile(files[k], export(t, c.Trace, k), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			t.Run("wait", func(t *testing.T) { checkWait(t, files[pprof.KindWait], e) })
			t.Run("blame", func(t *testing.T) { checkBlame(t, files[pprof.KindBlame], e) })
			t.Run("wall", func(t *testing.T) { checkWall(t, files[pprof.KindWall], e) })
		})
	}
}

func checkWait(t *testing.T, file string, e expected) {
	r := readRaw(t, file)
	if r.count != e.waits || r.ns != e.waitNS {
		t.Errorf("-raw: %d contentions, %d ns; the trace has %d waits, %d ns", r.count, r.ns, e.waits, e.waitNS)
	}
	if got := r.byLabel["state=gil-wait"]; got != e.gilWaitNS {
		t.Errorf("-raw: %d ns with state gil-wait; the trace's GIL waits sum to %d ns", got, e.gilWaitNS)
	}
	if got := focused(t, file, "state", "gil-wait"); got != e.gilWaitNS {
		t.Errorf("-tagfocus=state=gil-wait: %d ns; the trace's GIL waits sum to %d ns", got, e.gilWaitNS)
	}
	if got := e.stateNS["gil-wait"]; got != e.gilWaitNS {
		t.Errorf("GIL waits sum to %d ns but threads spent %d ns in state gil-wait", e.gilWaitNS, got)
	}
	traces := goTool(t, file, "-traces")
	for _, want := range []string{"state:  gil-wait", "process:  "} {
		if e.gilWaitNS > 0 && !strings.Contains(traces, want) {
			t.Errorf("-traces lacks %q:\n%s", want, traces)
		}
	}
	for name, ns := range e.waiterNS {
		if got := r.byLabel["thread="+name]; got != ns {
			t.Errorf("-raw: %d ns with thread %s; the thread waited %d ns", got, name, ns)
		}
	}
}

func checkBlame(t *testing.T, file string, e expected) {
	r := readRaw(t, file)
	if r.ns != e.waitNS || r.count < e.waits {
		t.Errorf("-raw: %d segments, %d ns; the trace has %d waits, %d ns", r.count, r.ns, e.waits, e.waitNS)
	}
	focus := true // one -tagfocus=waiter run shows the label works in pprof's filters
	for _, name := range slices.Sorted(maps.Keys(e.waiterNS)) {
		ns := e.waiterNS[name]
		if got := r.byLabel["waiter="+name]; got != ns {
			t.Errorf("-raw: %d ns with waiter %s; the thread waited %d ns", got, name, ns)
		}
		if focus {
			focus = false
			if got := focused(t, file, "waiter", name); got != ns {
				t.Errorf("-tagfocus=waiter=%s: %d ns; the thread waited %d ns", name, got, ns)
			}
		}
	}
}

func checkWall(t *testing.T, file string, e expected) {
	r := readRaw(t, file)
	if r.ns != e.wallNS {
		t.Errorf("-raw: %d ns; the threads' wall times sum to %d ns", r.ns, e.wallNS)
	}
	for st, ns := range e.stateNS {
		if got := r.byLabel["state="+st]; got != ns {
			t.Errorf("-raw: %d ns with state %s; the threads spent %d ns in it", got, st, ns)
		}
	}
	// -tagfocus matches a regexp: anchored, native must not take native-holding.
	if got := focused(t, file, "state", "native"); got != e.stateNS["native"] {
		t.Errorf("-tagfocus=state=^native$: %d ns; the threads spent %d ns in it", got, e.stateNS["native"])
	}
	checkTagRoot(t, file, e)
	traces := goTool(t, file, "-traces")
	for _, name := range append(e.threads, e.funcs...) {
		if !strings.Contains(traces, name) {
			t.Errorf("-traces lacks %q", name)
		}
	}
}

var topLine = regexp.MustCompile(`(?m)^\s*\S+\s+\S+\s+\S+\s+(\d+)ns\s+\S+\s+(.+)$`)

// checkTagRoot checks that -tagroot=thread,state makes each thread a root
// frame holding its wall time (for names that no state or function shares:
// pprof merges frames by name).
func checkTagRoot(t *testing.T, file string, e expected) {
	t.Helper()
	cum := map[string]int64{}
	for _, m := range topLine.FindAllStringSubmatch(goTool(t, file, "-top", "-unit=ns", "-nodefraction=0", "-tagroot=thread,state"), -1) {
		n, _ := strconv.ParseInt(m[1], 10, 64)
		cum[strings.TrimSpace(m[2])] = n
	}
	taken := map[string]bool{}
	for st := range e.stateNS {
		taken[st] = true
	}
	for _, f := range e.funcs {
		taken[f] = true
	}
	for name, ns := range e.threadNS {
		if taken[name] || ns == 0 {
			continue
		}
		if cum[name] != ns {
			t.Errorf("-tagroot=thread,state: thread %s has %d ns, its wall time is %d ns", name, cum[name], ns)
		}
	}
}

// TestGoToolList checks that `go tool pprof -list` shows the workload's
// source at the recorded lines: the function's file is the workload file.
func TestGoToolList(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go tool pprof")
	}
	c := testkit.Scenarios()[1] // mixed: parse is defined at line 20 of test.yaml
	var src strings.Builder
	for i := 1; i <= 45; i++ {
		src.WriteString("# line " + strconv.Itoa(i) + "\n")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "test.yaml"), []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "wall.pb.gz")
	if err := os.WriteFile(file, export(t, c.Trace, pprof.KindWall), 0o644); err != nil {
		t.Fatal(err)
	}
	out := goTool(t, file, "-list=^parse$", "-source_path="+dir)
	if !regexp.MustCompile(`(?m)^\s+\S+\s+\S+\s+20:\s*# line 20$`).MatchString(out) {
		t.Errorf("-list=parse does not show line 20 of the workload with its time:\n%s", out)
	}
}

// TestGoToolAngleNames: Python's functions named in angle brackets
// (<module>, <listcomp>, <lambda>) keep their names in `go tool pprof
// -top`: pprof demangled a function whose SystemName was its Name and
// dropped the bracketed text, leaving no name.
func TestGoToolAngleNames(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go tool pprof")
	}
	b := testkit.New("angles")
	p := b.Process("angles", 1)
	mod, comp := b.Func("<module>", 3), b.Func("<listcomp>", 7)
	th := b.Thread(p, "MainThread").Start(0).Acquire(0, 0, tracer.AcquireUncontended).Call(0, mod)
	th.Call(1_000_000, comp).Return(3_000_000).Release(4_000_000, 0, tracer.ReleaseThreadEnd).End(4_000_000)
	file := filepath.Join(t.TempDir(), "wall.pb.gz")
	if err := os.WriteFile(file, export(t, b.Trace(), pprof.KindWall), 0o644); err != nil {
		t.Fatal(err)
	}
	out := goTool(t, file, "-top")
	for _, name := range []string{"<module>", "<listcomp>"} {
		if !strings.Contains(out, name) {
			t.Errorf("-top does not name %s:\n%s", name, out)
		}
	}
}
