package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckArgs(t *testing.T) {
	testArgs(t, checkCmd, []argsCase[checkOptions]{
		{[]string{"a.yaml"}, &checkOptions{Files: []string{"a.yaml"}}, false, ""},
		{[]string{"a.yaml", "b.yaml"}, &checkOptions{Files: []string{"a.yaml", "b.yaml"}}, false, ""},
		{nil, nil, true, "check: requires at least 1 argument, received 0 (usage: "},
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

// TestCheckSaysSimulated: a workload in virtual time (clock: virtual,
// cores:) is described as record runs it.
func TestCheckSaysSimulated(t *testing.T) {
	wl := filepath.Join(t.TempDir(), "v.yaml")
	if err := os.WriteFile(wl, []byte("name: v\nclock: virtual\ncores: 4\nthreads:\n  - {name: w, run: work}\nfunctions:\n  work:\n    - compute: 1ms\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runRoot("check", wl)
	if err != nil || !strings.HasSuffix(out, "1 function, simulated in virtual time on 4 cores\n") {
		t.Errorf("check: %v\n%s", err, out)
	}
	if err := os.WriteFile(wl, []byte("name: v\nclock: virtual\nthreads:\n  - {name: w, run: work}\nfunctions:\n  work:\n    - compute: 1ms\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = runRoot("check", wl)
	if err != nil || !strings.HasSuffix(out, "simulated in virtual time on a core per thread (record's default; compare's is this machine's cores)\n") {
		t.Errorf("check without cores: %v\n%s", err, out)
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

// TestCheckCoresWithoutVirtualTime: cores: in a file recorded in real time
// as it stands is valid (record --clock virtual runs it) but noted by
// check, at its line; record refuses it naming the file and the line (QA:
// check said ok, record refused without a location).
func TestCheckCoresWithoutVirtualTime(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("name: c\ncores: 2\nthreads: [{name: a, run: f, count: 2}]\nfunctions: {f: [{compute: 1ms}]}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runRoot("check", path)
	if err != nil || !strings.Contains(out, path+":2: note: cores: 2 simulates cores in virtual time only") {
		t.Errorf("check: %v\n%s", err, out)
	}
	_, err = runRoot("record", path, "-o", filepath.Join(t.TempDir(), "out"))
	if err == nil || !strings.Contains(err.Error(), path+":2: cores: 2: simulated cores need virtual time") {
		t.Errorf("record: %v", err)
	}
	if out, err := runRoot("record", path, "-o", filepath.Join(t.TempDir(), "out"), "--clock", "virtual", "--formats", "none"); err != nil {
		t.Errorf("record --clock virtual: %v\n%s", err, out)
	}
}

// TestCheckAPythonScript: check, record and compare of a Python script,
// a .py or a file with a python #! line, say how to trace it (QA:
// "countdown.py:16: invalid YAML: mapping values are not allowed").
func TestCheckAPythonScript(t *testing.T) {
	shebang := filepath.Join(t.TempDir(), "app")
	if err := os.WriteFile(shebang, []byte("#!/usr/bin/env python3\nprint(1)\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"../../fixtures/python/countdown.py", shebang} {
		for _, args := range [][]string{{"check", f}, {"record", f, "-o", t.TempDir()}, {"compare", f, "-o", t.TempDir()}} {
			_, err := runRoot(args...)
			if err == nil || !strings.Contains(err.Error(), f+": a Python script, not a workload file: giltrace record -- python3 "+f+" traces it") {
				t.Errorf("%s %s: err = %v", args[0], f, err)
			}
		}
	}
}

// TestRecordAMissingScript: a Python command whose script does not exist
// is refused before anything runs (exit 2), and the previous run in the
// output directory is kept (QA: a typo replaced the last good run with
// the interpreter's start-up).
func TestRecordAMissingScript(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out")
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	kept := filepath.Join(out, "run.giltrace")
	if err := os.WriteFile(kept, []byte("a previous run"), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "nosuch.py")
	_, err := runRoot("record", "-o", out, "--", "python3", "-X", "dev", missing, "arg")
	var ue *usageError
	if err == nil || !errors.As(err, &ue) || !strings.Contains(err.Error(), "python3: the script "+missing+" cannot be opened (no such file or directory): nothing was run or recorded") {
		t.Errorf("err = %v, want the missing script named, as a usage error", err)
	}
	if b, err := os.ReadFile(kept); err != nil || string(b) != "a previous run" {
		t.Errorf("the previous run: %q, %v", b, err)
	}
	for _, argv := range [][]string{{"python3", "-c", "x"}, {"python3", "-m", "nosuch"}, {"python3", "-"}, {"python3"}, {"/bin/echo", "nosuch.py"}, {"python3", "-mhttp.server", "8000"}, {"python3", "-uc", "x", "y"}} {
		if err := checkScript(argv); err != nil {
			t.Errorf("%q: %v, want no script to check", argv, err)
		}
	}
}

// TestCheckATrace: check (and record) of a recorded trace says what it is
// and which commands read it (QA: "invalid UTF-8 at byte 13").
func TestCheckATrace(t *testing.T) {
	f := "../../fixtures/traces/convoy.giltrace"
	for _, args := range [][]string{{"check", f}, {"record", f, "-o", t.TempDir()}} {
		_, err := runRoot(args...)
		if err == nil || !strings.Contains(err.Error(), f+": a recorded trace, not a workload file: giltrace validate "+f+" checks it") {
			t.Errorf("%s: err = %v", args[0], err)
		}
	}
}
