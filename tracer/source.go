package tracer

import (
	"context"
	"errors"
)

// Source is where the events of a run come from: the VM running a workload
// (package vm), or a probed CPython process (package source/cpython). It is
// the seam between what produces events and everything downstream of the
// trace: exporters and the diagnosis never know which source made a trace.
//
// Record runs the source and records every event into rec, from threads
// it obtains with rec.NewThread, and returns the run's metadata; the caller
// turns the recording into a Trace with rec.Finish. When ctx is done, the
// source stops as soon as it can, leaves every thread ended (the event
// protocol of this package's documentation holds for what it recorded) and
// returns its metadata with an error wrapping ErrInterrupted. Any other
// error means the recording failed; the metadata returned with it is
// meaningful only if the recorder holds events.
type Source interface {
	Record(ctx context.Context, rec *Recorder) (Meta, error)
}

// ErrInterrupted is returned, wrapped, by a Source whose context was done
// before the run finished. The trace recorded so far is valid.
var ErrInterrupted = errors.New("run interrupted")

// Record runs src with a new Recorder configured by cfg and returns the
// trace. The trace is returned with ErrInterrupted (wrapped), and with any
// other error if the source recorded events before it failed, so that
// nothing already recorded is lost; it is nil only if nothing was recorded.
//
// If ctx carries a Stream (WithStream), the run is also written to it as
// it goes, and finished there (end record) before Record returns; the
// Stream's Err says whether that worked.
//
// A LiveSource streams a provisional recording instead (see LiveSource):
// the Stream's file is then what a crash leaves, and its Provisional
// method says that the caller must write the returned trace over it.
func Record(ctx context.Context, src Source, cfg Config) (*Trace, error) {
	rec := NewRecorder(cfg)
	st := streamOf(ctx)
	ls, live := src.(LiveSource)
	var (
		meta Meta
		err  error
	)
	switch {
	case st != nil && live:
		prov := NewRecorder(cfg)
		st.provisional = true
		st.begin(prov)
		meta, err = ls.RecordLive(ctx, prov, rec)
		st.finish(meta)
	case st != nil:
		st.begin(rec)
		meta, err = src.Record(ctx, rec)
		st.finish(meta)
	default:
		meta, err = src.Record(ctx, rec)
	}
	if err != nil && !errors.Is(err, ErrInterrupted) && rec.Empty() {
		return nil, err
	}
	t := rec.Finish(meta)
	rec.recycle()
	return t, err
}

// A LiveSource is a Source whose events become final only at the end of
// its run: the names of its threads, which of its locks say something
// about the threads (the real-CPython source learns both late, and keeps
// its events until then). So that a crash of the recording process still
// leaves the run so far on disk, RecordLive records the run as it goes,
// provisionally, into live (which a Stream writes every StreamFlush), and
// the final trace into rec at the end. Without a Stream, Record calls its
// Record method.
type LiveSource interface {
	Source
	RecordLive(ctx context.Context, live, rec *Recorder) (Meta, error)
}

// GILMode is how a process's threads share the interpreter.
type GILMode string

// GIL modes.
const (
	GILCPython GILMode = "cpython" // the GIL of CPython 3.2+ (switch interval, drop requests, forced switching)
	GILLegacy  GILMode = "legacy"  // the GIL of Python 2 (released and re-taken every check interval)
	GILNone    GILMode = "none"    // no GIL: free-threaded (PEP 703)
)

// GILModes lists the GIL modes, the default first.
var GILModes = []GILMode{GILCPython, GILLegacy, GILNone}

// Valid reports whether m is a known mode.
func (m GILMode) Valid() bool {
	for _, k := range GILModes {
		if m == k {
			return true
		}
	}
	return false
}

func (m GILMode) String() string { return string(m) }
