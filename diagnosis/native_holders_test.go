package diagnosis

import (
	"strings"
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// TestNativeHoldersNamed: threads holding the GIL in turn in native calls
// of three functions: gil-held-in-native names each with its own part of
// the waiting, not all of it on the longest (QA: sorted, re.findall and
// json.dumps in turn, and the whole 4.37 s was put on json's iterencode,
// whose own part was 2.01 s); one function with nearly all of it is named
// alone.
func TestNativeHoldersNamed(t *testing.T) {
	const ms = int64(1_000_000)
	build := func(holds []int64) *tracer.Trace {
		b := testkit.New("native")
		p := b.Process("native", 1)
		fns := []string{"sorter", "dumper", "finder"}
		s := b.Thread(p, "spinner").Start(0)
		at := int64(0)
		for i, d := range holds {
			h := b.Thread(p, fns[i]).Start(at)
			h.Call(at, b.Frame(tracer.Frame{Func: fns[i], File: "/app/native.py", Line: i + 1}))
			h.Acquire(at, 0, tracer.AcquireUncontended).NativeBegin(at+1, false)
			s.Wait(at+2, 0)
			h.NativeEnd(at+d).Release(at+d+1, 0, tracer.ReleaseThreadEnd).Return(at + d + 2).End(at + d + 2)
			s.Acquire(at+d+1, 0, tracer.AcquireAfterWait).Release(at+d+ms, 0, tracer.ReleaseDropRequest)
			at += d + ms
		}
		s.End(at)
		return b.Trace()
	}
	for _, c := range []struct {
		name  string
		holds []int64
		want  string
	}{
		{"three", []int64{200 * ms, 190 * ms, 50 * ms}, "while native calls that do not release it held it: sorter (line 1) 200ms, dumper (line 2) 190ms and finder (line 3) 50.0ms."},
		{"one", []int64{400 * ms, 10 * ms}, "while sorter (line 1) held it inside a native call that does not release it."},
		{"two and the rest", []int64{200 * ms, 190 * ms, 20 * ms}, "held it: sorter (line 1) 200ms, dumper (line 2) 190ms and other calls 20.0ms."},
	} {
		r := Analyze(tracer.Derive(build(c.holds)))
		var text string
		for _, v := range r.Verdicts {
			if v.Code == GILHeldInNative {
				text = v.Text
			}
		}
		if !strings.Contains(text, c.want) {
			t.Errorf("%s: verdicts %s, gil-held-in-native %q; want %q", c.name, r.VerdictCodes(), text, c.want)
		}
	}
}
