package cpython

import (
	"path/filepath"
	"strings"

	"github.com/giltrace/giltrace/tracer"
)

// blocking is what a GIL-releasing blocking call was, judged from the C
// function that called PyEval_SaveThread (Py_BEGIN_ALLOW_THREADS).
type blocking struct {
	io     bool   // I/O (IOBegin/IOEnd); else a GIL-releasing native call
	kind   string // the I/O kind
	caller string // module file and function, for the documentation of a guess
}

// I/O kinds, in the VM fixtures' vocabulary.
const (
	ioSleep   = "sleep"
	ioNetwork = "network"
	ioDisk    = "disk"
	ioWait    = "wait"
	// ioSemaphore is a wait on a multiprocessing semaphore (a SemLock:
	// multiprocessing.Lock, Semaphore, the locks of a Pool's queues),
	// which another process's thread releases (tracer.SemaphoreKind).
	ioSemaphore = tracer.SemaphoreKind
	ioOther     = "blocking"
	// ioListen is a network call during which the readings of its
	// thread found it asleep waiting for a connection: in accept, or
	// polling a listening socket (a server's accept loop, serve_forever's
	// select), or on a connection it accepted from another process (a
	// handler waiting for its client's next request): idle, not work
	// (ownio.go).
	ioListen = "listen"
	// ioOwn is an I/O call during which most of the readings of its
	// thread found it asleep on a pipe or loopback connection whose other
	// end its own process holds (ownio.go): a wait for another of its
	// threads to write (a multiprocessing.pool.ThreadPool's worker
	// handler until the pool closes, a message passed between threads).
	ioOwn = tracer.OwnIOKind
	// ioLockTimeout is a wait on a guest lock that ended without it (the
	// lock was still held by the thread that got it first): lock.acquire
	// with a timeout, Condition.wait(timeout), Event.wait(timeout).
	ioLockTimeout = "lock-timeout"
	// ioNativeWait is a GIL-releasing call of an extension module (native
	// work by classify) during which the recorder's readings of its
	// thread's scheduler state found it asleep more often than running:
	// the C code waited (a database driver on its socket, a ctypes call
	// to usleep) rather than computed (machine.watchSection).
	ioNativeWait = "native-wait"
)

// classify judges the blocking call made by function fn of ELF file path
// (the caller of PyEval_SaveThread):
//
//   - time.sleep (pysleep) is I/O "sleep";
//   - sockets, select, ssl are I/O "network";
//   - file and os I/O of the interpreter (_Py_read, _Py_write, _io, os_*,
//     and their helpers posix_do_*, internal_close, portable_lseek) is
//     I/O "disk"; waiting for processes (os.wait*), I/O "wait";
//     _multiprocessing's semaphores (multiprocessing.Lock, a Pool's
//     queues), I/O "semaphore";
//   - compression and hashing modules (_hashlib, _sha*, _md5, _blake2,
//     zlib, _bz2, _lzma) are GIL-releasing native calls, also when the
//     build links them into the interpreter (builtinNative);
//   - any other extension module is a GIL-releasing native call (a C
//     extension doing work without the GIL);
//   - anything else in the interpreter is I/O "blocking": a blocking call
//     whose nature is not known.
func classify(path, fn string) blocking {
	fn, _, _ = strings.Cut(fn, ".") // a link-time optimised build's zlib_Compress_compress.lto_priv.0
	mod := filepath.Base(path)
	if i := strings.IndexAny(mod, ".-"); i > 0 {
		mod = mod[:i]
	}
	b := blocking{io: true, kind: ioOther, caller: mod + ":" + fn}
	switch {
	case fn == "pysleep" || fn == "time_sleep" || strings.Contains(fn, "sleep"):
		b.kind = ioSleep
	case mod == "_socket" || mod == "select" || mod == "_ssl" || strings.HasPrefix(fn, "sock_") || strings.HasPrefix(fn, "select_"):
		b.kind = ioNetwork
	case strings.Contains(fn, "wait") && strings.HasPrefix(fn, "os_"):
		b.kind = ioWait
	case mod == "_multiprocessing":
		// A SemLock (multiprocessing.Lock, Semaphore, a Pool's task
		// queue) waits for another process to release it (before
		// 2026-12-05 I/O "wait", as os.waitpid).
		b.kind = ioSemaphore
	case strings.HasPrefix(fn, "_Py_read") || strings.HasPrefix(fn, "_Py_write") || strings.HasPrefix(fn, "_Py_open") ||
		strings.HasPrefix(fn, "_Py_fstat") || strings.HasPrefix(fn, "_Py_stat") || strings.HasPrefix(fn, "_io_") ||
		strings.HasPrefix(fn, "os_") || strings.HasPrefix(fn, "_bufferedreader") || strings.HasPrefix(fn, "_io") ||
		// the os and io modules' static helpers (posix_do_stat,
		// FileIO's internal_close and portable_lseek), which a build
		// with link-time optimisation may also hold the release of
		// their callers in
		strings.HasPrefix(fn, "posix_do_") || fn == "internal_close" || fn == "portable_lseek" || strings.HasPrefix(fn, "_Py_dup"):
		b.kind = ioDisk
	case (strings.HasPrefix(mod, "libpython") || strings.HasPrefix(mod, "python")) && builtinNative(fn):
		// a compression or hashing module linked into the interpreter
		b.io, b.kind = false, ""
	case strings.HasPrefix(mod, "libpython") || strings.HasPrefix(mod, "python"):
		// the interpreter itself: unknown blocking call
	default:
		b.io = false // an extension module: native work without the GIL
		b.kind = ""
	}
	return b
}

// builtinNative reports whether fn, a function of the interpreter's own
// file, belongs to a compression or hashing module that the build linked
// into it, whose GIL-releasing calls compute: Debian's python3.11 builds
// zlib and _blake2 (and the _sha* and _md5 fallbacks) into its executable
// (QA: blake2b and zlib.compress of 1 MiB buffers were I/O "blocking",
// and the run's CPU time "outside the traced threads", a BLAS pool,
// where they computed in the threads).
func builtinNative(fn string) bool {
	for _, p := range []string{"zlib_", "_blake2_", "py_blake2", "PyBlake2_", "_sha1_", "_sha2_", "_sha256_", "_sha512_", "_sha3_",
		"SHA1Type_", "SHA256Type_", "SHA512Type_", "MD5Type_", "_md5_", "_bz2_", "_lzma_", "_hashlib_", "EVP_"} {
		if strings.HasPrefix(fn, p) {
			return true
		}
	}
	return false
}
