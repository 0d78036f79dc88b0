package cpython

import (
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

func TestParseSyscall(t *testing.T) {
	for _, tc := range []struct {
		line   string
		nr     int64
		a0, a1 uint64
		ok     bool
	}{
		{"0 0x5 0x7f6b74000b70 0x1 0x0 0x0 0x0 0x7ffc61759ed0 0x7f6b7c6a3f16\n", 0, 5, 0x7f6b74000b70, true},
		{"7 0x7ffd1000 0x1 0x1388 0x0 0x0 0x0 0x7ffc 0x7f6b\n", 7, 0x7ffd1000, 1, true},
		{"running\n", 0, 0, 0, false},
		{"-1 0x7ffc61759ed0 0x7f6b7c6a3f16\n", 0, 0, 0, false},
		{"", 0, 0, 0, false},
		{"12 zz 0x1", 0, 0, 0, false},
	} {
		nr, a0, a1, ok := parseSyscall([]byte(tc.line))
		if ok != tc.ok || ok && (nr != tc.nr || a0 != tc.a0 || a1 != tc.a1) {
			t.Errorf("parseSyscall(%q) = %d, %#x, %#x, %v; want %d, %#x, %#x, %v", tc.line, nr, a0, a1, ok, tc.nr, tc.a0, tc.a1, tc.ok)
		}
	}
}

// TestListOwn: this process's own pipe (both ends here) and loopback TCP
// connection (both sockets here) lead back to it; a pipe whose other end
// is closed here, a listening socket and a connection to another process's
// server (none here: a socket whose peer is not in the process) do not.
func TestListOwn(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	r1, w1, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close()
	w1.Close() // r1's other end is gone: not the process's
	// Two write ends of a pipe another process reads (stdout and stderr
	// on one pipe: a shell's 2>&1): not the process's own.
	r2, w2, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	d2, err := syscall.Dup(int(w2.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(d2)
	r2.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fdOf := func(x interface {
		File() (*os.File, error)
	}) int {
		f, err := x.File() // a dup: the same socket
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return int(f.Fd())
	}
	cfd, sfd := fdOf(c.(*net.TCPConn)), fdOf(s.(*net.TCPConn))
	lfd := fdOf(ln.(*net.TCPListener))
	own, _, listen, _ := listOwn("/proc/self")
	for _, tc := range []struct {
		what string
		fd   int
		want bool
	}{
		{"a pipe's read end, its write end here", int(r.Fd()), true},
		{"its write end", int(w.Fd()), true},
		{"a pipe's read end, its write end closed", int(r1.Fd()), false},
		{"a pipe's write end beside another write end of it", int(w2.Fd()), false},
		{"that other write end", d2, false},
		{"a loopback connection's client, its server here", cfd, true},
		{"its server side", sfd, true},
		{"a listening socket", lfd, false},
	} {
		if own[tc.fd] != tc.want {
			t.Errorf("%s (fd %d): own %v, want %v", tc.what, tc.fd, own[tc.fd], tc.want)
		}
		if l := tc.fd == lfd; listen[tc.fd] != l {
			t.Errorf("%s (fd %d): listening %v, want %v", tc.what, tc.fd, listen[tc.fd], l)
		}
	}
	o := newOwnFDs()
	pid := os.Getpid()
	if !ownOf(o, pid, int(r.Fd()), 1, nil) || ownOf(o, pid, lfd, 2, nil) {
		t.Errorf("ownFDs: pipe %v, listening socket %v; want true, false", ownOf(o, pid, int(r.Fd()), 3, nil), ownOf(o, pid, lfd, 3, nil))
	}
	// A descriptor the table does not know lists the process again, but
	// not within ownFDsEvery/20 (nor ownFDsShare times a listing's cost)
	// of the last listing.
	const unknown = 1 << 20
	if ownOf(o, pid, unknown, 2e6, nil) || o.procs[pid].at != 1 {
		t.Errorf("listed again 2 ms after a listing: at %d", o.procs[pid].at)
	}
	// An answer that the descriptor leads back to the process is trusted
	// for ownTrueEvery only (a pipe Popen held both ends of for a moment).
	o.procs[pid].cost = 0 // a listing that took no time
	if !ownOf(o, pid, int(r.Fd()), 25e6, nil) || o.procs[pid].at != 25e6 {
		t.Errorf("an own answer trusted 25 ms after its listing: at %d", o.procs[pid].at)
	}
	o.procs[pid].at = 1
	o.procs[pid].cost = int64(4e6) // a listing that took 4 ms: 80 ms before the next
	if ownOf(o, pid, unknown, 50e6, nil) || o.procs[pid].at != 1 {
		t.Errorf("listed again 50 ms after a listing that took 4 ms: at %d", o.procs[pid].at)
	}
	if ownOf(o, pid, unknown, 90e6, nil) || o.procs[pid].at != 90e6 {
		t.Errorf("not listed again 90 ms after a listing that took 4 ms: at %d", o.procs[pid].at)
	}
	// A process of 4000 descriptors (a listing's cost estimated, not
	// timed): listed again no sooner than 20 times its cost, 401 ms; a
	// descriptor the table knows keeps its answer meanwhile.
	o.procs[pid].at, o.procs[pid].cost = 1, listCost(4000)
	if ownOf(o, pid, unknown, 300e6, nil) || o.procs[pid].at != 1 {
		t.Errorf("listed again 300 ms after a listing of 4000 descriptors: at %d", o.procs[pid].at)
	}
	if !ownOf(o, pid, int(r.Fd()), 300e6, nil) || o.procs[pid].at != 1 {
		t.Errorf("a known own descriptor, 300 ms after a listing of 4000 descriptors: not kept (at %d)", o.procs[pid].at)
	}
	if ownOf(o, pid, unknown, 450e6, nil) || o.procs[pid].at != 450e6 {
		t.Errorf("not listed again 450 ms after a listing of 4000 descriptors: at %d", o.procs[pid].at)
	}
}

// TestOwnHeldElsewhere: a pipe whose two ends this process holds is not
// its own when another traced process holds it too (multiprocessing's
// queues: the parent and each child keep both ends, and a child writes
// what the parent reads; review and QA: a parent in Queue.get was "the
// program waits on itself"); nor a loopback connection, of an IPv4
// client to a dual-stack server, unmatched before (review).
func TestOwnHeldElsewhere(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	pid := os.Getpid()
	if !ownOf(newOwnFDs(), pid, int(r.Fd()), 1, []int{pid}) {
		t.Errorf("a pipe whose ends this process alone holds is not its own")
	}
	child := exec.Command("sleep", "10")
	child.ExtraFiles = []*os.File{r, w}
	if err := child.Start(); err != nil {
		t.Skipf("starting a child: %v", err)
	}
	defer func() { child.Process.Kill(); child.Wait() }()
	// A child, traced or not (the recorder learns of a child late),
	// holding it: not this process's own.
	for _, others := range [][]int{{pid, child.Process.Pid}, {pid}} {
		if ownOf(newOwnFDs(), pid, int(r.Fd()), 1, others) {
			t.Errorf("a pipe that a child holds too is this process's own (traced %v)", others)
		}
	}
	if got := unmapped("0000000000000000FFFF00000100007F:1F90"); got != "0100007F:1F90" {
		t.Errorf("unmapped IPv4-mapped address: %s", got)
	}
	if got := unmapped("00000000000000000000000001000000:1F90"); got != "00000000000000000000000001000000:1F90" {
		t.Errorf("unmapped ::1: %s", got)
	}
}

// ownOf is isOwn's first answer.
func ownOf(o *ownFDs, pid, fd int, mono int64, others []int) bool {
	own, _ := o.isOwn(pid, fd, mono, others)
	return own
}

// TestOwnFDReused: a descriptor closed and its number reused is listed
// anew, not answered from the table (review: a connection per request,
// every one on the same number, kept the first's "not own"); and a unix
// socket accepting connections is listening (a UnixStreamServer polls
// one).
func TestOwnFDReused(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	defer r.Close()
	pid, fd := os.Getpid(), int(r.Fd())
	o := newOwnFDs()
	if !ownOf(o, pid, fd, 1, nil) {
		t.Fatal("a pipe whose two ends this process holds is not its own")
	}
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if err := syscall.Dup2(int(null.Fd()), fd); err != nil {
		t.Fatal(err)
	}
	o.procs[pid].cost = 0
	if ownOf(o, pid, fd, 15e6, nil) { // within ownTrueEvery of the listing
		t.Errorf("descriptor %d, now /dev/null, answered from the table as the pipe it was", fd)
	}

	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	f, err := ln.(*net.UnixListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, _, listen, _ := listOwn("/proc/self"); !listen[int(f.Fd())] {
		t.Errorf("a unix socket accepting connections is not listening")
	}
}

// TestUnixPeersAndEpoll: the kernel's socket diagnostics give a socket
// pair's two ends as each other's peers (unixPeers), listOwn then finds
// both ends of this process's pair its own, and an epoll instance's
// watched descriptors are read from /proc (epollWatched): asyncio's event
// loop waiting on its self-pipe.
func TestUnixPeersAndEpoll(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fds[0])
	defer syscall.Close(fds[1])
	ino := func(fd int) string {
		l, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", fd))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")
	}
	a, b := ino(fds[0]), ino(fds[1])
	peers, seen := unixPeers(map[string][]int{a: {fds[0]}, b: {fds[1]}})
	if seen < 2 {
		t.Errorf("the dump listed %d sockets, want the pair at least", seen)
	}
	if peers[a] != b || peers[b] != a {
		t.Fatalf("unix peers %v, want %s <-> %s", peers, a, b)
	}
	own, _, _, _ := listOwn(fmt.Sprintf("/proc/%d", os.Getpid()))
	if !own[fds[0]] || !own[fds[1]] {
		t.Errorf("own descriptors %v: want both ends of the pair, %d and %d", own, fds[0], fds[1])
	}
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(ep)
	if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, fds[0], &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(fds[0])}); err != nil {
		t.Fatal(err)
	}
	if got := epollWatched(fmt.Sprintf("/proc/%d", os.Getpid()), ep); len(got) != 1 || got[0] != fds[0] {
		t.Errorf("epoll %d watches %v, want [%d]", ep, got, fds[0])
	}
	if got := epollWatched(fmt.Sprintf("/proc/%d", os.Getpid()), fds[0]); got != nil {
		t.Errorf("a socket read as an epoll instance: %v", got)
	}
}

