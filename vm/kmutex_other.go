//go:build !linux

package vm

import "sync"

// kmutex is the mutex of a guest lock: elsewhere than Linux Go's (see
// kmutex_linux.go).
type kmutex struct {
	sync.Mutex
	goMu *sync.Mutex // unused: always Go's
}
