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
	file := "/app/native.py"
	build := func(holds []int64) *tracer.Trace {
		b := testkit.New("native")
		p := b.Process("native", 1)
		fns := []string{"sorter", "dumper", "finder"}
		s := b.Thread(p, "spinner").Start(0)
		at := int64(0)
		for i, d := range holds {
			h := b.Thread(p, fns[i]).Start(at)
			h.Call(at, b.Frame(tracer.Frame{Func: fns[i], File: file, Line: i + 1}))
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

// TestNativeAdviceStdlib: GIL held in the standard library's own C code
// (json, re: it builds Python objects and cannot release the GIL) is
// advised a process or less of the work, not releasing the GIL or a
// library build that does (QA: that advice for json.dumps and re.findall).
func TestNativeAdviceStdlib(t *testing.T) {
	for _, c := range []struct {
		file   string
		stdlib bool
	}{
		{"/root/.pyenv/versions/3.12.1/lib/python3.12/json/encoder.py", true},
		{"/usr/lib/python3.11/re/__init__.py", true},
		{"/root/.pyenv/versions/3.12.1/lib/python3.12/site-packages/numpy/core/numeric.py", false},
		{"/usr/lib/python3/dist-packages/yaml/__init__.py", false},
		{"/root/.pyenv/versions/3.12.1/lib/python3.12/threading.py", false},                 // Thread(target=cfunc)
		{"/root/.pyenv/versions/3.12.1/lib/python3.12/concurrent/futures/thread.py", false}, // executor.map(cfunc, ...)
		{"/app/native.py", false},
	} {
		if got := stdlibFile(c.file); got != c.stdlib {
			t.Errorf("stdlibFile(%q) = %v", c.file, got)
		}
		const ms = int64(1_000_000)
		b := testkit.New("native")
		p := b.Process("native", 1)
		s := b.Thread(p, "spinner").Start(0)
		h := b.Thread(p, "dumper").Start(0)
		h.Call(0, b.Frame(tracer.Frame{Func: "dumps", File: c.file, Line: 1}))
		h.Acquire(0, 0, tracer.AcquireUncontended).NativeBegin(1, false)
		s.Wait(2, 0)
		h.NativeEnd(400*ms).Release(400*ms+1, 0, tracer.ReleaseThreadEnd).Return(400*ms + 2).End(400*ms + 2)
		s.Acquire(400*ms+1, 0, tracer.AcquireAfterWait).Release(401*ms, 0, tracer.ReleaseDropRequest).End(401 * ms)
		r := Analyze(tracer.Derive(b.Trace()))
		var advice string
		for _, v := range r.Verdicts {
			if v.Code == GILHeldInNative {
				advice = v.Advice
			}
		}
		if advice == "" {
			t.Fatalf("%s: no gil-held-in-native: %s", c.file, r.VerdictCodes())
		}
		// A package's own code is told its own advice (TestNativeAdvicePackage).
		pkg := strings.Contains(c.file, "-packages/")
		if std := strings.Contains(advice, "standard library"); std != c.stdlib || !pkg && c.stdlib == strings.Contains(advice, "Py_BEGIN_ALLOW_THREADS") {
			t.Errorf("%s: advice %q; want the standard library's = %v", c.file, advice, c.stdlib)
		}
	}
}

// TestNativeAdvicePackage: GIL held in a third-party package's own code
// (numpy's sort of an object array, under site-packages or Debian's
// dist-packages) is not advised Py_BEGIN_ALLOW_THREADS, which its user
// cannot add, but the form of the data for which it releases the GIL, less
// of that work, or a process; and the verdict names the package's file
// (QA: "sort (line 1030)" held it, and the advice was to release the GIL
// in the C code). A function of the program's own keeps both.
func TestNativeAdvicePackage(t *testing.T) {
	for _, c := range []struct {
		file, holder string
		pkg          bool
	}{
		{"/usr/lib/python3/dist-packages/numpy/core/fromnumeric.py", "while sort (numpy/core/fromnumeric.py, line 1030) held it", true},
		{"/root/.pyenv/versions/3.12.1/lib/python3.12/site-packages/numpy/core/fromnumeric.py", "while sort (numpy/core/fromnumeric.py, line 1030) held it", true},
		{"/app/native.py", "while sort (line 1030) held it", false},
	} {
		const ms = int64(1_000_000)
		b := testkit.New("native")
		p := b.Process("native", 1)
		s := b.Thread(p, "spinner").Start(0)
		h := b.Thread(p, "sorter").Start(0)
		h.Call(0, b.Frame(tracer.Frame{Func: "sort", File: c.file, Line: 1030}))
		h.Acquire(0, 0, tracer.AcquireUncontended).NativeBegin(1, false)
		s.Wait(2, 0)
		h.NativeEnd(400*ms).Release(400*ms+1, 0, tracer.ReleaseThreadEnd).Return(400*ms + 2).End(400*ms + 2)
		s.Acquire(400*ms+1, 0, tracer.AcquireAfterWait).Release(401*ms, 0, tracer.ReleaseDropRequest).End(401 * ms)
		r := Analyze(tracer.Derive(b.Trace()))
		v := verdictOf(r, GILHeldInNative)
		if v == nil {
			t.Fatalf("%s: no gil-held-in-native: %s", c.file, r.VerdictCodes())
		}
		if !strings.Contains(v.Text, c.holder) {
			t.Errorf("%s: text %q; want %q", c.file, v.Text, c.holder)
		}
		if pkg := strings.HasPrefix(v.Advice, "These calls are numpy's own code, which keeps the GIL for this work") && strings.Contains(v.Advice, "a numeric dtype, not dtype=object"); pkg != c.pkg || c.pkg == strings.Contains(v.Advice, "Py_BEGIN_ALLOW_THREADS") {
			t.Errorf("%s: advice %q; want numpy's = %v", c.file, v.Advice, c.pkg)
		}
	}
}
