package cpython

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestSameFileWhenMapFilesGone: a process whose maps were read but whose
// map_files can no longer be (it exited or exec'd meanwhile) is judged by
// the file at the mapped path: the clean-clone CI once listed the
// program's own python3.11 child among the untraced ones, the stat of its
// map_files having failed.
func TestSameFileWhenMapFilesGone(t *testing.T) {
	dir := t.TempDir()
	probed, other := filepath.Join(dir, "python3.11"), filepath.Join(dir, "python3.12")
	for _, f := range []string{probed, other} {
		if err := os.WriteFile(f, []byte("ELF"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var st syscall.Stat_t
	if err := syscall.Stat(probed, &st); err != nil {
		t.Fatal(err)
	}
	u := &untracedWatch{probed: filepath.Join(dir, "python3"), dev: uint64(st.Dev), ino: uint64(st.Ino)}
	const gone = 1 << 30 // no such process
	if !u.sameFile(gone, "0-1000", probed) {
		t.Errorf("the probed file, its process gone: not the same file")
	}
	if u.sameFile(gone, "0-1000", other) {
		t.Errorf("another file, its process gone: the same file")
	}
	if u.sameFile(gone, "0-1000", filepath.Join(dir, "missing")) {
		t.Errorf("nothing to stat: the same file")
	}
}
