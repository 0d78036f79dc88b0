// Package pprof exports a trace as pprof profiles (profile.proto), read
// with `go tool pprof`:
//
//   - Wait: the GIL-wait profile, read like Go's block profile. Sample
//     types contentions/count and delay/nanoseconds; each wait for a lock
//     is charged to the waiting thread's guest stack. Contentions count
//     the contended waits; the delay also holds the moments a thread was
//     runnable before taking a free GIL (after its start or an I/O).
//   - Blame: read like Go's mutex profile, but exact. The time each thread
//     waited for a lock is charged to the stack of the thread that held the
//     lock meanwhile, split where the holder or its stack changed, with the
//     waiting thread as the label waiter (beyond BlamePartsPerEvent parts
//     per event, when very many threads queue at once, the held parts are
//     summed per holder stack without it).
//   - Wall: wall/nanoseconds of every thread in every state (running, GIL
//     wait, I/O, native, native holding the GIL, lock wait).
//
// Every sample carries the string labels thread, state and process, so
// that -tagfocus=state=gil-wait and -tagroot=thread,state slice a profile.
// Waits for guest locks (threading.Lock of the workload) are part of the
// Wait and Blame profiles, with state lock-wait and the label lock naming
// the lock; GIL waits have state gil-wait and no lock label, so
// -tagfocus=state=gil-wait keeps only them. The Wall profile adds the label
// io (the I/O kind) to I/O time and lock to guest-lock waits.
//
// Locations point at the workload file and line (Function.Filename is the
// workload file as recorded), so `go tool pprof -list FUNC` shows the
// workload's source when run where that path resolves (or with
// -source_path). Comments carry the run's metadata; TimeNanos is the run's
// start and DurationNanos its wall time. The same trace gives the same
// bytes.
package pprof

import (
	"context"
	"fmt"
	"io"

	"github.com/giltrace/giltrace/tracer"
	"github.com/google/pprof/profile"
)

// Kind selects one of the profiles.
type Kind uint8

// The profiles. The zero Kind is invalid.
const (
	KindWait  Kind = iota + 1 // GIL-wait profile: each wait charged to the waiter's stack
	KindBlame                 // blame profile: each wait charged to the holder's stack
	KindWall                  // wall profile: every state of every thread
)

var kindNames = [...]string{"", "wait", "blame", "wall"}

func (k Kind) String() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Exporter writes one profile of a trace, gzipped, to a writer.
type Exporter struct {
	w        io.Writer
	kind     Kind
	warnings []string
}

// WithWarnings makes e add the run's warnings to the profile's comments
// (AddWarnings) and returns e.
func (e *Exporter) WithWarnings(warnings []string) *Exporter {
	e.warnings = warnings
	return e
}

// AddWarnings adds to p's comments, after the run's metadata, a line
// "warning: W" for each warning W of the run: what distorts its figures
// (exporters/report.Warnings: a busy machine, a real program's tracing
// cost), which `go tool pprof -comments` lists.
func AddWarnings(p *profile.Profile, warnings []string) {
	for _, w := range warnings {
		p.Comments = append(p.Comments, "warning: "+w)
	}
}

// New returns an Exporter writing the profile of kind k to w.
func New(w io.Writer, k Kind) *Exporter { return &Exporter{w: w, kind: k} }

// NewWait returns an Exporter writing the GIL-wait profile to w.
func NewWait(w io.Writer) *Exporter { return New(w, KindWait) }

// NewBlame returns an Exporter writing the blame profile to w.
func NewBlame(w io.Writer) *Exporter { return New(w, KindBlame) }

// NewWall returns an Exporter writing the wall profile to w.
func NewWall(w io.Writer) *Exporter { return New(w, KindWall) }

// Export writes the profile of the spans s (tracer.Derive of a trace),
// gzipped.
func (e *Exporter) Export(ctx context.Context, s *tracer.Spans) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	p, err := Profile(s, e.kind)
	if err != nil {
		return err
	}
	AddWarnings(p, e.warnings)
	if err := p.Write(e.w); err != nil {
		return fmt.Errorf("writing %s profile: %w", e.kind, err)
	}
	return nil
}

// Profile builds the profile of kind k from spans. The result passes
// profile.CheckValid; its samples are in a fixed order (by thread, state,
// stack), so that writing it gives the same bytes for the same spans.
func Profile(s *tracer.Spans, k Kind) (*profile.Profile, error) {
	b := newBuilder(s.Trace)
	switch k {
	case KindWait:
		b.waits(s)
	case KindBlame:
		b.blame(s)
	case KindWall:
		b.wall(s)
	default:
		return nil, fmt.Errorf("building profile: unknown kind %v", k)
	}
	p := b.profile(k)
	if err := p.CheckValid(); err != nil {
		return nil, fmt.Errorf("building %s profile: %w", k, err)
	}
	return p, nil
}
