package diagnosis

import (
	"strconv"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/tracer"
)

// waitersForChildren is a real program's 4 threads on 2 cores that wait,
// as I/O, for work the trace does not see (children running `sh -c`, a
// BLAS pool), with cpu_ns obtained recorded when cpu > 0.
func waitersForChildren(cpu func(wall, wanted int64) int64) *tracer.Trace {
	tr := testkit.IOThreads(4, 20)
	tr.Meta.Cores, tr.Meta.GOMAXPROCS = 2, 0
	tr.Meta.Extra = map[string]string{"source": "cpython"}
	if cpu != nil {
		wanted := Analyze(tracer.Derive(tr)).Work.CPUNS
		tr.Meta.Extra[ExtraCPU] = strconv.FormatInt(cpu(tr.Duration(), wanted), 10)
	}
	return tr
}

// TestOutsideCPUFillsCores: a real program whose processes obtained well
// more CPU time than its traced threads ran (children it waited for, a
// native library's own threads) and kept the cores full is cpu-saturated,
// not "scales": the threads' waits for that work took cores, which the
// overlap counts as parallel work (QA: 4 threads waiting for `sh -c`
// children, obtained 7.9 times their CPU time, 1.71 of 2 cores: "scales,
// 3.18x", where 2 cores capped them at 1.75x). The same threads without
// the CPU time recorded, or with the cores not full, or as the VM's, keep
// their verdict; the note of the CPU time outside is in the report.
func TestOutsideCPUFillsCores(t *testing.T) {
	base := Analyze(tracer.Derive(waitersForChildren(nil)))
	if base.VerdictCodes() != Scales {
		t.Fatalf("without cpu_ns: verdicts %s, want scales (the setting's premise)", base.VerdictCodes())
	}
	full := func(wall, _ int64) int64 { return 2 * wall * 9 / 10 }
	r := Analyze(tracer.Derive(waitersForChildren(full)))
	m := r.Machine
	if m == nil || m.OutsideCPUNS <= 0 || !m.CoresFull || m.Busy {
		t.Fatalf("machine %+v: want CPU time outside the threads, the cores full, not busy", m)
	}
	if r.VerdictCodes() != CPUSaturated {
		t.Fatalf("verdicts %s, want cpu-saturated alone", r.VerdictCodes())
	}
	if v := r.Verdicts[0]; !strings.Contains(v.Text, "outside the traced threads") || !strings.Contains(v.Text, "the cores were full") {
		t.Errorf("text %q: want the CPU time outside the traced threads and the full cores", v.Text)
	}
	if want := round3(float64(r.Speedup.SerialEquivNS) / float64(m.CPUNS/2)); r.Speedup.WithoutGIL > max(want, r.Speedup.Achieved) || r.Speedup.AsProcesses > max(want, r.Speedup.Achieved) {
		t.Errorf("estimates %v, %v: want at most the work over the CPU time obtained over the cores, %v", r.Speedup.WithoutGIL, r.Speedup.AsProcesses, want)
	}
	// Outside CPU time, cores not full: the note, not the verdict.
	half := func(wall, _ int64) int64 { return wall / 2 }
	r = Analyze(tracer.Derive(waitersForChildren(half)))
	if m := r.Machine; m == nil || m.OutsideCPUNS <= 0 || m.CoresFull {
		t.Fatalf("half a core: machine %+v, want CPU time outside, cores not full", m)
	}
	if hasCode(r.Verdicts, CPUSaturated) {
		t.Errorf("half a core: verdicts %s, want no cpu-saturated", r.VerdictCodes())
	}
	// No more than the threads wanted: nothing outside.
	same := func(_, wanted int64) int64 { return wanted }
	if r := Analyze(tracer.Derive(waitersForChildren(same))); r.Machine == nil || r.Machine.OutsideCPUNS != 0 || r.VerdictCodes() != Scales {
		t.Errorf("obtained as wanted: machine %+v, verdicts %s; want nothing outside, scales", r.Machine, r.VerdictCodes())
	}
	// Review: a trace cut short wants the CPU time of its part of the run
	// only, where the program's CPU time is all of it; the system time
	// (the probes' traps, the kernel's work in blocking calls) is no work
	// outside the threads.
	for name, edit := range map[string]func(*tracer.Trace){
		"dropped events": func(tr *tracer.Trace) { tr.Dropped = 1000 },
		"truncated":      func(tr *tracer.Trace) { tr.Truncated = true },
		"lost hits":      func(tr *tracer.Trace) { tr.Meta.Extra["lost_events"] = "12" },
		"system time": func(tr *tracer.Trace) {
			cpu, _ := strconv.ParseInt(tr.Meta.Extra[ExtraCPU], 10, 64)
			tr.Meta.Extra[ExtraSysCPU] = strconv.FormatInt(cpu*9/10, 10)
		},
	} {
		tr := waitersForChildren(full)
		edit(tr)
		if r := Analyze(tracer.Derive(tr)); r.Machine == nil || r.Machine.OutsideCPUNS != 0 || r.Machine.CoresFull || hasCode(r.Verdicts, CPUSaturated) {
			t.Errorf("%s: machine %+v, verdicts %s; want nothing outside the threads", name, r.Machine, r.VerdictCodes())
		}
	}
	// The VM's own runs: its CPU time carries the Go runtime's.
	tr := waitersForChildren(full)
	delete(tr.Meta.Extra, "source")
	if r := Analyze(tracer.Derive(tr)); r.Machine == nil || r.Machine.OutsideCPUNS != 0 || r.Machine.CoresFull {
		t.Errorf("a VM run: machine %+v, want nothing outside", r.Machine)
	}
}

// TestBusyMachineBelowResolution: a real program's CPU time is counted in
// clock ticks: threads that wanted less than a few ticks are not "busy"
// for obtaining 0 (QA: an idle attached server, "obtained 0 % (0ns of
// 203us)"); nor is an idle thread told it could run thousands of times as
// fast split over the cores ("at most 19708.71x").
func TestBusyMachineBelowResolution(t *testing.T) {
	b := testkit.New("idle")
	p := b.Process("python", 1)
	th := b.Thread(p, "MainThread")
	th.Start(0).Acquire(10, 0, tracer.AcquireUncontended).Call(20, b.Func("serve", 3)).
		IOBegin(100*us, "select").Release(100*us+10, 0, tracer.ReleaseIO).IOEnd(2000*ms).
		Acquire(2000*ms+10, 0, tracer.AcquireUncontended).Return(2000*ms+20).Release(2000*ms+30, 0, tracer.ReleaseThreadEnd).End(2000*ms + 40)
	tr := b.Trace()
	tr.Meta.Cores = 2
	tr.Meta.Extra = map[string]string{"source": "cpython", ExtraCPU: "0"}
	r := Analyze(tracer.Derive(tr))
	if r.Machine == nil || r.BusyMachine || r.Machine.Busy {
		t.Errorf("machine %+v: want not busy below the CPU time's resolution", r.Machine)
	}
	if len(r.Verdicts) != 1 || strings.Contains(r.Verdicts[0].Advice, "at most") {
		t.Errorf("verdicts %+v: want single-threaded without a bound on splitting its waits", r.Verdicts)
	}
}
