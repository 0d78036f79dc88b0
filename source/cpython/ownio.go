package cpython

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Own I/O: a thread asleep in a blocking read or write may wait for
// another thread of its own process, at the other end of a pipe whose
// read and write ends the process holds, or of a loopback TCP connection whose
// two sockets it holds (an in-process server, a message passed back and
// forth). The trace sees such a wait as I/O, which the speedup arithmetic
// counts as work that overlaps (QA: two threads passing a message over
// os.pipe, 0.86x measured against one thread, were reported to overlap
// 1.84x, "scales"). The recorder tells them apart where it can: when a
// reading finds a thread asleep (taskStates), it reads the system call
// the thread is in (/proc/PID/task/TID/syscall: its number and
// arguments) and, for a read, write, recv or send on a descriptor (or a
// poll of one descriptor, as a socket with a timeout does), whether that
// descriptor's other end is the process's own (ownFDs). Not seen: unix
// socket pairs (their peer is not in /proc), select and epoll waits (a
// set of descriptors), a pipe whose other end is another process's.

// fdSyscalls are the system calls (this architecture's numbers) whose
// first argument is the one descriptor a thread blocked in them waits on;
// pollSyscalls those whose first argument points to struct pollfd
// entries, their count the second; acceptSyscalls those that wait for a
// connection on a listening socket.
var fdSyscalls, pollSyscalls, acceptSyscalls = syscallsOf(runtime.GOARCH)

// epollSyscalls are the waits of an epoll instance, its descriptor their
// first argument: asyncio's event loop (ownWait reads what it watches).
var epollSyscalls = epollOf(runtime.GOARCH)

func syscallsOf(arch string) (fd, poll, accept map[int64]bool) {
	switch arch {
	case "amd64":
		// read, write, readv, writev, sendto, recvfrom, sendmsg, recvmsg
		return map[int64]bool{0: true, 1: true, 19: true, 20: true, 44: true, 45: true, 46: true, 47: true},
			map[int64]bool{7: true, 271: true}, // poll, ppoll
			map[int64]bool{43: true, 288: true} // accept, accept4
	case "arm64":
		return map[int64]bool{63: true, 64: true, 65: true, 66: true, 206: true, 207: true, 211: true, 212: true},
			map[int64]bool{73: true}, // ppoll
			map[int64]bool{202: true, 242: true}
	}
	return nil, nil, nil
}

func epollOf(arch string) map[int64]bool {
	switch arch {
	case "amd64":
		return map[int64]bool{232: true, 281: true, 441: true} // epoll_wait, epoll_pwait, epoll_pwait2
	case "arm64":
		return map[int64]bool{22: true, 441: true} // epoll_pwait, epoll_pwait2
	}
	return nil
}

// maxWatched is the most descriptors a poll or an epoll instance may
// watch for ownWait to look at each (an event loop of a few, not a
// server's thousands).
const maxWatched = 16

