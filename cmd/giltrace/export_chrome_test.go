package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/giltrace/giltrace/exporters/chrome"
	"github.com/giltrace/giltrace/internal/chrometest"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// TestExportChrome: giltrace export --format chrome writes the chrome
// exporter's bytes for the file's trace, and they pass the Perfetto-rules
// validator.
func TestExportChrome(t *testing.T) {
	path, _ := writeTrace(t, testkit.Mixed())
	tr, err := tracer.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.json")
	if msg, err := runRoot("export", path, "--format", "chrome", "-o", out); err != nil {
		t.Fatalf("export: %v\n%s", err, msg)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want := exported(t, func(b *bytes.Buffer) exporter { return chrome.New(b) }, tr)
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the chrome export of the trace", out)
	}
	sum, err := chrometest.Validate(bytes.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	if sum.TID(1, "worker-1") == 0 || sum.TID(1, "GIL") == 0 {
		t.Errorf("no worker-1 or GIL track: %v", sum.Threads)
	}
}
