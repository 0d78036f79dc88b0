package main

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm/workload"
)

func TestModelArgs(t *testing.T) {
	testArgs(t, modelCmd, []argsCase[modelOptions]{
		{[]string{"run.giltrace"}, &modelOptions{File: "run.giltrace"}, false, ""},
		{[]string{"run.giltrace", "-o", "app.yaml"}, &modelOptions{File: "run.giltrace", Out: "app.yaml"}, false, ""},
		{nil, nil, true, ""},
		{[]string{"a", "b"}, nil, true, ""},
	})
}

// TestModel writes the model of a recorded fixture to a file and to
// stdout: the same bytes, a workload that loads, with the trace named in
// its header.
func TestModel(t *testing.T) {
	trace := filepath.Join(testkit.FixtureDir(), "convoy.giltrace")
	out := filepath.Join(t.TempDir(), "convoy-model.yaml")
	var stdout, stderr bytes.Buffer
	cmd := newRootCmd()
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs([]string{"model", trace, "-o", out})
	if err := cmd.Execute(); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	file, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	stdout.Reset()
	cmd = newRootCmd()
	cmd.SetOut(&stdout)
	cmd.SetArgs([]string{"model", trace})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(file, stdout.Bytes()) {
		t.Error("the model written to a file and to stdout differ")
	}
	if !strings.Contains(string(file), "# Modelled by giltrace model from "+trace) {
		t.Errorf("no header naming the trace:\n%.300s", file)
	}
	w, err := workload.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Threads) != 2 || w.Threads[0].Name != "cpu" || w.Threads[1].Name != "io" {
		t.Errorf("threads %+v, want cpu and io", w.Threads)
	}
}

// TestModelCutTrace: a trace cut off after its header, before the first
// events, is an error naming the file and the cause (exit 1), not "a bug
// in giltrace model", and no model is written.
func TestModelCutTrace(t *testing.T) {
	cut := cutBeforeEvents(t)
	out := filepath.Join(filepath.Dir(cut), "model.yaml")
	msg, err := runRoot("model", cut, "-o", out)
	if err == nil || exitCode(err) != 1 || !strings.Contains(err.Error(), "modelling "+cut+": the trace holds no events") ||
		!strings.Contains(err.Error(), "cut off before its first events") || !strings.Contains(err.Error(), "nothing to model") || strings.Contains(err.Error(), "a bug") {
		t.Fatalf("model of a cut trace: err = %v (%s), want an error naming %s and nothing to model", err, msg, cut)
	}
	if _, serr := os.Stat(out); !os.IsNotExist(serr) {
		t.Fatalf("model of a cut trace wrote %s (stat: %v)", out, serr)
	}
}

// cutBeforeEvents writes the shortest cut of the countdown fixture whose
// complete part has its threads but no events, and returns its path.
func cutBeforeEvents(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testkit.FixtureDir(), "countdown.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.giltrace")
	for n := 16; n < len(b); n += 16 {
		if err := os.WriteFile(cut, b[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		tr, _, rerr := readTraceFile(cut, true)
		if rerr == nil && tr != nil && len(tr.Threads) > 0 && len(tr.Events) == 0 {
			return cut
		}
	}
	t.Fatal("no cut of countdown.giltrace keeps its threads without events")
	return ""
}

// TestModelCores: the model of a run carries the cores of the machine it
// was recorded on (cores: N, with clock: virtual, which simulated cores
// need), so that record replays it on them: a run its cores held back
// replays close to its recorded wall. QA: the 4 threads of
// ml-preprocessing, whose native calls overlapped on 2 cores, recorded
// at 616 ms, replayed in 355 ms with record --clock virtual, each thread
// on a core of its own (-42 %); python-hashlib-large, 782 ms, in 470 ms.
// The replay is virtual time's, exact: the same wall as with --cores N
// given; --cores still replaces the file's.
func TestModelCores(t *testing.T) {
	for _, name := range []string{"ml-preprocessing", "python-hashlib-large"} {
		t.Run(name, func(t *testing.T) {
			trace := filepath.Join(testkit.FixtureDir(), name+".giltrace")
			rec, err := tracer.ReadFile(trace)
			if err != nil {
				t.Fatal(err)
			}
			n := rec.Meta.Cores
			if n <= 0 {
				t.Fatalf("%s: no cores in its metadata", trace)
			}
			dir := t.TempDir()
			m := filepath.Join(dir, name+".yaml")
			if out, err := runRoot("model", trace, "-o", m); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			w, err := workload.Load(m)
			if err != nil {
				t.Fatal(err)
			}
			if w.Cores != n || w.Clock != workload.ClockVirtual {
				t.Errorf("model of a run on %d cores: cores: %d, clock: %q; want cores: %d, clock: virtual", n, w.Cores, w.Clock, n)
			}
			replay := func(args ...string) *tracer.Trace {
				t.Helper()
				out := filepath.Join(dir, fmt.Sprintf("run-%d", len(args)))
				if msg, err := runRoot(append([]string{"record", m, "-o", out, "--formats", "none"}, args...)...); err != nil {
					t.Fatalf("record %s %v: %v\n%s", m, args, err, msg)
				}
				tr, err := tracer.ReadFile(filepath.Join(out, "run.giltrace"))
				if err != nil {
					t.Fatal(err)
				}
				return tr
			}
			asFiled := replay("--clock", "virtual")
			given := replay("--clock", "virtual", "--cores", strconv.Itoa(n))
			if asFiled.Meta.Cores != n || asFiled.Duration() != given.Duration() {
				t.Errorf("replayed on %d cores, wall %v; want %d cores, the wall of --cores %d: %v",
					asFiled.Meta.Cores, time.Duration(asFiled.Duration()), n, n, time.Duration(given.Duration()))
			}
			if r := float64(asFiled.Duration())/float64(rec.Duration()) - 1; math.Abs(r) > 0.05 {
				t.Errorf("replayed in %v, recorded %v: %+.1f %%, want within 5 %%",
					time.Duration(asFiled.Duration()), time.Duration(rec.Duration()), 100*r)
			}
			if plain := replay(); plain.Duration() != asFiled.Duration() || plain.Meta.Extra["clock"] != "virtual" {
				t.Errorf("record without flags: wall %v, clock %q; want the virtual replay's %v", time.Duration(plain.Duration()), plain.Meta.Extra["clock"], time.Duration(asFiled.Duration()))
			}
			more := replay("--cores", strconv.Itoa(2*n))
			if more.Meta.Cores != 2*n || more.Duration() >= asFiled.Duration() {
				t.Errorf("--cores %d: replayed on %d cores in %v; want %d cores, faster than %v on %d",
					2*n, more.Meta.Cores, time.Duration(more.Duration()), 2*n, time.Duration(asFiled.Duration()), n)
			}
		})
	}
}