// epollWatched lists the descriptors epoll instance epfd of the process
// at dir watches (/proc/PID/fdinfo/EPFD's "tfd:" lines); nil if more
// than maxWatched, or not readable.
func epollWatched(dir string, epfd int) []int {
	b, err := os.ReadFile(dir + "/fdinfo/" + strconv.Itoa(epfd))
	if err != nil {
		return nil
	}
	var out []int
	for line := range bytes.Lines(b) {
		rest, ok := bytes.CutPrefix(line, []byte("tfd:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) == 0 {
			continue
		}
		fd, err := strconv.Atoi(string(f[0]))
		if err != nil || len(out) == maxWatched {
			return nil
		}
		out = append(out, fd)
	}
	return out
}

// parseSyscall reads /proc/PID/task/TID/syscall's line: the number of the
// system call the task is blocked in and its first two arguments; ok
// false when it runs ("running") or is blocked outside a system call
// (-1).
func parseSyscall(line []byte) (nr int64, a0, a1 uint64, ok bool) {
	f := bytes.Fields(line)
	if len(f) < 3 {
		return 0, 0, 0, false
	}
	nr, err := strconv.ParseInt(string(f[0]), 10, 64)
	if err != nil || nr < 0 {
		return 0, 0, 0, false
	}
	a0, err0 := strconv.ParseUint(strings.TrimPrefix(string(f[1]), "0x"), 16, 64)
	a1, err1 := strconv.ParseUint(strings.TrimPrefix(string(f[2]), "0x"), 16, 64)
	return nr, a0, a1, err0 == nil && err1 == nil
}

// ownFDsEvery is how long a process's table of descriptors (ownFDs) is
// trusted: a descriptor it does not list, or an older table, is listed
// anew; ownTrueEvery how long it is trusted to say that one leads back to
// the process: a table listed while subprocess.Popen held both ends of
// its child's pipe, between creating it and closing the child's end in
// the parent, would otherwise call the parent's reads of that pipe its
// own for ownFDsEvery (seen: 71 readings of a thread reading a child's
// output).
const (
	ownFDsEvery  = int64(200e6)
	ownTrueEvery = int64(20e6)
)

// maxOwnFDs: a process with more descriptors than this is not listed (a
// listing is a readlink each).
const maxOwnFDs = 4096

// ownFDs knows, by process, which of its descriptors lead back to it.
type ownFDs struct {
	procs map[int]*fdTable
	// held: by process, the pipes and sockets it holds (their inodes),
	// as listed at its at: a pipe or socket that another traced process
	// also holds is not the first's own (heldElsewhere).
	held map[int]*heldTable
}

type fdTable struct {
	at     int64          // CLOCK_MONOTONIC of the listing
	cost   int64          // how long the listing took, ns
	own    map[int]bool   // by descriptor: its other end is the process's own
	listen map[int]bool   // by descriptor: a listening socket
	links  map[int]string // by descriptor: its link's name when listed ("socket:[123]")
}

type heldTable struct {
	at, cost int64
	inodes   map[string]bool
}

// ownFDsShare bounds the listings' cost: a process is listed again no
// sooner than this many times its last listing costs (a readlink per
// descriptor: a server with thousands of them, each new connection a
// descriptor the table does not know, would be listed every 10 ms). The
// cost is estimated from the descriptors listed (listCost), not timed:
// a listing's wall time on a busy machine is mostly its wait for a core
// (16 ms measured for a few descriptors), which kept a new connection
// unknown, "not own", for 320 ms (TCP connections 0 of 59 readings own).
const ownFDsShare = 20

// listCost is the CPU cost of listing a process of n descriptors: a
// readlink each, about 5 us, and the network tables (listOwn).
func listCost(n int) int64 { return int64(n)*5_000 + 50_000 }

func newOwnFDs() *ownFDs { return &ownFDs{procs: map[int]*fdTable{}, held: map[int]*heldTable{}} }

// isOwn reports whether descriptor fd of process pid leads back to the
// process (at mono), and whether it is a listening socket, listening its
// descriptors when it must; others are the
// other traced processes, any of which holding the same pipe or socket
// makes it theirs too, not pid's own: multiprocessing's queues and pipes
// keep both ends in the parent and in each child, and a child writes
// what the parent reads (review: a parent in Queue.get and a Pool's
// result handler, 319 of 322 readings "own").
func (o *ownFDs) isOwn(pid, fd int, mono int64, others []int) (own, listen bool) {
	t := o.procs[pid]
	if t != nil {
		age, gap := mono-t.at, ownFDsShare*t.cost
		own, known := t.own[fd]
		if known {
			known = o.same(pid, fd, t)
		}
		if known && age < max(ownFDsEvery, gap) && (!own || age < max(ownTrueEvery, gap)) {
			return own, t.listen[fd]
		}
		if age < max(ownFDsEvery/20, gap) {
			return false, false // listed a moment ago: a descriptor opened since waits a little
		}
	}
	if len(o.procs) > 64 {
		clear(o.procs)
	}
	l := listFDs(fmt.Sprintf("/proc/%d", pid))
	owns, links := l.own, l.links
	t = &fdTable{at: mono, own: owns, listen: l.listen, links: links, cost: l.cost}
	var kin []int
	kinRead := false
	for fd, ok := range owns {
		if !ok {
			continue
		}
		if !kinRead {
			kinRead = true
			// The process's parent and descendants hold what it forked
			// with, whether the recorder traces them yet or not (under
			// -race a child was not yet traced: a queue's pipe was own).
			kin = append(relatives(pid), others...)
		}
		if o.heldElsewhere(links[fd], pid, kin, mono) {
			owns[fd] = false
		}
	}
	// A descriptor whose other end another process holds is not the
	// process's own either (review: a spawned child given one end of a
	// Pipe(), a unix socket pair, that the parent also kept: the parent's
	// recv was own-io, 3.24 s with no writer).
	for fd, ps := range l.peers {
		for _, p := range ps {
			if p != fd && !owns[p] {
				owns[fd] = false
			}
		}
	}
	o.procs[pid] = t
	return t.own[fd], t.listen[fd]
}

// same reports whether descriptor fd of process pid is still what table t
// listed (its link's name): a descriptor closed and its number reused, a
// connection per request, kept the answer of the one before (review: an
// in-process server's clients, 0 of 142 readings own; a listening socket
// closed and its number reused made a client's recv "listen").
func (o *ownFDs) same(pid, fd int, t *fdTable) bool {
	want, ok := t.links[fd]
	if !ok {
		return true // neither pipe nor socket when listed: no answer to keep
	}
	l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", pid, fd))
	return err == nil && l == want
}

// relatives is process pid's parent and descendants; not giltrace, the
// parent of a program it started, which holds none of its pipes and
// sockets (and, with its perf events, many descriptors to list).
func relatives(pid int) []int {
	var out []int
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// "pid (comm) S ppid ...": comm may hold spaces and parentheses.
		if i := bytes.LastIndexByte(b, ')'); i >= 0 {
			if f := strings.Fields(string(b[i+1:])); len(f) > 1 {
				if pp, err := strconv.Atoi(f[1]); err == nil && pp > 1 && pp != os.Getpid() {
					out = append(out, pp)
				}
			}
		}
	}
	if ds, ok := descendants(pid); ok {
		for d := range ds {
			out = append(out, d)
		}
	}
	return out
}

