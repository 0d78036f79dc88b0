package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// terminalForeground reports whether giltrace's process group is the
// foreground group of the terminal on its standard input: a Ctrl-C there
// went to the whole group, the traced program included.
func terminalForeground() bool {
	pgrp, err := unix.IoctlGetInt(int(os.Stdin.Fd()), unix.TIOCGPGRP)
	return err == nil && pgrp == unix.Getpgrp()
}
