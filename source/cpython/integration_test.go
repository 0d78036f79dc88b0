package cpython

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/giltrace/giltrace/tracer"
)

// needTracing skips the test (fails it in CI) when uprobes cannot be used
// here or python is missing.
func needTracing(t *testing.T, python string) {
	t.Helper()
	skip := t.Skipf
	if os.Getenv("CI") == "true" {
		skip = t.Fatalf
	}
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		skip("uprobes on CPython are supported on linux/amd64 only")
	}
	if err := Check(); err != nil {
		skip("cannot trace here: %v", err)
	}
	if python != "" {
		if _, err := os.Stat(python); err != nil {
			skip("no %s: %v", python, err)
		}
	}
}

func pyenv(v string) string { return "/root/.pyenv/versions/" + v + "/bin/python3" }

func fixture(name string) string {
	p, _ := filepath.Abs(filepath.Join("..", "..", "fixtures", "python", name))
	return p
}

// recordFixture runs a fixture under python and returns its valid trace.
func recordFixture(t *testing.T, python, script string, args ...string) *tracer.Trace {
	t.Helper()
	needTracing(t, python)
	src := Command(append([]string{python, fixture(script)}, args...), Options{Stdout: os.Stdout, Stderr: os.Stderr, Logf: t.Logf})
	tr, err := tracer.Record(context.Background(), src, tracer.Config{})
	if err != nil {
		t.Fatalf("recording %s under %s: %v", script, python, err)
	}
	if err := tr.CheckValid(); err != nil {
		t.Fatalf("%s under %s: invalid trace: %v", script, python, err)
	}
	if ev, _ := probeEvents(); len(ev) > 0 {
		t.Fatalf("probes left after Record: %v", ev)
	}
	if src.ExitCode() != 0 {
		t.Fatalf("%s exited with %d", script, src.ExitCode())
	}
	return tr
}

func TestDebugCountdown(t *testing.T) {
	tr := recordFixture(t, pyenv("3.11.7"), "countdown.py")
	t.Logf("meta %+v", tr.Meta)
	t.Logf("%d events, %d threads, %d frames", len(tr.Events), len(tr.Threads), len(tr.Frames))
	for _, th := range tr.Threads {
		t.Logf("thread %q", th.Name)
	}
	kinds := map[string]int{}
	for _, e := range tr.Events {
		k := e.Kind.String()
		if e.Kind == tracer.KindLockRelease {
			k += "/" + e.Release().String()
		}
		if e.Kind == tracer.KindLockAcquire {
			k += "/" + e.Acquire().String()
		}
		kinds[k]++
	}
	t.Logf("%v", kinds)
	sp := tracer.Derive(tr)
	_ = sp
}

func TestDebugReport(t *testing.T) {
	py := os.Getenv("PY")
	if py == "" {
		py = "3.11.7"
	}
	fx := os.Getenv("FX")
	if fx == "" {
		fx = "countdown.py"
	}
	tr := recordFixture(t, pyenv(py), fx)
	out := filepath.Join(t.TempDir(), "run.giltrace")
	if err := tracer.WriteFile(out, tr); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "run", "../../cmd/giltrace", "report", out)
	b, err := cmd.CombinedOutput()
	t.Logf("%s", b)
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]int{}
	for _, e := range tr.Events {
		if e.Kind == tracer.KindIOBegin {
			kinds[tr.Str(e.IOKind())]++
		}
	}
	t.Logf("io kinds %v extra %v", kinds, tr.Meta.Extra)
	for _, e := range tr.Events {
		if e.Kind == tracer.KindLockWait && tr.Locks[e.Lock()].GIL {
			fs := tr.StackFrames(e.Stack)
			if len(fs) > 0 {
				t.Logf("wait top %v (%d frames) thread %s", fs[0], len(fs), tr.Threads[e.Thread].Name)
			}
		}
	}
}
