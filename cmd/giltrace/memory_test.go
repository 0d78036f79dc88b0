package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/tracer"
)

// fakeMemory makes memAvailable say avail bytes for the test.
func fakeMemory(t *testing.T, avail int64) {
	old := memAvailable
	memAvailable = func() (int64, string) { return avail, "a test's figure" }
	t.Cleanup(func() { memAvailable = old })
}

// TestFitEvents: the recorder's bound is lowered to what the memory
// holds, never below minFitEvents, and left as it is when it fits or the
// memory is unknown.
func TestFitEvents(t *testing.T) {
	const bound = 32 << 20
	for _, c := range []struct {
		avail int64
		want  int
		note  bool
	}{
		{0, bound, false},
		{64 << 30, bound, false},
		{200 << 20, (200<<20 - memoryReserve) / bytesPerEvent, true},
		{10 << 20, minFitEvents, true},
	} {
		fakeMemory(t, c.avail)
		got, note := fitEvents(bound)
		if got != c.want || (note != "") != c.note {
			t.Errorf("%d MB available: %d events, note %q; want %d, a note %v", c.avail>>20, got, note, c.want, c.note)
		}
	}
}

// TestReadMemAvailable: this machine's figure is read, with where it
// comes from.
func TestReadMemAvailable(t *testing.T) {
	if _, err := os.Stat("/proc/meminfo"); err != nil {
		t.Skip("no /proc/meminfo")
	}
	avail, from := readMemAvailable() // not memAvailable: TestMain set it
	if avail <= 0 || from == "" {
		t.Errorf("readMemAvailable = %d, %q", avail, from)
	}
}

// TestRecordFitsMemory: a run on a machine with little memory left is cut
// at the bound that memory holds, says so first, and warns at the end,
// instead of being killed (QA: 2.3 GB at the default bound).
func TestRecordFitsMemory(t *testing.T) {
	fakeMemory(t, 200<<20)
	w := filepath.Join(t.TempDir(), "big.yaml")
	os.WriteFile(w, []byte(`name: big
clock: virtual
threads: [{name: w, count: 4, run: work, repeat: 200000}]
functions:
  work: [{io: {duration: 1us, kind: network}}, {compute: {loops: 200}}]
`), 0o644)
	var stdout, stderr bytes.Buffer
	dir := filepath.Join(t.TempDir(), "out")
	if err := record(context.Background(), &recordOptions{Workload: w, Out: dir, Formats: "none"}, &stdout, &stderr); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	want := (200<<20 - memoryReserve) / bytesPerEvent
	if !strings.Contains(stderr.String(), "200 MB of memory available here (a test's figure): the recorder keeps at most ") ||
		!strings.Contains(stderr.String(), "reached the recorder's bound") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
	tr, err := tracer.ReadFile(filepath.Join(dir, traceName))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(tr.Events); n > want+1 {
		t.Errorf("%d events, past the bound of %d", n, want)
	}
}

// TestMemAvailableCgroup: a cgroup v2 limit counts, less the cgroup's use
// without its inactive page cache (review: a long-lived container near its
// limit in page cache fell to the floor), and the least of the machine's
// and the cgroups' figures wins.
func TestMemAvailableCgroup(t *testing.T) {
	root := t.TempDir()
	write := func(rel, text string) {
		p := filepath.Join(root, rel)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("meminfo", "MemTotal: 16000000 kB\nMemAvailable: 8000000 kB\n")
	write("cgroup", "0::/a/b\n")
	write("fs/a/b/memory.max", "1073741824\n")
	write("fs/a/b/memory.current", "1000000000\n")
	write("fs/a/b/memory.stat", "anon 400000000\ninactive_file 500000000\nactive_file 100000000\n")
	write("fs/a/memory.max", "max\n")
	write("fs/a/memory.current", "2000000000\n")
	avail, from := memAvailableUnder(filepath.Join(root, "meminfo"), filepath.Join(root, "cgroup"), filepath.Join(root, "fs"))
	if want := int64(1073741824 - (1000000000 - 500000000)); avail != want || from != "the memory limit of cgroup /a/b" {
		t.Errorf("avail %d from %q, want %d from cgroup /a/b", avail, from, want)
	}
	write("fs/a/b/memory.max", "max\n")
	if avail, from := memAvailableUnder(filepath.Join(root, "meminfo"), filepath.Join(root, "cgroup"), filepath.Join(root, "fs")); avail != 8000000<<10 || from != "MemAvailable" {
		t.Errorf("no limit: avail %d from %q, want MemAvailable's", avail, from)
	}
}
