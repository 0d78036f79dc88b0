// Package golden compares test output with golden files in a package's
// testdata directory, and rewrites them when tests run with -update:
//
//	go test ./exporters/... -update
package golden

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata/ with the current output")

// Updating reports whether the tests run with -update.
func Updating() bool { return *update }

// Check compares got with the golden file path. With -update it writes got
// to path instead. A mismatch fails t with a unified diff (diff -u, from
// the golden file to got).
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test -update to create it): %v", err)
	}
	if bytes.Equal(want, got) {
		return
	}
	t.Errorf("output differs from %s (run go test -update to accept it):\n%s", path, Diff(t, path, got))
}

// Diff returns the unified diff from the file path to got.
func Diff(t testing.TB, path string, got []byte) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "got")
	if err := os.WriteFile(f, got, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("diff", "-u", "--label", path, "--label", "got", path, f).CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		return fmt.Sprintf("(running diff: %v)\n%s", err, out)
	}
	return string(out)
}
