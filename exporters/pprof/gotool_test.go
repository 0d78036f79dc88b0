package pprof_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/exporters/pprof"
	"github.com/giltrace/giltrace/internal/exporttest"
	"github.com/giltrace/giltrace/tracer"
)

// goTool runs `go tool pprof args... file` and returns its output.
func goTool(t *testing.T, file string, args ...string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	cmd := exec.Command(goBin, append(append([]string{"tool", "pprof"}, args...), file)...)
	cmd.Env = append(os.Environ(), "PPROF_TMPDIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go tool pprof %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

var sampleLine = regexp.MustCompile(`^\s+(\d+)(?:\s+(\d+))?: `)

// rawTotals sums the values of the samples printed by -raw: counts and
// nanoseconds (for a profile with one value, only nanoseconds).
func rawTotals(t *testing.T, raw string) (count, ns int64) {
	t.Helper()
	in := false
	for line := range strings.Lines(raw) {
		switch {
		case strings.HasPrefix(line, "Samples:"):
			in = true
		case strings.HasPrefix(line, "Locations"):
			in = false
		case in:
			m := sampleLine.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			a, _ := strconv.ParseInt(m[1], 10, 64)
			if m[2] == "" {
				ns += a
				continue
			}
			b, _ := strconv.ParseInt(m[2], 10, 64)
			count += a
			ns += b
		}
	}
	return count, ns
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
	waits, waitNS  int64 // every wait with a duration, for any lock
	gilWaitNS      int64 // waits for a GIL
	waiterNS       map[string]int64
	wallNS         int64
	stateNS        map[string]int64
	threads, funcs []string
}

func expect(s *tracer.Spans) expected {
	t := s.Trace
	e := expected{waiterNS: map[string]int64{}, stateNS: map[string]int64{}}
	for _, w := range s.Waits {
		if w.End <= w.Start {
			continue
		}
		e.waits++
		e.waitNS += w.End - w.Start
		e.waiterNS[t.Threads[w.Thread].Name] += w.End - w.Start
		if t.Locks[w.Lock].GIL {
			e.gilWaitNS += w.End - w.Start
		}
	}
	for _, th := range s.Threads {
		e.wallNS += th.End - th.Start
		e.threads = append(e.threads, t.Threads[th.Thread].Name)
		for st, ns := range s.ThreadTotals(th.Thread) {
			e.stateNS[tracer.State(st).String()] += ns
		}
	}
	for _, f := range t.Frames {
		e.funcs = append(e.funcs, f.Func)
	}
	return e
}

// TestGoToolPprof reads every profile of every trace with `go tool pprof`
// and checks its figures against the trace's spans.
func TestGoToolPprof(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go tool pprof")
	}
	for _, c := range exporttest.All(t) {
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
	count, ns := rawTotals(t, goTool(t, file, "-raw"))
	if count != e.waits || ns != e.waitNS {
		t.Errorf("-raw: %d contentions, %d ns; the trace has %d waits, %d ns", count, ns, e.waits, e.waitNS)
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
		if got := focused(t, file, "thread", name); got != ns {
			t.Errorf("-tagfocus=thread=%s: %d ns; the thread waited %d ns", name, got, ns)
		}
	}
}

func checkBlame(t *testing.T, file string, e expected) {
	count, ns := rawTotals(t, goTool(t, file, "-raw"))
	if ns != e.waitNS || count < e.waits {
		t.Errorf("-raw: %d segments, %d ns; the trace has %d waits, %d ns", count, ns, e.waits, e.waitNS)
	}
	for name, ns := range e.waiterNS {
		if got := focused(t, file, "waiter", name); got != ns {
			t.Errorf("-tagfocus=waiter=%s: %d ns; the thread waited %d ns", name, got, ns)
		}
	}
}

func checkWall(t *testing.T, file string, e expected) {
	if _, ns := rawTotals(t, goTool(t, file, "-raw")); ns != e.wallNS {
		t.Errorf("-raw: %d ns; the threads' wall times sum to %d ns", ns, e.wallNS)
	}
	for st, ns := range e.stateNS {
		if ns == 0 {
			continue
		}
		if got := focused(t, file, "state", st); got != ns {
			t.Errorf("-tagfocus=state=%s: %d ns; the threads spent %d ns in it", st, got, ns)
		}
	}
	traces := goTool(t, file, "-traces")
	for _, name := range append(e.threads, e.funcs...) {
		if !strings.Contains(traces, name) {
			t.Errorf("-traces lacks %q", name)
		}
	}
}

// TestGoToolList checks that `go tool pprof -list` shows the workload's
// source at the recorded lines: the function's file is the workload file.
func TestGoToolList(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go tool pprof")
	}
	c := exporttest.Scenarios()[1] // mixed: parse is defined at line 20 of test.yaml
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
