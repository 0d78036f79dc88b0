package chrome_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/giltrace/giltrace/exporters/chrome"
	"github.com/giltrace/giltrace/internal/chrometest"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// FuzzExport checks that whatever the events, the export does not panic
// and its output passes the validator.
func FuzzExport(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0, 3, 1, 1, 0, 1, 1, 2, 1, 0, 10, 5, 0, 12, 5, 1, 5, 50, 0, 4, 1, 1, 3, 1, 0, 1, 1, 1, 1, 1})
	f.Add([]byte{0, 0, 0, 0, 10, 0, 0, 11, 0, 0, 6, 1, 0, 12, 1, 0, 7, 1, 0, 12, 0, 0, 1, 1})
	f.Add([]byte{2, 0, 0, 2, 10, 1, 2, 8, 1, 2, 9, 1, 2, 1, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := testkit.FromBytes(data)
		var buf bytes.Buffer
		if err := chrome.New(&buf).Export(context.Background(), tracer.Derive(tr)); err != nil {
			return // nothing to show: no thread started
		}
		if _, err := chrometest.Validate(&buf); err != nil {
			t.Fatalf("invalid output:\n%v", err)
		}
	})
}
