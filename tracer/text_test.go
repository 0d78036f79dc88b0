package tracer_test

import (
	"bytes"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/internal/golden"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

func text(t testing.TB, tr *tracer.Trace) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := tracer.WriteText(&buf, tr); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// oddNames is a trace whose names need quoting or IDs in the text form:
// spaces, quotes, duplicates, digits, "", and a guest lock named "GIL".
func oddNames() *tracer.Trace {
	odd := testkit.New("odd names")
	p := odd.Process("proc with spaces", 3)
	odd.Lock(p, "GIL")
	l := odd.Lock(p, "42")
	a := odd.Thread(p, "same")
	c := odd.Thread(p, "same")
	d := odd.Thread(p, "")
	f := odd.Func("f \"quoted\"", 0)
	odd.Meta().Extra = map[string]string{"a b": "c\nd", "k": ""}
	a.Start(0).Acquire(1, 0, tracer.AcquireUncontended).Call(2, f).Acquire(3, l, tracer.AcquireUncontended).IOBegin(4, "db 2").Release(5, 0, tracer.ReleaseIO)
	c.Start(6).Acquire(7, 0, tracer.AcquireUncontended).Wait(8, l).Release(9, 0, tracer.ReleaseLockWait)
	d.Start(10).Wait(11, 0).End(12)
	tr := odd.Trace()
	tr.Truncated = true
	return tr
}

func TestTextRoundTrip(t *testing.T) {
	tests := map[string]*tracer.Trace{
		"countdown": testkit.Countdown(3),
		"mixed":     testkit.Mixed(),
		"odd names": oddNames(),
		"lines":     linesTrace(),
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			b := text(t, want)
			got, err := tracer.ParseText(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("%v\n%s", err, b)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip differs; text:\n%s\nagain:\n%s", b, text(t, got))
			}
		})
	}
}

// TestTextGolden: the text form of the mixed scenario, in
// testdata/mixed.txt (go test ./tracer -update rewrites it).
func TestTextGolden(t *testing.T) {
	got := text(t, testkit.Mixed())
	golden.Check(t, filepath.Join("testdata", "mixed.txt"), got)
}

func TestParseTextErrors(t *testing.T) {
	good := string(text(t, testkit.Countdown(1)))
	tests := []struct {
		name, text, want string
	}{
		{"empty", "", `no "giltrace-text 1" line`},
		{"header", "hello\n", `line 1: expected "giltrace-text 1" first`},
		{"unknown line", strings.Replace(good, "string 0", "frobnicate 1\nstring 0", 1), "unknown line \"frobnicate\""},
		{"unknown kind", good + "99999999 T1 jump\n", `unknown event kind "jump"`},
		{"unknown thread", good + "99999999 T9 thread-end\n", `no thread named "T9"`},
		{"thread id out of range", good + "99999999 7 thread-end\n", "thread 7 not in the table"},
		{"unknown lock", good + "99999999 T1 lock-wait L\n", `no lock named "L"`},
		{"bad acquire", good + "99999999 T1 lock-acquire GIL eventually\n", "expected one of uncontended, after-wait, forced"},
		{"trailing", good + "99999999 T1 thread-end now\n", `unexpected "now"`},
		{"early end", good + "99999999 T1 lock-wait\n", "line ends early"},
		{"table after events", good + "string 9 \"x\"\n", `"string" line after the events began`},
		{"row order", strings.Replace(good, "thread 1 ", "thread 5 ", 1), "row 5 out of order, expected 1"},
		{"bad quote", strings.Replace(good, `"countdown"`, `"countdown`, 1), "bad quoted string"},
		{"unquoted", strings.Replace(good, `"countdown"`, `countdown`, 1), "expected a quoted string"},
		{"meta field", strings.Replace(good, "meta cores", "meta cpus", 1), `unknown meta field "cpus"`},
		{"invalid trace", good + "99999999 T1 thread-end\n", "thread-end"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr, err := tracer.ParseText(strings.NewReader(tc.text))
			if tr != nil || err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParseText = %v, %v; want an error containing %q", tr, err, tc.want)
			}
		})
	}
}

// linesTrace is one thread that moves through three lines of a call with
// line events (tracer.KindLine).
func linesTrace() *tracer.Trace {
	b := testkit.New("lines")
	p := b.Process("python", 1)
	th := b.Thread(p, "T")
	th.Start(0).Acquire(1, 0, tracer.AcquireUncontended).Call(2, b.Func("f", 10)).Line(100, b.Func("f", 11)).Line(300, b.Func("f", 12))
	th.Return(600).Release(601, 0, tracer.ReleaseThreadEnd).End(602)
	return b.Trace()
}

// TestLineEvents: a trace with line events is valid, reads back the same
// from its file (binary round trip; the text one is TestTextRoundTrip's),
// and its running time is split by line: 98, 200 and 300 ns.
func TestLineEvents(t *testing.T) {
	want := linesTrace()
	if err := want.CheckValid(); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := tracer.Write(&buf, want); err != nil {
		t.Fatal(err)
	}
	got, err := tracer.Read(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("binary round trip differs")
	}
	byLine := map[int]int64{}
	for _, sp := range tracer.Derive(got).States {
		if sp.State == tracer.StateRunning && sp.Stack != tracer.NoStack {
			byLine[got.Frames[got.Stacks[sp.Stack].Frame].Line] += sp.End - sp.Start
		}
	}
	if byLine[10] != 98 || byLine[11] != 200 || byLine[12] != 300 {
		t.Errorf("running by line %v, want 10:98 11:200 12:300", byLine)
	}
}