// heldElsewhere reports whether a traced process other than pid holds the
// pipe or socket ino, listing their descriptors when it must (as isOwn,
// for ownFDsEvery or a listing's cost times ownFDsShare).
func (o *ownFDs) heldElsewhere(ino string, pid int, others []int, mono int64) bool {
	for _, q := range others {
		if q == pid {
			continue
		}
		h := o.held[q]
		if h == nil || mono-h.at >= max(ownFDsEvery, ownFDsShare*h.cost) {
			if len(o.held) > 256 {
				clear(o.held)
			}
			h = &heldTable{at: mono, inodes: listInodes(fmt.Sprintf("/proc/%d", q))}
			h.cost = listCost(len(h.inodes))
			o.held[q] = h
		}
		if h.inodes[ino] {
			return true
		}
	}
	return false
}

// listInodes lists the pipes and sockets the process at dir holds: their
// links' names ("pipe:[123]").
func listInodes(dir string) map[string]bool {
	ents, err := os.ReadDir(dir + "/fd")
	if err != nil || len(ents) > maxOwnFDs {
		return nil
	}
	out := map[string]bool{}
	for _, e := range ents {
		if l, err := os.Readlink(dir + "/fd/" + e.Name()); err == nil && (strings.HasPrefix(l, "pipe:[") || strings.HasPrefix(l, "socket:[")) {
			out[l] = true
		}
	}
	return out
}

