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

// fuzzTrace builds a trace from bytes, three per event: the thread, the
// event kind, the time step. The events need not follow the protocol:
// the exporter must still write a trace that obeys Perfetto's rules.
func fuzzTrace(data []byte) *tracer.Trace {
	b := testkit.New("fuzz")
	p := b.Process("python", 1)
	gil := tracer.LockID(0)
	lk := b.Lock(p, "lock")
	q := b.FreeThreadedProcess("nogil", 7)
	fns := []tracer.FrameID{b.Func("f", 1), b.Func("g", 2)}
	th := []*testkit.Thread{b.Thread(p, "a"), b.Thread(p, "b"), b.Thread(q, "c")}
	depth := make([]int, len(th))
	at := int64(0)
	for i := 0; i+2 < len(data); i += 3 {
		k := int(data[i]) % len(th)
		x := th[k]
		at += int64(data[i+2]) * 100
		locks := []tracer.LockID{gil, lk}
		l := locks[int(data[i+1]>>7)]
		switch data[i+1] % 13 {
		case 0:
			x.Start(at)
		case 1:
			x.End(at)
		case 2:
			x.Wait(at, l)
		case 3:
			x.Acquire(at, l, tracer.Acquire(data[i+1]>>5%3))
		case 4:
			x.Release(at, l, tracer.Release(data[i+1]>>4%8))
		case 5:
			x.DropRequest(at, gil, th[(k+1)%len(th)].ID())
		case 6:
			x.IOBegin(at, "disk")
		case 7:
			x.IOEnd(at)
		case 8:
			x.NativeBegin(at, data[i+1]&0x40 != 0)
		case 9:
			x.NativeEnd(at)
		case 10, 11:
			x.Call(at, fns[data[i+1]>>7])
			depth[k]++
		case 12:
			if depth[k] > 0 {
				x.Return(at)
				depth[k]--
			}
		}
	}
	return b.Trace()
}

// FuzzExport checks that whatever the events, the export does not panic
// and its output passes the validator.
func FuzzExport(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0, 3, 1, 1, 0, 1, 1, 2, 1, 0, 10, 5, 0, 12, 5, 1, 5, 50, 0, 4, 1, 1, 3, 1, 0, 1, 1, 1, 1, 1})
	f.Add([]byte{0, 0, 0, 0, 10, 0, 0, 11, 0, 0, 6, 1, 0, 12, 1, 0, 7, 1, 0, 12, 0, 0, 1, 1})
	f.Add([]byte{2, 0, 0, 2, 10, 1, 2, 8, 1, 2, 9, 1, 2, 1, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		tr := fuzzTrace(data)
		var buf bytes.Buffer
		if err := chrome.New(&buf).Export(context.Background(), tracer.Derive(tr)); err != nil {
			return // nothing to show: no thread started
		}
		if _, err := chrometest.Validate(&buf); err != nil {
			t.Fatalf("invalid output:\n%v", err)
		}
	})
}
