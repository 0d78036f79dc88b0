package flamegraph

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/giltrace/giltrace/tracer"
)

// Folded writes folded stacks (Brendan Gregg's format, read by
// flamegraph.pl, inferno, speedscope): one line per distinct stack,
// "thread;state;outer;...;inner NANOSECONDS", sorted by stack. Frames are
// named "func (file:line)"; ';' and line breaks in names become ':' and
// spaces. With several processes, the thread frame is "process/thread".
type Folded struct {
	w    io.Writer
	view View
}

// NewFolded returns an exporter writing the folded stacks of the wall view
// to w.
func NewFolded(w io.Writer) *Folded { return &Folded{w: w, view: ViewWall} }

// NewFoldedView returns an exporter writing the folded stacks of view v to w.
func NewFoldedView(w io.Writer, v View) *Folded { return &Folded{w: w, view: v} }

// Export writes the folded stacks of the spans s (tracer.Derive of a
// trace).
func (f *Folded) Export(ctx context.Context, s *tracer.Spans) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	sts, err := stacks(s, f.view)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(f.w)
	var line []byte
	for _, st := range sts {
		line = line[:0]
		for i, fr := range st.frames {
			if i > 0 {
				line = append(line, ';')
			}
			line = append(line, fr...)
		}
		line = append(line, ' ')
		line = strconv.AppendInt(line, st.ns, 10)
		line = append(line, '\n')
		if _, err := bw.Write(line); err != nil {
			return fmt.Errorf("writing folded stacks: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing folded stacks: %w", err)
	}
	return nil
}
