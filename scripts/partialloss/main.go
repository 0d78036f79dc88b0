// Command partialloss says how much of a run a partial trace lacks: the
// run's time from the trace's start to the kill of giltrace, the time the
// trace's complete part covers, and the difference. For
// scripts/partial-loss.sh (docs/cpython.md, "The partial trace").
//
//	go run ./scripts/partialloss FILE KILL_UNIX_NANO
package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/giltrace/giltrace/tracer"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: partialloss FILE KILL_UNIX_NANO")
		os.Exit(2)
	}
	kill, err := strconv.ParseInt(os.Args[2], 10, 64)
	if err != nil {
		fmt.Fprintf(os.Stderr, "partialloss: the kill's time %q: %v\n", os.Args[2], err)
		os.Exit(2)
	}
	tr, err := tracer.ReadFile(os.Args[1])
	var te *tracer.TruncatedError
	if tr == nil || err != nil && !errors.As(err, &te) {
		fmt.Printf("no trace (%v)\n", err)
		return
	}
	ran := time.Unix(0, kill).Sub(tr.Meta.Start)
	got := time.Duration(tr.Duration())
	fmt.Printf("ran %v before the kill, the partial trace covers %v (%d events), lost %v\n",
		ran.Round(time.Millisecond), got.Round(time.Millisecond), len(tr.Events), (ran - got).Round(time.Millisecond))
}
