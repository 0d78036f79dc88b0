package tracer

import (
	"fmt"
	"reflect"
)

// diffTraces describes the first differences between two traces.
func diffTraces(got, want *Trace) string {
	var s string
	if !reflect.DeepEqual(got.Meta, want.Meta) {
		s += fmt.Sprintf("meta: got %+v\nwant %+v\n", got.Meta, want.Meta)
	}
	for _, f := range []struct {
		name      string
		got, want any
	}{
		{"strings", got.Strings, want.Strings}, {"procs", got.Procs, want.Procs},
		{"threads", got.Threads, want.Threads}, {"locks", got.Locks, want.Locks},
		{"frames", got.Frames, want.Frames}, {"stacks", got.Stacks, want.Stacks},
	} {
		if !reflect.DeepEqual(f.got, f.want) {
			s += fmt.Sprintf("%s: got %v\nwant %v\n", f.name, f.got, f.want)
		}
	}
	if len(got.Events) != len(want.Events) {
		s += fmt.Sprintf("events: got %d, want %d\n", len(got.Events), len(want.Events))
	}
	for i := range min(len(got.Events), len(want.Events)) {
		if got.Events[i] != want.Events[i] {
			s += fmt.Sprintf("event %d: got %+v, want %+v\n", i, got.Events[i], want.Events[i])
			break
		}
	}
	if got.Dropped != want.Dropped || got.Truncated != want.Truncated {
		s += fmt.Sprintf("dropped/truncated: got %d/%v, want %d/%v\n", got.Dropped, got.Truncated, want.Dropped, want.Truncated)
	}
	return s
}
