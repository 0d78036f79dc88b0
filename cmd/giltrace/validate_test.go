package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

func TestValidateArgs(t *testing.T) {
	testArgs(t, validateCmd, []argsCase[validateOptions]{
		{[]string{"run.giltrace"}, &validateOptions{Files: []string{"run.giltrace"}}, false, ""},
		{nil, nil, true, ""},
		{[]string{"a", "b"}, &validateOptions{Files: []string{"a", "b"}}, false, ""},
	})
}

func writeTrace(t *testing.T, tr *tracer.Trace) (string, []byte) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run.giltrace")
	if err := tracer.WriteFile(path, tr); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return path, b
}

func runRoot(args ...string) (string, error) {
	cmd := newRootCmd()
	cmd.SetArgs(args)
	var out strings.Builder
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	err := cmd.Execute()
	return out.String(), err
}

func TestValidate(t *testing.T) {
	path, b := writeTrace(t, testkit.Mixed())
	out, err := runRoot("validate", path)
	want := path + `: valid: workload "mixed" (cpython): 2 processes, 4 threads, 53 events, 12.001ms, 0 dropped` + "\n"
	if err != nil || out != want {
		t.Fatalf("validate = %q, %v; want %q", out, err, want)
	}

	cut := filepath.Join(t.TempDir(), "cut.giltrace")
	os.WriteFile(cut, b[:len(b)-20], 0o644)
	out, err = runRoot("validate", cut)
	want = cut + `: complete part valid: workload "mixed" (cpython): 2 processes, 4 threads, 0 events, 0s, 0 dropped, truncated` + "\n"
	var te *tracer.TruncatedError
	if out != want || !errors.As(err, &te) || exitCode(err) != 1 {
		t.Fatalf("validate of a cut file = %q, %v; want %q and a truncation error", out, err, want)
	}

	bad := filepath.Join(t.TempDir(), "bad.giltrace")
	b[len(b)-30] ^= 0xff
	os.WriteFile(bad, b, 0o644)
	out, err = runRoot("validate", bad)
	if out != "" || err == nil || !strings.Contains(err.Error(), "checksum mismatch") || exitCode(err) != 1 {
		t.Fatalf("validate of a damaged file = %q, %v; want no output and a checksum error", out, err)
	}
}

// TestValidateDir: a run's directory stands for its trace, or a killed
// record's partial one, and the summary names the file read; a directory
// without either is refused, saying so.
func TestValidateDir(t *testing.T) {
	path, _ := writeTrace(t, testkit.Mixed())
	dir := filepath.Dir(path)
	out, err := runRoot("validate", dir)
	if want := path + ": valid: "; err != nil || !strings.HasPrefix(out, want) {
		t.Errorf("validate DIR = %q, %v; want %q...", out, err, want)
	}
	partial := filepath.Join(t.TempDir(), partialName)
	b, _ := os.ReadFile(path)
	os.WriteFile(partial, b, 0o644)
	if out, err := runRoot("validate", filepath.Dir(partial)); err != nil || !strings.HasPrefix(out, partial+": valid: ") {
		t.Errorf("validate DIR with a partial trace = %q, %v", out, err)
	}
	empty := t.TempDir()
	if _, err := runRoot("validate", empty); err == nil || !strings.Contains(err.Error(), "holds no run.giltrace nor run.giltrace.partial") {
		t.Errorf("validate of an empty directory: %v", err)
	}
}

// TestValidateSeveral validates two good files and a damaged one: both
// summaries printed, the damaged file named in the error.
func TestValidateSeveral(t *testing.T) {
	good, b := writeTrace(t, testkit.Mixed())
	other, _ := writeTrace(t, testkit.Countdown(2))
	bad := filepath.Join(t.TempDir(), "bad.giltrace")
	b[len(b)-30] ^= 0xff
	os.WriteFile(bad, b, 0o644)
	out, err := runRoot("validate", good, bad, other)
	if !strings.Contains(out, good+": valid") || !strings.Contains(out, other+": valid") {
		t.Errorf("output %q lacks a summary of each good file", out)
	}
	if err == nil || !strings.Contains(err.Error(), bad+": ") || exitCode(err) != 1 {
		t.Errorf("err = %v, want the damaged file named", err)
	}
	if out, err := runRoot("validate", good, other); err != nil || strings.Count(out, "\n") != 2 {
		t.Errorf("two good files: %q, %v", out, err)
	}
}

// TestPrintError: each error of a joined list gets its own prefixed line
// (QA: validate a b printed the second file's error without "giltrace: ").
func TestPrintError(t *testing.T) {
	var b strings.Builder
	printError(&b, errors.Join(errors.New("a: bad"), errors.Join(errors.New("b: worse"), errors.New("c: worst"))))
	if want := "giltrace: a: bad\ngiltrace: b: worse\ngiltrace: c: worst\n"; b.String() != want {
		t.Errorf("printed %q, want %q", b.String(), want)
	}
	// An error listing its parts its own way is printed whole (QA: a
	// workload's "(and N more errors)" was dropped).
	b.Reset()
	printError(&b, trailed{[]error{errors.New("x"), errors.New("y")}})
	if want := "giltrace: x\ny\n(and 2 more errors)\n"; b.String() != want {
		t.Errorf("printed %q, want %q", b.String(), want)
	}
}

type trailed struct{ errs []error }

func (e trailed) Error() string   { return errors.Join(e.errs...).Error() + "\n(and 2 more errors)" }
func (e trailed) Unwrap() []error { return e.errs }
