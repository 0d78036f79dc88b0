package cpython

import (
	"errors"
	"strings"
	"syscall"
)

// reader reads the lines trace_pipe has ready, without blocking.
type reader struct {
	fd      int
	partial string
	buf     []byte
	err     error
}

// read returns the events of the complete lines available now.
func (r *reader) read() []rawEvent {
	if r.buf == nil {
		r.buf = make([]byte, 1<<20)
	}
	var out []rawEvent
	for {
		n, err := syscall.Read(r.fd, r.buf)
		if n > 0 {
			data := r.partial + string(r.buf[:n])
			lines := strings.Split(data, "\n")
			r.partial = lines[len(lines)-1]
			for _, l := range lines[:len(lines)-1] {
				if e, ok := parseLine(l); ok {
					out = append(out, e)
				}
			}
		}
		if err != nil {
			if !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EINTR) {
				r.err = err
			}
			return out
		}
		if n == 0 {
			return out
		}
	}
}
