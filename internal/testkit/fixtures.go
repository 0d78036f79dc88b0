package testkit

import (
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/giltrace/giltrace/tracer"
)

// Case is a named trace.
type Case struct {
	Name  string // used for golden file names: scenario-NAME or fixture-NAME
	Trace *tracer.Trace
}

// Scenarios returns the built traces, in a fixed order.
func Scenarios() []Case {
	return []Case{
		{"scenario-countdown", Countdown(3)},
		{"scenario-mixed", Mixed()},
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

// Turns builds a valid cpython-mode trace of at least events events for
// benchmarks: eight threads of one process take turns on the GIL through
// drop requests and forced handoffs; each turn calls two of twelve
// functions (stacks two deep) and every fourth turn ends in blocking I/O
// instead, so that there are waits, blame, I/O and many stacks.
func Turns(events int) *tracer.Trace {
	const threads, funcs = 8, 12
	const us = int64(1000)
	b := New("large")
	p := b.Process("python", 1)
	gil := tracer.LockID(0)
	var fs []tracer.FrameID
	for i := range funcs {
		fs = append(fs, b.Func("f"+strconv.Itoa(i), 10*(i+1)))
	}
	var ths []*Thread
	for i := range threads {
		th := b.Thread(p, "worker-"+strconv.Itoa(i+1))
		th.Start(int64(i)).Wait(int64(i)+10, gil)
		ths = append(ths, th)
	}
	now := 100 * us
	n := 2 * threads
	for r := 0; n < events; r++ {
		h := ths[r%threads]
		how := tracer.AcquireForced // the previous holder dropped it on a drop request
		if r%4 == 0 {
			how = tracer.AcquireAfterWait // first turn, or after the previous holder's I/O
		}
		h.Acquire(now, gil, how).Call(now+us, fs[r%funcs]).Call(now+2*us, fs[(r*7+3)%funcs])
		now += 5 * us
		h.Return(now).Return(now + us)
		if r%4 == 3 {
			h.IOBegin(now+2*us, "db").Release(now+3*us, gil, tracer.ReleaseIO)
			h.IOEnd(now+50*us).Wait(now+51*us, gil)
			n += 9
		} else {
			ths[(r+1)%threads].DropRequest(now+2*us, gil, h.ID())
			h.Release(now+3*us, gil, tracer.ReleaseDropRequest).Wait(now+4*us, gil)
			n += 8
		}
		now += 5 * us
	}
	// The holder of the last turn released the GIL; each thread takes it once more and ends.
	for _, th := range ths {
		th.Acquire(now, gil, tracer.AcquireAfterWait).Release(now+us, gil, tracer.ReleaseThreadEnd).End(now + 2*us)
		now += 3 * us
	}
	return b.Trace()
}

// Rate reports a benchmark's events per wall second and, where the
// process's CPU time is known, per CPU second (garbage collection
// included). Call it after the loop with the times taken before it.
func Rate(b *testing.B, events int, wall time.Time, cpu time.Duration) {
	n := float64(events * b.N)
	b.ReportMetric(n/time.Since(wall).Seconds(), "events/s")
	if used := CPUTime() - cpu; used > 0 {
		b.ReportMetric(n/used.Seconds(), "events/cpu-s")
	}
}

// RandomBytes is FromBytes of the bytes of up to most events drawn from r:
// a trace whose events need not follow the protocol, for property tests.
func RandomBytes(r *rand.Rand, most int) *tracer.Trace {
	data := make([]byte, 3*r.IntN(most))
	for j := range data {
		data[j] = byte(r.Uint32())
	}
	return FromBytes(data)
}

// FromBytes builds a trace from bytes, three per event: the thread, the
// event kind, the time step, for fuzz tests and property tests. The events
// need not follow the protocol (waits, acquires and releases in any order,
// returns without calls): what reads such a trace must still hold up.
func FromBytes(data []byte) *tracer.Trace {
	b := New("fuzz")
	p := b.Process("python", 1)
	gil := tracer.LockID(0)
	lk := b.Lock(p, "lock")
	q := b.FreeThreadedProcess("nogil", 7)
	fns := []tracer.FrameID{b.Func("f", 1), b.Func("g", 2)}
	th := []*Thread{b.Thread(p, "a"), b.Thread(p, "b"), b.Thread(q, "c")}
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
