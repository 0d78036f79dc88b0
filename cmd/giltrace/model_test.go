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
