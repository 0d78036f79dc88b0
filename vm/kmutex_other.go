//go:build !linux

package vm

import "sync"

// kmutex is the mutex of a guest lock: elsewhere than Linux Go's (see
// kmutex_linux.go).
type kmutex struct {
	mu   sync.Mutex
	goMu *sync.Mutex // unused: always Go's
	off  bool        // virtual time: Lock and Unlock do nothing (kmutex_linux.go)
}

func (m *kmutex) Lock() {
	if !m.off {
		m.mu.Lock()
	}
}

func (m *kmutex) Unlock() {
	if !m.off {
		m.mu.Unlock()
	}
}