// listOwn lists the descriptors of the process at dir (/proc/PID): each
// pipe or socket, true when its other end is a descriptor of the process
// too (a pipe's two ends share its inode; a TCP socket's peer is the
// socket whose local address is its remote one, in the process's
// network namespace's tables), with each one's link name ("pipe:[123]",
// for heldElsewhere and same), the listening sockets (TCP, and unix
// sockets accepting connections), and how many descriptors it has.
func listOwn(dir string) (own map[int]bool, links map[int]string, listen map[int]bool, n int) {
	l := listFDs(dir)
	return l.own, l.links, l.listen, l.n
}

// listing is what listFDs found of a process's descriptors (listOwn's),
// with peers: by descriptor, a descriptor of its other end, when that
// is the process's too (a pipe's other ends, a connection's peer, a unix
// socket pair's); and cost, the CPU cost of the listing (listCost, and the
// unix sockets' dump).
type listing struct {
	own    map[int]bool
	links  map[int]string
	listen map[int]bool
	peers  map[int][]int
	n      int
	cost   int64
}

// listFDs is listOwn, with each own descriptor's other ends.
func listFDs(dir string) listing {
	ents, err := os.ReadDir(dir + "/fd")
	if err != nil || len(ents) > maxOwnFDs {
		return listing{n: len(ents), cost: listCost(len(ents))}
	}
	links, listen := map[int]string{}, map[int]bool{}
	peers := map[int][]int{}
	type ends struct {
		ino         string
		fds         []int
		read, write bool
	}
	pipes := map[string]*ends{}
	sockets := map[string][]int{} // by inode: a socket may have several descriptors (dup)
	own := map[int]bool{}
	for _, e := range ents {
		fd, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		l, err := os.Readlink(dir + "/fd/" + e.Name())
		if err != nil {
			continue
		}
		if ino, ok := strings.CutPrefix(l, "pipe:["); ok {
			// The link's permissions are the descriptor's access: a
			// pipe's read end r-x, its write end -wx.
			fi, err := os.Lstat(dir + "/fd/" + e.Name())
			if err != nil {
				continue
			}
			ino = strings.TrimSuffix(ino, "]")
			p := pipes[ino]
			if p == nil {
				p = &ends{ino: ino}
				pipes[ino] = p
			}
			p.fds = append(p.fds, fd)
			p.read = p.read || fi.Mode().Perm()&0o400 != 0
			p.write = p.write || fi.Mode().Perm()&0o200 != 0
			own[fd] = false
			links[fd] = l
		} else if ino, ok := strings.CutPrefix(l, "socket:["); ok {
			ino = strings.TrimSuffix(ino, "]")
			sockets[ino] = append(sockets[ino], fd)
			own[fd] = false
			links[fd] = l
		} else {
			// Neither pipe nor socket (a file, an eventfd an epoll
			// watches): known, not own, until its link changes (review:
			// an eventfd unknown made every reading list the process
			// anew, 70 times a second).
			own[fd] = false
			links[fd] = l
		}
	}
	for _, p := range pipes {
		// Both ends: stdout and stderr on one pipe (a shell's 2>&1) are
		// two write ends of a pipe another process reads.
		if p.read && p.write && len(p.fds) > 1 {
			for _, fd := range p.fds {
				own[fd] = true
				peers[fd] = p.fds
			}
		}
	}
	tcp := map[string]bool{} // the sockets the TCP tables hold, by inode
	cost := listCost(len(ents))
	if len(sockets) > 0 {
		type conn struct{ local, remote string }
		conns := map[string]conn{}  // by inode, the process's
		byAddr := map[conn]string{} // inode by its two addresses
		var listening []string      // the local addresses of its listening sockets
		for _, name := range []string{"tcp", "tcp6"} {
			f, err := os.Open(dir + "/net/" + name)
			if err != nil {
				continue
			}
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				fl := strings.Fields(sc.Text())
				// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
				if len(fl) < 10 {
					continue
				}
				ino := fl[9]
				if _, ok := sockets[ino]; !ok || ino == "0" {
					continue
				}
				tcp[ino] = true
				if fl[3] == "0A" { // TCP_LISTEN
					for _, fd := range sockets[ino] {
						listen[fd] = true
					}
					listening = append(listening, unmapped(fl[1]))
					continue
				}
				c := conn{unmapped(fl[1]), unmapped(fl[2])}
				conns[ino] = c
				byAddr[c] = ino
			}
			f.Close()
		}
		for ino, c := range conns {
			if peer, ok := byAddr[conn{c.remote, c.local}]; ok && peer != ino {
				for _, fd := range sockets[ino] {
					own[fd] = true
					peers[fd] = sockets[peer]
				}
			} else if accepted(c.local, listening) {
				// A connection it accepted from another process's client:
				// asleep on it, a server's handler waits for its client
				// (the next request on a kept-alive connection), as its
				// accept loop waits for connections (QA: an attached
				// server's 8 handlers, 1.58 s each in recv between
				// requests, were told to "shorten req_2's own work").
				for _, fd := range sockets[ino] {
					listen[fd] = true
				}
			}
		}
	}
	if len(sockets) > 0 {
		// Unix socket pairs whose two ends the process holds (asyncio's
		// self-pipe: unixpeer.go), among the sockets the TCP tables do
		// not hold: none, no dump.
		rest := map[string][]int{}
		for ino, fds := range sockets {
			if !tcp[ino] && !listen[fds[0]] {
				rest[ino] = fds
			}
		}
		if len(rest) > 0 {
			ps, seen := unixPeers(rest)
			cost += int64(seen) * unixDiagCost
			for ino, peer := range ps {
				if sockets[peer] != nil && peer != ino {
					for _, fd := range sockets[ino] {
						own[fd] = true
						peers[fd] = sockets[peer]
					}
				}
			}
		}
		// Unix sockets accepting connections (__SO_ACCEPTCON in their
		// flags): a UnixStreamServer's serve_forever polls one (review).
		if f, err := os.Open(dir + "/net/unix"); err == nil {
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				// Num RefCount Protocol Flags Type St Inode [Path]
				fl := strings.Fields(sc.Text())
				if len(fl) >= 7 && fl[3] == "00010000" {
					for _, fd := range sockets[fl[6]] {
						listen[fd] = true
					}
				}
			}
			f.Close()
		}
	}
	return listing{own: own, links: links, listen: listen, peers: peers, n: len(ents), cost: cost}
}

