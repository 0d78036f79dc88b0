package main

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// TestBadInputs runs the giltrace binary on bad workloads, traces, flags
// and environments: each must exit with the expected status and a message
// that names the place, and never panic.
func TestBadInputs(t *testing.T) {
	bin := giltraceBinary(t)
	dir := t.TempDir()
	file := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	good := file("good.yaml", []byte(small))
	workloadWith := func(name, op string) string {
		return file(name, []byte("name: x\nthreads:\n  - name: t\n    run: f\nfunctions:\n  f:\n    - "+op+"\n"))
	}
	var tb bytes.Buffer
	if err := tracer.Write(&tb, testkit.Mixed()); err != nil {
		t.Fatal(err)
	}
	trace := tb.Bytes()
	damaged := bytes.Clone(trace)
	damaged[len(damaged)-30] ^= 0x40
	v3 := bytes.Clone(trace)
	binary.LittleEndian.PutUint32(v3[8:], 3)
	goodTrace := file("good.giltrace", trace)
	notDir := file("plain-file", []byte("x"))

	tests := []struct {
		name   string
		args   []string
		env    []string
		status int
		want   []string // in stderr (or stdout for status 0)
	}{
		// Workloads.
		{"workload missing", []string{"record", filepath.Join(dir, "nope.yaml")}, nil, 1, []string{"nope.yaml", "no such file"}},
		{"workload is a directory", []string{"record", dir}, nil, 1, []string{dir, "not a regular file (a directory)"}},
		{"workload is a FIFO", []string{"record", fifo}, nil, 1, []string{fifo, "not a regular file (a named pipe)"}},
		{"workload is a device", []string{"check", "/dev/null"}, nil, 1, []string{"/dev/null", "a device"}},
		{"workload empty", []string{"check", file("empty.yaml", nil)}, nil, 1, []string{"empty.yaml"}},
		{"workload bad YAML", []string{"check", file("bad.yaml", []byte("name: [x\n"))}, nil, 1, []string{"bad.yaml:"}},
		{"workload not UTF-8", []string{"check", file("latin1.yaml", []byte("name: caf\xe9\n"))}, nil, 1, []string{"latin1.yaml:1:10", "invalid UTF-8 at byte 9"}},
		{"workload compute 0", []string{"check", workloadWith("c0.yaml", "compute: 0")}, nil, 1, []string{"c0.yaml:7:16", "positive duration"}},
		{"workload loops 0", []string{"check", workloadWith("l0.yaml", "compute: {loops: 0}")}, nil, 1, []string{"l0.yaml:7:", "loops"}},
		{"workload unknown op", []string{"check", workloadWith("op.yaml", "comptue: 1ms")}, nil, 1, []string{"op.yaml:7:", "unknown operation", "compute"}},
		{"workload too large", []string{"check", file("huge.yaml", bytes.Repeat([]byte("#"), 2<<20))}, nil, 1, []string{"huge.yaml", "larger than the limit"}},
		{"workload negative io", []string{"check", workloadWith("io.yaml", "io: -5ms")}, nil, 1, []string{"io.yaml:7:"}},
		// Traces.
		{"trace is a directory", []string{"validate", dir}, nil, 1, []string{dir, "not a regular file (a directory)"}},
		{"trace is a FIFO", []string{"report", fifo}, nil, 1, []string{fifo, "named pipe"}},
		{"trace is a device", []string{"export", "/dev/zero", "-f", "chrome", "-o", "-"}, nil, 1, []string{"/dev/zero", "a device"}},
		{"trace missing", []string{"report", filepath.Join(dir, "none.giltrace")}, nil, 1, []string{"none.giltrace", "no such file"}},
		{"trace not a trace", []string{"validate", good}, nil, 1, []string{"good.yaml", "not a giltrace file", "(a workload file: giltrace record " + good + " runs it"}},
		{"trace empty", []string{"validate", file("empty.giltrace", nil)}, nil, 1, []string{"empty.giltrace", "byte 0"}},
		{"trace cut off", []string{"validate", file("cut.giltrace", trace[:len(trace)-40])}, nil, 1, []string{"cut.giltrace", "file cut off at byte"}},
		{"trace damaged validate", []string{"validate", file("damaged.giltrace", damaged)}, nil, 1, []string{"damaged.giltrace", "byte", "checksum mismatch"}},
		// Damaged in its only event record: nothing before the damage to report.
		{"trace damaged report", []string{"report", filepath.Join(dir, "damaged.giltrace")}, nil, 1, []string{"warning", "checksum mismatch", "salvaged the 0 events", "damaged before its first events", "nothing to report"}},
		// No event to export either: refused as report refuses it, not an empty file.
		{"trace damaged export", []string{"export", filepath.Join(dir, "damaged.giltrace"), "-f", "folded", "-o", filepath.Join(dir, "d.folded")}, nil, 1, []string{"warning", "salvaged", "damaged before its first events", "nothing to export"}},
		{"trace damaged model", []string{"model", filepath.Join(dir, "damaged.giltrace")}, nil, 1, []string{"damaged before its first events", "nothing to model"}},
		{"trace damaged compare", []string{"compare", filepath.Join(dir, "damaged.giltrace")}, nil, 1, []string{"damaged before its first events", "nothing to model"}},
		{"trace damaged view", []string{"view", filepath.Join(dir, "damaged.giltrace"), "--addr", "127.0.0.1:0"}, nil, 1, []string{"damaged before its first events", "nothing to show"}},
		{"trace version 3", []string{"validate", file("v3.giltrace", v3)}, nil, 1, []string{"v3.giltrace", "byte 8", "unsupported format version 3"}},
		// Flags.
		{"flag --gil", []string{"record", good, "--gil", "nogil"}, nil, 2, []string{"--gil", "nogil"}},
		{"flag --switch-interval", []string{"record", good, "--switch-interval", "1ns"}, nil, 2, []string{"--switch-interval"}},
		{"flag --switch-interval, not whole microseconds", []string{"record", good, "--switch-interval", "1500ns"}, nil, 2, []string{"--switch-interval 1.5µs is not a whole number of microseconds"}},
		{"flag --threads", []string{"record", good, "--threads", "-1"}, nil, 2, []string{"--threads -1"}},
		{"flag --formats", []string{"record", good, "--formats", "bogus"}, nil, 2, []string{"--formats", "bogus"}},
		{"flag --otlp", []string{"record", good, "--otlp=not a url"}, nil, 2, []string{"--otlp", "not a url"}},
		{"flag --otlp credentials", []string{"record", good, "--otlp=ftp://alice:pw-secret@host"}, nil, 2, []string{"--otlp", "REDACTED"}},
		{"flag --otlp empty", []string{"record", good, "--otlp="}, nil, 2, []string{`--otlp ""`, "expected a collector's URL"}},
		{"flag export --format", []string{"export", goodTrace, "--format", "bogus"}, nil, 2, []string{"unknown format", "bogus"}},
		{"flag export -o directory", []string{"export", goodTrace, "-f", "chrome", "-o", dir}, nil, 1, []string{dir, "is a directory"}},
		{"flag export -o in a missing directory", []string{"export", goodTrace, "-f", "folded", "-o", filepath.Join(dir, "none", "x.folded")}, nil, 1, []string{"writing " + filepath.Join(dir, "none", "x.folded"), "its directory " + filepath.Join(dir, "none"), "no such file or directory"}},
		{"flag record -o a file", []string{"record", good, "-o", notDir}, nil, 1, []string{notDir, "not a directory"}},
		{"flag view --addr", []string{"view", goodTrace, "--addr", "8.8.8.8:0"}, nil, 2, []string{"--addr", "loopback"}},
		{"flag unknown", []string{"record", good, "--bogus"}, nil, 2, []string{"--bogus"}},
		{"command unknown", []string{"bogus"}, nil, 2, []string{`unknown command "bogus"`}},
		// Environment.
		{"env endpoint", []string{"record", good, "--otlp"}, []string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://bob:pw-secret@"}, 2, []string{"OTEL_EXPORTER_OTLP_ENDPOINT", "REDACTED"}},
		{"env protocol", []string{"export", goodTrace, "-f", "otlp"}, []string{"OTEL_EXPORTER_OTLP_PROTOCOL=carrier-pigeon"}, 2, []string{"OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon"}},
		{"env timeout", []string{"export", goodTrace, "-f", "otlp"}, []string{"OTEL_EXPORTER_OTLP_TIMEOUT=-5"}, 2, []string{"OTEL_EXPORTER_OTLP_TIMEOUT", "-5"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(bin, tc.args...)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), tc.env...)
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Fatalf("giltrace %q hangs", tc.args)
			}
			out := stderr.String()
			if tc.status == 0 {
				out += stdout.String()
			}
			if got := cmd.ProcessState.ExitCode(); got != tc.status {
				t.Errorf("exit status %d, want %d\n%s", got, tc.status, out)
			}
			if strings.Contains(out, "panic:") || strings.Contains(out, "goroutine ") {
				t.Fatalf("panic:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(out, "pw-secret") {
				t.Errorf("a password is shown:\n%s", out)
			}
		})
	}
	if n := len(tests); n < 30 {
		t.Errorf("%d cases, want at least 30", n)
	}
}
