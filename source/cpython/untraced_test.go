package cpython

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// TestSameFileWhenMapFilesGone: a process whose maps were read but whose
// map_files can no longer be stat'd (it exited or exec'd meanwhile) is
// judged by the device and inode of its maps line, not by a file named
// like it: the clean-clone CI once listed the program's own python3.11
// child among the untraced ones, the stat of its map_files having failed.
// A readable map_files entry decides (the process itself here: a non-PIE
// test binary, whose maps line pads its range with zeros and whose
// map_files name does not).
func TestSameFileWhenMapFilesGone(t *testing.T) {
	dir := t.TempDir()
	probed, other := filepath.Join(dir, "python3.11"), filepath.Join(dir, "python3.12")
	for _, f := range []string{probed, other} {
		if err := os.WriteFile(f, []byte("ELF"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	line := func(path string) []string { // a maps line of path, split
		var st syscall.Stat_t
		if err := syscall.Stat(path, &st); err != nil {
			t.Fatal(err)
		}
		return []string{"0-1000", "r-xp", "00000000", fmt.Sprintf("%02x:%02x", unix.Major(uint64(st.Dev)), unix.Minor(uint64(st.Dev))), fmt.Sprint(st.Ino), path}
	}
	var st syscall.Stat_t
	if err := syscall.Stat(probed, &st); err != nil {
		t.Fatal(err)
	}
	u := &untracedWatch{probed: filepath.Join(dir, "python3"), dev: uint64(st.Dev), ino: uint64(st.Ino)}
	const gone = 1 << 30 // no such process
	if !u.sameFile(gone, line(probed)) {
		t.Errorf("the probed file, its process gone: not the same file")
	}
	if u.sameFile(gone, line(other)) {
		t.Errorf("another file, its process gone: the same file")
	}
	// Named like the probed file, another inode: not the same.
	l := line(probed)
	l[4] = fmt.Sprint(st.Ino + 1)
	if u.sameFile(gone, l) {
		t.Errorf("another inode under the probed file's name: the same file")
	}
	// A live mapping's map_files decides: this test binary's own text,
	// which is not the probed file whatever its maps line says.
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Skip(err)
	}
	exe, _ := os.Executable()
	for _, ln := range strings.Split(string(maps), "\n") {
		f := strings.Fields(ln)
		if len(f) >= 6 && f[5] == exe {
			f[3], f[4] = l[3], fmt.Sprint(st.Ino) // the probed file's, in the line
			if u.sameFile(os.Getpid(), f) {
				t.Errorf("a readable map_files entry of another file: the same file")
			}
			return
		}
	}
}

// TestOtherInterpreterSettled: a process that maps only the executable of
// a shared build (its loader has not mapped libpython yet: it has just
// exec'd) is not judged yet; once its libpython is mapped, the probed one
// makes it traced, another one untraced (QA: the program's own python3.11
// child, read that early, was named untraced on a busy machine).
func TestOtherInterpreterSettled(t *testing.T) {
	in311 := pyenvInterp(t, "3.11.7")
	in312 := pyenvInterp(t, "3.12.1")
	exe311, _ := filepath.EvalSymlinks(pyenv("3.11.7"))
	exe312, _ := filepath.EvalSymlinks(pyenv("3.12.1"))
	u := &untracedWatch{probed: in311.Path, shared: map[string]bool{}}
	line := func(path string) string { return "7f0000000000-7f0000001000 r-xp 00000000 00:00 0 " + path + "\n" }
	const gone = 1 << 30 // no such process: judged by the lines
	for _, tc := range []struct {
		name    string
		maps    string
		other   string
		settled bool
	}{
		{"the probed build's executable alone", line(exe311), exe311, false},
		{"then its library", line(exe311) + line(in311.Path), "", true},
		{"another build's executable alone", line(exe312), exe312, false},
		{"then its library", line(exe312) + line(in312.Path), exe312, true},
		{"no interpreter", line("/usr/bin/sleep"), "", true},
	} {
		other, settled := u.otherInterpreter(gone, tc.maps)
		if other != tc.other || settled != tc.settled {
			t.Errorf("%s: (%q, %v), want (%q, %v)", tc.name, other, settled, tc.other, tc.settled)
		}
	}
}
