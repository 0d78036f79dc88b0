package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckArgs(t *testing.T) {
	testArgs(t, checkCmd, []argsCase[checkOptions]{
		{[]string{"a.yaml"}, &checkOptions{Files: []string{"a.yaml"}}, false, ""},
		{[]string{"a.yaml", "b.yaml"}, &checkOptions{Files: []string{"a.yaml", "b.yaml"}}, false, ""},
		{nil, nil, true, "requires at least 1 arg"},
	})
}

func TestCheckFixtures(t *testing.T) {
	fixtures, err := filepath.Glob("../../fixtures/*.yaml")
	if err != nil || len(fixtures) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	out, err := runRoot(append([]string{"check"}, fixtures...)...)
	if err != nil {
		t.Fatalf("check: %v\n%s", err, out)
	}
	if n := strings.Count(out, ": ok: "); n != len(fixtures) {
		t.Errorf("%d ok lines for %d fixtures:\n%s", n, len(fixtures), out)
	}
	want := `../../fixtures/countdown.yaml: ok: workload "countdown" (GIL cpython, switch interval 5ms): 2 threads per process, 1 process, 1 function`
	if !strings.Contains(out, want+"\n") {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
}

func TestCheckReportsEveryBadFile(t *testing.T) {
	dir := t.TempDir()
	bad1 := filepath.Join(dir, "bad1.yaml")
	bad2 := filepath.Join(dir, "bad2.yaml")
	os.WriteFile(bad1, []byte("name: x\nthreads:\n  - run: f\n    cuont: 2\nfunctions:\n  f:\n    - compute: 1ms\n"), 0o644)
	os.WriteFile(bad2, []byte("name: y\nthreads: [{run: g}]\nfunctions: {}\n"), 0o644)
	out, err := runRoot("check", bad1, "../../fixtures/convoy.yaml", bad2)
	if err == nil || exitCode(err) != 1 {
		t.Fatalf("err = %v, want exit status 1", err)
	}
	if !strings.Contains(out, "convoy.yaml: ok: ") {
		t.Errorf("the good file is not reported:\n%s", out)
	}
	for _, want := range []string{bad1 + ":4:5", `did you mean "count"`, bad2 + ":"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
}
