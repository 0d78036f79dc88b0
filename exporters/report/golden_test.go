package report

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// checkGolden compares got with testdata/name, or rewrites it with -update.
// A mismatch prints a unified diff (diff -u, as pprof's proftest.Diff).
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test -update to create it): %v", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	t.Errorf("%s differs from the golden file (go test -update rewrites it):\n%s", name, unifiedDiff(t, path, got))
}

func unifiedDiff(t *testing.T, wantPath string, got []byte) string {
	f, err := os.CreateTemp(t.TempDir(), "got")
	if err != nil {
		return "got:\n" + string(got)
	}
	f.Write(got)
	f.Close()
	out, err := exec.Command("diff", "-u", wantPath, f.Name()).CombinedOutput()
	if len(out) == 0 && err != nil {
		return "got:\n" + string(got)
	}
	return string(out)
}
