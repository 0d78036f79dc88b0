package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/giltrace/giltrace/internal/textfmt"
	"github.com/giltrace/giltrace/vm/workload"
	"github.com/spf13/cobra"
)

// progressEvery is how often the status line is redrawn: often enough that
// the elapsed time looks alive, rarely enough to cost nothing.
const progressEvery = 250 * time.Millisecond

// progress is a status line on stderr while a long command works: what it
// is doing and the time elapsed. It is drawn only when stderr is a
// terminal and --quiet is not given; otherwise every method does nothing.
// A nil *progress does nothing either. Its methods may be called
// concurrently.
type progress struct {
	w     io.Writer
	start time.Time
	stopc chan struct{}
	done  chan struct{}

	mu    sync.Mutex
	phase string
	drawn bool
	once  sync.Once
}

// newProgress returns the progress of cmd: on when its stderr is a
// terminal and --quiet is not set. Stop it when the command ends.
func newProgress(cmd *cobra.Command) *progress {
	if quiet, _ := cmd.Flags().GetBool("quiet"); quiet || !isTerminal(cmd.ErrOrStderr()) {
		return nil
	}
	return startProgress(cmd.ErrOrStderr())
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// startProgress draws the status line on w until Stop.
func startProgress(w io.Writer) *progress {
	p := &progress{w: w, start: time.Now(), stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-p.stopc:
				return
			case <-t.C:
				p.draw()
			}
		}
	}()
	return p
}

// Phase sets what the command is doing, as fmt.Sprintf(format, args...).
func (p *progress) Phase(format string, args ...any) {
	if p == nil {
		return
	}
	p.mu.Lock()
	p.phase = fmt.Sprintf(format, args...)
	p.mu.Unlock()
	p.draw()
}

// every sets the phase to what phase returns, twice a second, until the
// returned function is called: a live count while a run goes.
func (p *progress) every(phase func() string) (stop func()) {
	if p == nil {
		return func() {}
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				p.Phase("%s", phase())
			}
		}
	}()
	return sync.OnceFunc(func() { close(done); <-finished })
}

// Write makes each line written the phase: compare's per-variant lines.
func (p *progress) Write(b []byte) (int, error) {
	if p == nil {
		return len(b), nil
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	p.Phase("%s", strings.TrimPrefix(lines[len(lines)-1], "compare: "))
	return len(b), nil
}

// draw redraws the status line: the phase and the time elapsed.
func (p *progress) draw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.phase == "" {
		return
	}
	fmt.Fprintf(p.w, "\r\x1b[2Kgiltrace: %s · %s", p.phase, time.Since(p.start).Round(100*time.Millisecond))
	p.drawn = true
}

// Stop clears the status line and stops redrawing it; later calls do
// nothing, and so do later phases.
func (p *progress) Stop() {
	if p == nil {
		return
	}
	p.once.Do(func() {
		close(p.stopc)
		<-p.done
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.drawn {
			fmt.Fprint(p.w, "\r\x1b[2K")
		}
		p.phase, p.drawn = "", false
		p.w = io.Discard
	})
}

// runSize says how many threads a record run starts, in how many
// processes, for the status line: the workload's counts with the
// command's overrides.
func runSize(w *workload.Workload, o *recordOptions) string {
	threads, procs := 0, w.Processes
	for _, g := range w.Threads {
		if o.Threads > 0 && !w.StartsOthers(g) {
			threads += o.Threads
		} else {
			threads += g.Count
		}
	}
	if o.Processes > 0 {
		procs = o.Processes
	}
	return fmt.Sprintf("%s in %s", textfmt.Plural(threads*procs, "thread"), textfmt.Plural(procs, "process"))
}

type progressKey struct{}

// withProgress returns ctx carrying p, for the functions a command calls.
func withProgress(ctx context.Context, p *progress) context.Context {
	return context.WithValue(ctx, progressKey{}, p)
}

// progressOf is the progress ctx carries, or nil.
func progressOf(ctx context.Context) *progress {
	p, _ := ctx.Value(progressKey{}).(*progress)
	return p
}

// output is the writer for compare's progress lines: the status line, or
// nothing.
func (p *progress) output() io.Writer {
	if p == nil {
		return io.Discard
	}
	return p
}
