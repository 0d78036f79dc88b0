//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// lockDir takes an exclusive advisory lock on directory dir (flock on the
// directory itself: no lock file is left behind) for a command that
// writes a run into it, so that two commands writing the same directory
// at once do not delete each other's outputs or interleave a trace. The
// lock goes with the process: a killed command leaves none.
func lockDir(dir string) (unlock func(), err error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("another giltrace command is writing a run into %s: wait for it to end, or write to another directory (-o)", dir)
		}
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	return func() { f.Close() }, nil
}
