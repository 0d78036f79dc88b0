package cpython

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

func TestStatAsleep(t *testing.T) {
	for _, c := range []struct {
		line          string
		asleep, known bool
	}{
		{"123 (python3) S 1 123", true, true},
		{"123 (python3) D 1 123", true, true},
		{"123 (python3) R 1 123", false, true},
		{"123 (a) R (b) S 1 2", true, true}, // the state follows the last ')'
		{"123 (python3) Z 1 123", false, false},
		{"123 (python3) T 1 123", false, false},
		{"123 (python3)", false, false},
		{"garbage", false, false},
		{"", false, false},
	} {
		asleep, ok := statAsleep([]byte(c.line))
		if asleep != c.asleep || ok != c.known {
			t.Errorf("statAsleep(%q) = %v, %v; want %v, %v", c.line, asleep, ok, c.asleep, c.known)
		}
	}
}

// TestTaskStatesRead reads this process's threads: each reading is an
// evTaskState event of a thread of this process, in turn, at most
// stateReads a time.
func TestTaskStatesRead(t *testing.T) {
	ts := newTaskStates()
	defer ts.close()
	pid := os.Getpid()
	seen := map[int]bool{}
	for range 20 {
		evs := ts.read([]int{pid, 1 << 30}, monoNow(), nil) // the second: no such process
		if len(evs) > stateReads {
			t.Fatalf("%d readings at once, want at most %d", len(evs), stateReads)
		}
		for _, e := range evs {
			if e.event != evTaskState || e.tgid != pid || e.tid <= 0 {
				t.Fatalf("reading %+v", e)
			}
			seen[e.tid] = true
		}
	}
	if !seen[pid] {
		t.Errorf("the main thread (%d) never read: %v", pid, seen)
	}
	if len(ts.files) == 0 || len(ts.files) > len(ts.tasks) {
		t.Errorf("%d files open for %d threads", len(ts.files), len(ts.tasks))
	}
}

// TestTaskStatesNewThread: a thread started since the last listing is
// read at the next round, when its process's number of threads changed,
// ahead of the others' turn; it was read only once listed, every 10 ms,
// then in turn (QA: a thread's first calls were not read).
func TestTaskStatesNewThread(t *testing.T) {
	// 12 threads asleep, and one more when told.
	pid, startThread := sleepingThreads(t, 12)
	ts := newTaskStates()
	defer ts.close()
	mono := monoNow()
	read := func(at time.Duration) map[int]bool {
		got := map[int]bool{}
		for _, e := range ts.read([]int{pid}, mono+int64(at), nil) {
			got[e.tid] = true
		}
		return got
	}
	read(0)
	read(2 * time.Millisecond) // 13 threads: the next round reads the other 5, and 3 again
	before := map[int]bool{}
	for _, tp := range ts.tasks {
		before[tp[0]] = true
	}
	startThread()
	got := read(4 * time.Millisecond) // before the next listing's time
	var added []int
	for _, tp := range ts.tasks {
		if !before[tp[0]] {
			added = append(added, tp[0])
		}
	}
	if len(added) != 1 || !got[added[0]] {
		t.Errorf("threads new since the listing: %v; read at the next round: %v", added, got)
	}
}

// TestSessionHits: the hits of a session's probes in uprobe_profile are
// those on its group's lines of uprobe_events, matched by position; lists
// that do not match (a probe added between the reads) give nothing.
func TestSessionHits(t *testing.T) {
	defs := "p:giltrace_1/take_gil /lib/libpython3.12.so:0x10 ts=%di:x64\n" +
		"r:giltrace_1/take_gil_ret /lib/libpython3.12.so:0x10\n" +
		"p:giltrace_2/take_gil /lib/libpython3.12.so:0x10 ts=%di:x64\n" +
		"p:giltrace_1/lock_acquire /lib/libpython3.12.so:0x20 lock=%di:x64 us=%si:s64\n"
	prof := "  /lib/libpython3.12.so take_gil   5\n" +
		"  /lib/libpython3.12.so take_gil_ret   5\n" +
		"  /lib/libpython3.12.so take_gil   700\n" +
		"  /lib/libpython3.12.so lock_acquire   500000\n"
	if n, ok := sessionHits("giltrace_1", defs, prof); !ok || n != 500010 {
		t.Errorf("giltrace_1: %d, %v; want 500010", n, ok)
	}
	if n, ok := sessionHits("giltrace_3", defs, prof); ok {
		t.Errorf("a group with no probe: %d, %v", n, ok)
	}
	short := prof[:strings.LastIndex(strings.TrimSpace(prof), "\n")+1]
	if n, ok := sessionHits("giltrace_1", defs, short); ok {
		t.Errorf("lists of different lengths: %d, %v", n, ok)
	}
	swapped := strings.Replace(prof, "take_gil_ret", "drop_gil", 1)
	if n, ok := sessionHits("giltrace_1", defs, swapped); ok {
		t.Errorf("lists that do not match: %d, %v", n, ok)
	}
}

