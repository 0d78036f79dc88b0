// Package golden compares test output with golden files in a package's
// testdata directory, and rewrites them when tests run with -update:
//
//	go test ./exporters/... -update
//
// A golden file whose name ends in .gz is kept gzipped (for large recorded
// runs) and compared decompressed.
package golden

import (
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
		Write(t, path, got)
		return
	}
	want := Read(t, path)
	if bytes.Equal(want, got) {
		return
	}
	t.Errorf("output differs from %s (run go test -update to accept it):\n%s", path, Diff(t, path, want, got))
}

// Write writes data to the golden file path (gzipped for a .gz path, with
// no name and no time in the header, so that the same data gives the same
// bytes), creating its directory.
func Write(t testing.TB, path string, data []byte) {
	t.Helper()
	if strings.HasSuffix(path, ".gz") {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(data)
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		data = buf.Bytes()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// Read returns the content of the golden file path, decompressed if its
// name ends in .gz.
func Read(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test -update to create it): %v", err)
	}
	if !strings.HasSuffix(path, ".gz") {
		return data
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("golden file %s: %v", path, err)
	}
	data, err = io.ReadAll(zr)
	if err != nil {
		t.Fatalf("golden file %s: %v", path, err)
	}
	return data
}

// Diff returns the unified diff from want, the content of the golden file
// path, to got.
func Diff(t testing.TB, path string, want, got []byte) string {
	t.Helper()
	dir := t.TempDir()
	w, g := filepath.Join(dir, "want"), filepath.Join(dir, "got")
	if err := os.WriteFile(w, want, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(g, got, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("diff", "-u", "--label", path, "--label", "got", w, g).CombinedOutput()
	var exit *exec.ExitError
	if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
		return fmt.Sprintf("(running diff: %v)\n%s", err, out)
	}
	return string(out)
}
