package diagnosis_test

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/giltrace/giltrace/diagnosis"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/internal/textfmt"
	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/vm"
)

// TestCoresTheLimitOfTakingTurns: threads taking turns on a GIL whose
// cores are full: the countdown's two threads on one core, and two
// processes of two CPU-bound threads on two cores. They wait half their
// time for the GIL, and without it they would wait for a core: neither
// estimate beats what the run achieved. The report said "none of the
// verdicts' thresholds was reached" (QA); it now says cpu-saturated, that
// the cores are the limit and that neither a free-threaded Python nor
// processes would help. On two cores the countdown stays gil-bound.
func TestCoresTheLimitOfTakingTurns(t *testing.T) {
	countdown, err := os.ReadFile(filepath.Join("..", "fixtures", "countdown.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	src := strings.Replace(string(countdown), "threads:", "clock: virtual\nthreads:", 1)
	two := `name: two
clock: virtual
threads:
  - {name: w, count: 2, run: f}
functions:
  f:
    - compute: 100ms
`
	for _, c := range []struct {
		name string
		src  string
		o    vm.Options
		text string
	}{
		{"countdown on 1 core", src, vm.Options{Cores: 1}, "On average 2.0 threads were runnable on 1 core: 1.0 running or in native code, 1.0 waiting for the GIL. Without the GIL they would wait for a core instead: the cores are the limit, and neither a free-threaded Python nor processes is estimated faster (1.00x without a GIL, 1.00x as processes, now 1.00x; bounded by the cores: 1.00s of CPU work over 1 core, 1.00s)."},
		{"2 processes of 2 on 2 cores", two, vm.Options{Cores: 2, Processes: 2}, "On average 4.0 threads were runnable on 2 cores: 2.0 running or in native code, 2.0 waiting for the GIL. Without the GIL they would wait for a core instead: the cores are the limit, and neither a free-threaded Python nor processes is estimated faster (2.00x without a GIL, 2.00x as processes, now 2.00x; bounded by the cores: 400ms of CPU work over 2 cores, 200ms)."},
	} {
		r := runWith(t, c.src, "cpython", c.o)
		v := verdict(r, diagnosis.CPUSaturated)
		if r.VerdictCodes() != diagnosis.CPUSaturated || v == nil {
			t.Errorf("%s: verdicts %s, want cpu-saturated", c.name, r.VerdictCodes())
			continue
		}
		if v.Text != c.text || !strings.HasPrefix(v.Advice, "Neither removing the GIL nor processes would help here: more cores would") {
			t.Errorf("%s:\n got %s\n     %s\nwant %s", c.name, v.Text, v.Advice, c.text)
		}
	}
	if r := runWith(t, src, "cpython", vm.Options{Cores: 2}); r.VerdictCodes() != diagnosis.GILBound {
		t.Errorf("countdown on 2 cores: verdicts %s, want gil-bound", r.VerdictCodes())
	}
}

// TestCoresTheLimitSaysWhatFasterMeans: when the estimates print higher
// than the run's speedup but by less than AdviceMinGain, the cores-limit
// text says they are not more than that much faster, not that they are
// not faster (QA: api-service on one simulated core, "neither ... is
// estimated faster (7.21x without a GIL, 7.21x as processes, now
// 6.85x)").
func TestCoresTheLimitSaysWhatFasterMeans(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "fixtures", "api-service.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	r := runWith(t, strings.Replace(string(src), "threads:", "clock: virtual\nthreads:", 1), "cpython", vm.Options{Cores: 1})
	v := verdict(r, diagnosis.CPUSaturated)
	if v == nil {
		t.Fatalf("verdicts %s, want cpu-saturated", r.VerdictCodes())
	}
	if !strings.Contains(v.Text, "neither a free-threaded Python nor processes is estimated more than 10 % faster (6.13x without a GIL, 6.13x as processes, now 5.58x;") {
		t.Errorf("text: %s", v.Text)
	}
}

// TestVirtualCoreWaitsAreNotWork: in virtual time, threads that wait for a
// simulated core are recorded as running or in I/O (a thread back from an
// I/O waits for a core before it is seen to run); the achieved speedup
// counts the VM's own count of the work instead, so it equals the speedup
// on the wall, and the note gives the waits in full (QA: 8 processes of
// 20 x [15 ms I/O, 3 ms compute] on 2 cores "overlapped 7.78x" for a run
// 5.33x as fast as one thread, the note giving 120ms of a 1.44 s
// over-count).
func TestVirtualCoreWaitsAreNotWork(t *testing.T) {
	const src = `name: pre
clock: virtual
processes: 8
threads:
  - {name: h, run: loop}
functions:
  loop: [{repeat: {times: 20, body: [{io: {duration: 15ms, kind: db}}, {compute: 3ms}]}}]
`
	r := runWith(t, src, "cpython", vm.Options{Cores: 2})
	sp := r.Speedup
	// The work: the ops' durations, and the instructions of the loops and
	// calls around them (a few us).
	const work = 8 * 20 * 18 * int64(time.Millisecond)
	near := func(ns int64) bool { return ns >= work && ns-work < work/10000 }
	if !near(sp.SerialEquivNS) {
		t.Errorf("serial equivalent %v, want the work, %v", time.Duration(sp.SerialEquivNS), time.Duration(work))
	}
	if want := float64(work) / float64(r.WallNS); math.Abs(sp.Achieved-want) > 0.001 {
		t.Errorf("achieved %vx, want the work over the wall, %.3fx", sp.Achieved, want)
	}
	cw := r.CoreWait
	if cw == nil || cw.IOWaitNS <= 0 || cw.CPUWaitNS <= 0 || cw.WaitNS != cw.CPUWaitNS+cw.IOWaitNS || sp.CoreWaitNS != cw.WaitNS {
		t.Fatalf("core wait %+v, speedup's %v", cw, sp.CoreWaitNS)
	}
	if !strings.Contains(cw.Text, "over-count the threads' work by "+textfmt.Dur(cw.WaitNS)) || !strings.Contains(cw.Text, textfmt.Dur(cw.IOWaitNS)+" of I/O") {
		t.Errorf("note: %s", cw.Text)
	}
	var busy, io int64
	for _, th := range r.Threads {
		busy += th.RunningNS + th.NativeNS + th.NativeHoldingNS
		io += th.IONS
	}
	if busy+io-cw.WaitNS != sp.SerialEquivNS || !near(busy+io-cw.WaitNS) {
		t.Errorf("the threads' figures %v less the waits %v: %v, want the work %v", time.Duration(busy+io), time.Duration(cw.WaitNS), time.Duration(busy+io-cw.WaitNS), time.Duration(work))
	}
}

// TestDaemonsBoundNothing: two CPU-bound daemon threads beside an I/O
// thread on 1 core: the program ends with the I/O thread, the daemons
// stopped there, so their CPU work bounds no estimate; as processes the
// I/O thread no longer waits for the GIL, and the estimate says so (QA:
// "neither a free-threaded Python nor processes is estimated faster
// (1.15x)", bounded by the daemons' CPU work over the core, where the
// program as processes ran 4.2x as fast and compare predicted 4.69x).
func TestDaemonsBoundNothing(t *testing.T) {
	src := `name: daemons
clock: virtual
threads:
  - {name: cpu, count: 2, run: spin, daemon: true}
  - {name: io, run: poll}
functions:
  spin: [{compute: 5s}]
  poll: [{repeat: {times: 60, body: [{sleep: 1ms}, {compute: 20us}]}}]
`
	r := runWith(t, src, "cpython", vm.Options{Cores: 1})
	if l := r.Speedup.Limit; l.Kind == diagnosis.LimitCores || strings.HasPrefix(l.Name, "cpu") || r.Speedup.AsProcesses < 2 {
		t.Errorf("as processes %.2fx, limit %+v: want the I/O thread's end, not the daemons' CPU work", r.Speedup.AsProcesses, l)
	}
	if verdict(r, diagnosis.CPUSaturated) != nil && strings.Contains(verdict(r, diagnosis.CPUSaturated).Text, "neither a free-threaded Python nor processes is estimated faster") {
		t.Errorf("cpu-saturated says processes would not help: %s", verdict(r, diagnosis.CPUSaturated).Text)
	}
}

// TestStoppedAtTheBoundNoDaemons: a virtual run that the recorder's bound
// stopped left its threads mid-work: they are no daemons, and bound the
// estimates by the cores as any (QA: 1000 threads on 8 cores, all but one
// taken for daemons, "as processes 44.83x on 8 cores"). 16 threads take
// turns on the GIL, 1 ms a hold, 4 rounds; none ends.
func TestStoppedAtTheBoundNoDaemons(t *testing.T) {
	const ms = int64(time.Millisecond)
	b := testkit.New("many")
	p := b.Process("python", 1)
	count := b.Func("count", 3)
	gil := tracer.LockID(0)
	var ths []*testkit.Thread
	for i := range 16 {
		th := b.Thread(p, fmt.Sprintf("w-%d", i)).Start(0)
		if i > 0 {
			th.Wait(10, gil)
		}
		ths = append(ths, th)
	}
	at := int64(20)
	for round := range 4 {
		for i, th := range ths {
			if round > 0 || i > 0 {
				th.Acquire(at, gil, tracer.AcquireForced)
			} else {
				th.Acquire(at, gil, tracer.AcquireUncontended)
			}
			if round == 0 {
				th.Call(at+1, count)
			}
			at += ms
			th.Release(at, gil, tracer.ReleaseDropRequest).Wait(at+1, gil)
			at += 10
		}
	}
	tr := b.Trace()
	tr.Meta.Cores, tr.Meta.GOMAXPROCS = 8, 0
	tr.Meta.Extra = map[string]string{"clock": "virtual"}
	tr.Meta.Extra["stopped_at_bound"] = "true"
	tr.Dropped = 1000
	sp := diagnosis.Analyze(tracer.Derive(tr)).Speedup
	if sp.AsProcesses > 8.01 || sp.WithoutGIL > 8.01 {
		t.Errorf("stopped at the bound: estimated %.2fx as processes, %.2fx without a GIL on 8 cores (limit %+v)", sp.AsProcesses, sp.WithoutGIL, sp.Limit)
	}
}
