// Package exporttest gives the exporters' tests the traces to run on: the
// tracetest scenarios, and every recorded fixture trace in
// fixtures/traces/*.giltrace (once they exist).
package exporttest

import (
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/tracer/tracetest"
)

// Case is a named trace.
type Case struct {
	Name  string // used for golden file names: scenario-NAME or fixture-NAME
	Trace *tracer.Trace
}

// Scenarios returns the built traces, in a fixed order.
func Scenarios() []Case {
	return []Case{
		{"scenario-countdown", tracetest.Countdown(3)},
		{"scenario-mixed", tracetest.Mixed()},
	}
}

// FixtureDir is the directory of the recorded fixture traces.
func FixtureDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "fixtures", "traces")
}

// Fixtures returns the recorded fixture traces, sorted by name; none if
// the directory does not exist yet.
func Fixtures(t testing.TB) []Case {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(FixtureDir(), "*.giltrace"))
	if err != nil {
		t.Fatal(err)
	}
	var out []Case
	for _, p := range paths {
		tr, err := tracer.ReadFile(p)
		if err != nil {
			t.Fatalf("reading fixture: %v", err)
		}
		out = append(out, Case{"fixture-" + strings.TrimSuffix(filepath.Base(p), ".giltrace"), tr})
	}
	return out
}

// All returns the scenarios, then the fixtures.
func All(t testing.TB) []Case {
	return append(Scenarios(), Fixtures(t)...)
}
