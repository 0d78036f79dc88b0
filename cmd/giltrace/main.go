// Command giltrace runs Python-like workloads on a GIL-locked VM, traces
// every GIL acquire, release, wait and drop request, and explains why the
// threads did or did not speed up.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	// A write to a closed pipe returns EPIPE instead of killing giltrace
	// (Go's default for standard output): `record ... | head` still sends
	// over OTLP and reports its other failures; brokenStdout then exits as
	// SIGPIPE would have.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGPIPE)
	ctx, in, stop := notifyInterrupts(context.Background(), os.Stderr)
	cmd := newRootCmd()
	err := cmd.ExecuteContext(ctx)
	stop()
	if err != nil {
		if _, ok := programStatus(err); !ok {
			if rest, broken := brokenStdout(err); broken {
				if rest != nil {
					printError(os.Stderr, rest)
					os.Exit(exitCode(rest))
				}
				os.Exit(128 + int(syscall.SIGPIPE))
			}
			printError(os.Stderr, err)
		}
	}
	// A stopping signal exits 128 + its number (130, 143, 129), as a
	// process killed by it would, whatever was saved before.
	if s := in.Signal(); s != nil {
		os.Exit(exitStatus(s))
	}
	if err != nil {
		os.Exit(exitCode(err))
	}
}

// printError prints err on w after "giltrace: ", each error of a joined
// list (errors.Join: validate's files, a failure and its clean-up) on a
// line of its own with the prefix.
//
// Only a plain join is split: an error that lists its parts its own way
// (workload.LoadErrors: the first 20, then "(and N more errors)") is
// printed whole.
func printError(w io.Writer, err error) {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		parts := j.Unwrap()
		var msgs []string
		for _, e := range parts {
			if e != nil {
				msgs = append(msgs, e.Error())
			}
		}
		if len(msgs) > 0 && err.Error() == strings.Join(msgs, "\n") {
			for _, e := range parts {
				if e != nil {
					printError(w, e)
				}
			}
			return
		}
	}
	fmt.Fprintf(w, "giltrace: %v\n", err)
}

// brokenStdout reports whether err is, or a plain join (errors.Join) of
// errors holds, a write to standard output closed early (EPIPE), and
// returns the other errors of the join, nil if none. A closed pipe at -o
// FILE stays an error to print.
func brokenStdout(err error) (rest error, broken bool) {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var others []error
		for _, e := range j.Unwrap() {
			if e == nil {
				continue
			}
			if r, b := brokenStdout(e); b {
				broken = true
				if r != nil {
					others = append(others, r)
				}
			} else {
				others = append(others, e)
			}
		}
		if broken {
			return errors.Join(others...), true
		}
		return err, false
	}
	var pe *os.PathError
	if errors.As(err, &pe) && pe.Path == os.Stdout.Name() && errors.Is(pe.Err, syscall.EPIPE) {
		return nil, true
	}
	return err, false
}
