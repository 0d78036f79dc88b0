package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/giltrace/giltrace/vm/workload"
)

// TestProgressOffTerminal records a small workload with stderr a buffer,
// not a terminal: no status line may appear in it.
func TestProgressOffTerminal(t *testing.T) {
	w := writeWorkload(t, "name: small\nthreads:\n  - name: T\n    count: 2\n    run: f\nfunctions:\n  f:\n    - compute: 300ms\n")
	cmd := newRootCmd()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs([]string{"record", w, "-o", t.TempDir(), "--formats", "folded"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if s := errOut.String(); strings.Contains(s, "\r") || strings.Contains(s, "running small") {
		t.Errorf("progress written off a terminal: %q", s)
	}
}

// TestProgressQuiet checks that --quiet turns progress off even on a
// terminal (/dev/tty is not needed: the flag is read first).
func TestProgressQuiet(t *testing.T) {
	cmd := newRootCmd()
	cmd.SetArgs([]string{"--quiet", "version"})
	cmd.SetOut(&bytes.Buffer{})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if p := newProgress(cmd); p != nil {
		t.Error("progress on with --quiet")
	}
	if isTerminal(&bytes.Buffer{}) {
		t.Error("a buffer is a terminal")
	}
	if f, err := os.CreateTemp(t.TempDir(), "stderr"); err == nil {
		defer f.Close()
		if isTerminal(f) {
			t.Error("a regular file is a terminal")
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the progress goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestProgressLine checks the status line as a terminal would get it: the
// phase and the time elapsed, redrawn in place, cleared at the end.
func TestProgressLine(t *testing.T) {
	var w syncBuffer
	p := startProgress(&w)
	p.Phase("running %s", "countdown")
	time.Sleep(2 * progressEvery)
	p.Write([]byte("compare: [2/4] threads-2 (2 left, 1s elapsed)\n"))
	p.Stop()
	p.Stop() // again: nothing
	p.Phase("after the end")
	s := w.String()
	for _, want := range []string{"\r\x1b[2Kgiltrace: running countdown · ", "giltrace: [2/4] threads-2"} {
		if !strings.Contains(s, want) {
			t.Errorf("status line %q lacks %q", s, want)
		}
	}
	if !strings.HasSuffix(s, "\r\x1b[2K") || strings.Contains(s, "after the end") {
		t.Errorf("status line not cleared at the end: %q", s)
	}
	var nilP *progress
	nilP.Phase("x")
	nilP.Stop()
}

func TestRunSize(t *testing.T) {
	w := &workload.Workload{Processes: 2, Threads: []workload.ThreadGroup{{Count: 3}, {Count: 1}}}
	for _, tc := range []struct {
		o    recordOptions
		want string
	}{
		{recordOptions{}, "8 threads in 2 processes"},
		{recordOptions{Threads: 1}, "4 threads in 2 processes"},
		{recordOptions{Processes: 1}, "4 threads in 1 process"},
	} {
		if got := runSize(w, &tc.o); got != tc.want {
			t.Errorf("runSize(%+v) = %q, want %q", tc.o, got, tc.want)
		}
	}
}

// TestProgressLive records a real-time run with the status line on: while
// it runs, the line counts the threads alive and the events recorded so
// far (from the streamed trace), not only once the run is over.
func TestProgressLive(t *testing.T) {
	var w syncBuffer
	p := startProgress(&w)
	dir := t.TempDir()
	o := &recordOptions{Workload: filepath.Join("..", "..", "fixtures", "convoy.yaml"), Out: dir, Formats: "none"}
	var out, errOut strings.Builder
	if err := record(withProgress(context.Background(), p), o, &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	p.Stop()
	m := regexp.MustCompile(`running convoy: [^·]*: (\d+) threads alive, (\d+) events recorded`).FindStringSubmatch(w.String())
	if m == nil {
		t.Fatalf("no live count in the status line: %q", w.String())
	}
	if m[1] == "0" && m[2] == "0" {
		t.Errorf("the live count stayed at zero: %q", m[0])
	}
}
