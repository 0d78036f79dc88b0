package cpython

import (
	"encoding/binary"
	"strconv"
	"syscall"
)

// Unix socket pairs (ownio.go): /proc names a unix socket by its inode
// but not its peer's, so a socket.socketpair() whose two ends a process
// holds (asyncio's self-pipe, which a worker thread writes to wake the
// event loop: run_in_executor, to_thread) was not seen as its own. The
// kernel's socket diagnostics (sock_diag over netlink, as `ss -x` reads
// them) give each unix socket's peer, by inode.

// Netlink sock_diag, from linux/sock_diag.h and linux/unix_diag.h.
const (
	netlinkSockDiag  = 4  // NETLINK_SOCK_DIAG
	sockDiagByFamily = 20 // SOCK_DIAG_BY_FAMILY
	udiagShowPeer    = 0x4
	unixDiagPeer     = 2 // UNIX_DIAG_PEER: the peer's inode, a u32
	unixDiagReqLen   = 24
	unixDiagMsgLen   = 16
	maxUnixPeerBytes = 16 << 20 // a dump larger than this is given up (no peers): sockets of other programs
)

// unixPeers returns, by inode ("123", as in a "socket:[123]" link), the
// peer of every connected unix socket of the recorder's network
// namespace, those of the inodes in want alone (nil: every one), and how
// many sockets the kernel listed (the dump's cost). No peers on any error,
// a dump larger than maxUnixPeerBytes included: no unix socket is then
// known to be its process's own.
func unixPeers(want map[string][]int) (map[string]string, int) {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, netlinkSockDiag)
	if err != nil {
		return nil, 0
	}
	defer syscall.Close(fd)
	req := make([]byte, syscall.NLMSG_HDRLEN+unixDiagReqLen)
	le := binary.LittleEndian
	le.PutUint32(req[0:], uint32(len(req)))
	le.PutUint16(req[4:], sockDiagByFamily)
	le.PutUint16(req[6:], syscall.NLM_F_REQUEST|syscall.NLM_F_DUMP)
	le.PutUint32(req[8:], 1) // sequence
	b := req[syscall.NLMSG_HDRLEN:]
	b[0] = syscall.AF_UNIX
	le.PutUint32(b[4:], 0xffffffff) // every state
	le.PutUint32(b[12:], udiagShowPeer)
	le.PutUint32(b[16:], 0xffffffff) // no cookie
	le.PutUint32(b[20:], 0xffffffff)
	if err := syscall.Sendto(fd, req, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return nil, 0
	}
	out := map[string]string{}
	buf := make([]byte, 64<<10)
	seen := 0
	for read := 0; read < maxUnixPeerBytes; {
		n, _, err := syscall.Recvfrom(fd, buf, 0)
		if err != nil || n <= 0 {
			return nil, seen
		}
		read += n
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, seen
		}
		for _, m := range msgs {
			switch m.Header.Type {
			case syscall.NLMSG_DONE:
				return out, seen
			case syscall.NLMSG_ERROR:
				return nil, seen
			}
			seen++
			ino, peer, ok := parseUnixDiag(m.Data)
			if !ok || peer == 0 {
				continue
			}
			s := strconv.FormatUint(uint64(ino), 10)
			if want != nil && want[s] == nil {
				continue
			}
			out[s] = strconv.FormatUint(uint64(peer), 10)
		}
	}
	return nil, seen
}

// parseUnixDiag reads a unix_diag_msg and its attributes: the socket's
// inode and its peer's (0 for none).
func parseUnixDiag(b []byte) (ino, peer uint32, ok bool) {
	if len(b) < unixDiagMsgLen {
		return 0, 0, false
	}
	le := binary.LittleEndian
	ino = le.Uint32(b[4:])
	for a := b[unixDiagMsgLen:]; len(a) >= 4; {
		l, typ := int(le.Uint16(a[0:])), le.Uint16(a[2:])
		if l < 4 || l > len(a) {
			break
		}
		if typ == unixDiagPeer && l >= 8 {
			peer = le.Uint32(a[4:])
		}
		a = a[min((l+3)&^3, len(a)):]
	}
	return ino, peer, true
}
