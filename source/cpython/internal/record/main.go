// Command record traces a CPython program with package source/cpython and
// writes the trace to a file: a stand-in for `giltrace record -- CMD` used
// by scripts/cpython-overhead.sh until the command is wired.
//
//	go run ./source/cpython/internal/record [-o FILE] [-attach PID -d DURATION] -- python3 app.py
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/giltrace/giltrace/source/cpython"
	"github.com/giltrace/giltrace/tracer"
)

func main() {
	out := flag.String("o", "run.giltrace", "trace file to write")
	pid := flag.Int("attach", 0, "attach to this process instead of running a command")
	dur := flag.Duration("d", 0, "with -attach: how long to trace (0: until it exits)")
	quiet := flag.Bool("q", false, "print nothing but errors")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	verbose := os.Getenv("GILTRACE_VERBOSE") != ""
	o := cpython.Options{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Logf: func(f string, a ...any) {
		if verbose {
			fmt.Fprintf(os.Stderr, "record: "+f+"\n", a...)
		}
	}}
	var src *cpython.Source
	if *pid != 0 {
		src = cpython.Attach(*pid, *dur, o)
	} else {
		src = cpython.Command(flag.Args(), o)
	}
	start := time.Now()
	t, err := tracer.Record(ctx, src, tracer.Config{})
	if t != nil {
		if werr := tracer.WriteFile(*out, t); werr != nil {
			err = errors.Join(err, werr)
		}
		if !*quiet {
			fmt.Fprintf(os.Stderr, "record: %d events, %d threads, %d processes in %v (lost %q) -> %s\n",
				len(t.Events), len(t.Threads), len(t.Procs), time.Since(start).Round(time.Millisecond), t.Meta.Extra["lost_events"], *out)
		}
	}
	if err != nil && !errors.Is(err, tracer.ErrInterrupted) {
		fmt.Fprintf(os.Stderr, "record: %v\n", err)
		os.Exit(1)
	}
	if code := src.ExitCode(); code > 0 {
		os.Exit(code)
	}
}