// TestParseUnixDiag: a unix_diag_msg with its peer attribute, and cut or
// odd messages that must not panic.
func TestParseUnixDiag(t *testing.T) {
	msg := make([]byte, unixDiagMsgLen+8+8)
	binary.LittleEndian.PutUint32(msg[4:], 77)
	binary.LittleEndian.PutUint16(msg[16:], 8) // UNIX_DIAG_NAME-like attribute first
	binary.LittleEndian.PutUint16(msg[18:], 0)
	binary.LittleEndian.PutUint16(msg[24:], 8)
	binary.LittleEndian.PutUint16(msg[26:], unixDiagPeer)
	binary.LittleEndian.PutUint32(msg[28:], 78)
	if ino, peer, ok := parseUnixDiag(msg); !ok || ino != 77 || peer != 78 {
		t.Errorf("parsed %d, %d, %v; want 77, 78", ino, peer, ok)
	}
	for n := range len(msg) {
		parseUnixDiag(msg[:n])
	}
	bad := slices.Clone(msg)
	binary.LittleEndian.PutUint16(bad[16:], 0xffff) // a length past the end
	parseUnixDiag(bad)
	binary.LittleEndian.PutUint16(bad[16:], 1) // shorter than its header
	parseUnixDiag(bad)
}

// TestOwnPairHeldElsewhere: a unix socket pair of which a child holds one
// end (a spawned multiprocessing child given one end of a Pipe() that the
// parent also kept) is not the parent's own, at either end: its other end
// is another process's.
func TestOwnPairHeldElsewhere(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b := os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b")
	defer a.Close()
	defer b.Close()
	pid := os.Getpid()
	if !ownOf(newOwnFDs(), pid, int(a.Fd()), 1, []int{pid}) {
		t.Fatal("a socket pair whose ends this process alone holds is not its own")
	}
	child := exec.Command("sleep", "10")
	child.ExtraFiles = []*os.File{b}
	if err := child.Start(); err != nil {
		t.Skipf("starting a child: %v", err)
	}
	defer func() { child.Process.Kill(); child.Wait() }()
	for _, fd := range []*os.File{a, b} {
		if ownOf(newOwnFDs(), pid, int(fd.Fd()), 1, []int{pid, child.Process.Pid}) {
			t.Errorf("end %s of a pair whose other end a child holds is this process's own", fd.Name())
		}
	}
}