// TestSharedProbes: another group's probe at one of a group's file and
// offset pairs makes its hits shared (review: the kernel counts a hit in
// both); other offsets or files, and the group's own, do not.
func TestSharedProbes(t *testing.T) {
	mine := "p:giltrace_1/take_gil /lib/libpython3.12.so:0x10 ts=%di:x64\nr:giltrace_1/take_gil_ret /lib/libpython3.12.so:0x10\n"
	for _, c := range []struct {
		other  string
		shared bool
	}{
		{"", false},
		{"p:giltrace_2/take_gil /lib/libpython3.12.so:0x10 ts=%di:x64\n", true},
		{"r:giltrace_2/take_gil_ret /lib/libpython3.12.so:0x10\n", true},
		{"p:giltrace_2/take_gil /lib/libpython3.11.so:0x10 ts=%di:x64\n", false},
		{"p:giltrace_2/drop_gil /lib/libpython3.12.so:0x20\n", false},
	} {
		if got := sharedProbes("giltrace_1", mine+c.other); got != c.shared {
			t.Errorf("with %q: shared %v, want %v", c.other, got, c.shared)
		}
	}
}

// TestTaskStatesNewThreadReadOnce: a new thread of a process of few
// threads, read as soon as the listing finds it, is not read again in the
// same round's rotation (review: two readings microseconds apart, both
// running, counted as evidence of work).
func TestTaskStatesNewThreadReadOnce(t *testing.T) {
	pid, startThread := sleepingThreads(t, 0)
	ts := newTaskStates()
	defer ts.close()
	mono := monoNow()
	ts.read([]int{pid}, mono, nil)
	startThread()
	reads := map[int]int{}
	for _, e := range ts.read([]int{pid}, mono+int64(2*time.Millisecond), nil) {
		reads[e.tid]++
	}
	if len(reads) != 2 {
		t.Fatalf("threads read %v: want the main thread and the new one", reads)
	}
	for tid, n := range reads {
		if n != 1 {
			t.Errorf("thread %d read %d times in one round, want once", tid, n)
		}
	}
}

// sleepingThreads starts a python3 with n threads asleep beside its main
// thread (skipping the test without python3), and returns its pid and a
// function that makes it start one more and returns once it has. The
// process is killed when the test ends.
func sleepingThreads(t *testing.T, n int) (pid int, startThread func()) {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	cmd := exec.Command(py, "-c", "import sys, threading, time\n"+
		fmt.Sprintf("for _ in range(%d): threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n", n)+
		"print('ready', flush=True); sys.stdin.readline()\n"+
		"threading.Thread(target=time.sleep, args=(30,), daemon=True).start()\n"+
		"print('started', flush=True); sys.stdin.readline()\n")
	in, _ := cmd.StdinPipe()
	outPipe, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close(); cmd.Process.Kill(); cmd.Wait() })
	out := bufio.NewReader(outPipe)
	if l, err := out.ReadString('\n'); err != nil || l != "ready\n" {
		t.Fatalf("python: %q, %v", l, err)
	}
	return cmd.Process.Pid, func() {
		t.Helper()
		fmt.Fprintln(in)
		if l, err := out.ReadString('\n'); err != nil || l != "started\n" {
			t.Fatalf("python: %q, %v", l, err)
		}
	}
}