// unixDiagCost is the CPU cost of a unix socket in the kernel's dump
// (unixPeers): about 0.6 us each, 11-14 ms for 20 000 (review).
const unixDiagCost = 700

// accepted reports whether a connection's local address (/proc/net/tcp's
// hex "IP:PORT", unmapped) is that of one of the listening sockets
// (listening): the same port, and the same address or one listening on
// every address (all zeros).
func accepted(local string, listening []string) bool {
	ip, port, ok := strings.Cut(local, ":")
	if !ok {
		return false
	}
	for _, l := range listening {
		lip, lport, _ := strings.Cut(l, ":")
		if lport == port && (lip == ip || strings.Trim(lip, "0") == "") {
			return true
		}
	}
	return false
}

// unmapped is a /proc/net/tcp6 address of an IPv4-mapped IPv6 address
// (::ffff:127.0.0.1, a dual-stack server's accepted connection) as
// /proc/net/tcp writes the IPv4 one, so that its peer, a client's IPv4
// socket, matches it (review): "0000000000000000FFFF00000100007F:1F90"
// is "0100007F:1F90". Any other address is as it is.
func unmapped(addr string) string {
	ip, port, ok := strings.Cut(addr, ":")
	if ok && len(ip) == 32 && ip[:24] == "0000000000000000FFFF0000" {
		return ip[24:] + ":" + port
	}
	return addr
}
