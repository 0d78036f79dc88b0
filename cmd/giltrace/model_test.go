package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
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
