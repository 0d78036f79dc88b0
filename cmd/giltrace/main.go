// Command giltrace runs Python-like workloads on a GIL-locked VM, traces
// every GIL acquire, release, wait and drop request, and explains why the
// threads did or did not speed up.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cmd := newRootCmd()
	if err := cmd.ExecuteContext(ctx); err != nil {
		if _, ok := programStatus(err); !ok {
			fmt.Fprintf(os.Stderr, "giltrace: %v\n", err)
		}
		stop()
		os.Exit(exitCode(err))
	}
}