// TestListAccepted: a connection this process accepted from another
// process's client is listed with the listening sockets (asleep on it, a
// handler waits for its client: I/O "listen"), on a socket listening on
// one address and on every address; this process's own connection to
// that server, and the client's side, are not (QA: an attached server's
// handlers, waiting in recv for their clients' next requests, were told
// to shorten their "own work").
func TestListAccepted(t *testing.T) {
	if _, err := os.Stat("/proc/self/net/tcp"); err != nil {
		t.Skipf("no /proc/self/net/tcp: %v", err)
	}
	for _, addr := range []string{"127.0.0.1:0", "0.0.0.0:0"} {
		ln, err := net.Listen("tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		// The client, another process: bash's /dev/tcp.
		client := exec.Command("bash", "-c", fmt.Sprintf("exec 3<>/dev/tcp/127.0.0.1/%d; sleep 10", port))
		if err := client.Start(); err != nil {
			ln.Close()
			t.Skipf("no bash for a client: %v", err)
		}
		s, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		// This process's own connection to the same server.
		c, err := net.Dial("tcp4", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatal(err)
		}
		s2, err := ln.Accept()
		if err != nil {
			t.Fatal(err)
		}
		fdOf := func(x *net.TCPConn) int {
			f, err := x.File()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			return int(f.Fd())
		}
		sfd, cfd, s2fd := fdOf(s.(*net.TCPConn)), fdOf(c.(*net.TCPConn)), fdOf(s2.(*net.TCPConn))
		own, _, listen, _ := listOwn("/proc/self")
		if !listen[sfd] || own[sfd] {
			t.Errorf("%s: a connection accepted from another process: listening %v, own %v; want true, false", addr, listen[sfd], own[sfd])
		}
		if listen[cfd] || listen[s2fd] || !own[cfd] || !own[s2fd] {
			t.Errorf("%s: its own connection to itself: client listening %v own %v, server side listening %v own %v; want false, true", addr, listen[cfd], own[cfd], listen[s2fd], own[s2fd])
		}
		_ = client.Process.Kill()
		_ = client.Wait()
		s.Close()
		s2.Close()
		c.Close()
		ln.Close()
	}
}
