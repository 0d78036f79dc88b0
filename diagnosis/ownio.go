package diagnosis

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/giltrace/giltrace/internal/textfmt"
	"github.com/giltrace/giltrace/tracer"
)

// The recorder's readings of a real program's threads asleep in blocking
// I/O (source/cpython, ownio.go), in the trace's Extra metadata.
const (
	// ExtraIOReadings counts the readings of a thread's scheduler state
	// that found it asleep in an I/O call.
	ExtraIOReadings = "io_readings"
	// ExtraOwnIOReadings counts those of them that found it waiting on a
	// pipe or a loopback TCP connection whose other end its own process
	// holds.
	ExtraOwnIOReadings = "own_io_readings"
	// ExtraOwnIOByThread is both by thread: "ID:own/readings", comma-
	// separated, the trace's thread IDs.
	ExtraOwnIOByThread = "own_io_by_thread"
)

// OwnIOShare: a real program whose threads, found asleep in blocking I/O,
// waited on a pipe or loopback connection of their own process this
// share of the time or more waits on itself (OwnIO.High).
const OwnIOShare = 0.25

// OwnIOMinReadings: and at least this many readings found it so, so that
// a few readings of a program that talks to itself once do not flag it.
const OwnIOMinReadings = 10

// OwnIO is how much of a real program's blocking I/O waited for its own
// threads: the readings of its threads asleep in I/O calls that found
// them waiting on a pipe whose read and write ends the process holds, or on a
// loopback TCP connection whose two sockets it holds (an in-process
// server, a message passed between threads). The trace sees such a wait
// as I/O, which the overlap and the estimates count as work that runs in
// parallel; it is a wait for another thread's work (QA: two threads
// passing a message over os.pipe, 0.86x measured against one thread, were
// "scales, 1.84x").
type OwnIO struct {
	Readings int64   `json:"readings"` // readings that found a thread asleep in an I/O call
	Own      int64   `json:"own"`      // of them, waiting on the process's own pipe or connection
	Share    float64 `json:"share"`    // Own / Readings
	IONS     int64   `json:"io_ns"`    // the threads' I/O on descriptors (not sleeps, nor waits for a connection, a lock or a process), summed
	// OwnNS is Share of IONS (each thread's own share of its I/O, when the
	// readings are by thread): the I/O time that waited for the program's
	// own threads, estimated from the readings.
	OwnNS int64 `json:"own_ns"`
	// CaughtNS is the time of the calls that the readings found on the
	// process's own pipes and connections (I/O "own-io",
	// tracer.OwnIOKind) and that another thread's write ended
	// (tracer.Spans.Writer), which the figures take as waits for that
	// thread, not as work.
	CaughtNS int64 `json:"caught_ns"`
	// High: Own >= OwnIOMinReadings and Share >= OwnIOShare, and of OwnNS
	// what was not caught (CaughtNS, thread by thread when the readings are
	// by thread), counted as work, OwnIOShare of IONS or more.
	High bool `json:"high"`
	// byThread: each thread's own and all readings, when recorded
	// (ExtraOwnIOByThread).
	byThread map[tracer.ThreadID][2]int64
}

// ThreadWaitsOnItself reports whether thread id's own readings, when
// recorded by thread, make its blocking calls waits on the program's own
// pipes and connections: OwnIOShare of them at least, and High for the
// run. Without readings by thread (older traces), High for the run.
// Review: a thread downloading from an external server, beside a pipe
// ping-pong, was told its calls waited for its other threads.
func (o *OwnIO) ThreadWaitsOnItself(id tracer.ThreadID) bool {
	if o == nil || !o.High {
		return false
	}
	if o.byThread == nil {
		return true
	}
	r := o.byThread[id]
	return r[1] >= OwnIOThreadMinReadings && textfmt.Share(r[0], r[1]) >= OwnIOShare
}

// OwnIOThreadMinReadings: a thread is said to wait on its own pipes and
// connections only from this many readings of it on a descriptor (review:
// one reading of three would do).
const OwnIOThreadMinReadings = 5

// ownIO fills r.OwnIO from a real program's readings, when recorded.
func (a *analysis) ownIO() {
	n, ok := a.extraInt(ExtraIOReadings)
	if !ok || n <= 0 {
		return
	}
	own, _ := a.extraInt(ExtraOwnIOReadings)
	own = min(own, n)
	// The readings are of threads asleep on a descriptor: their share
	// is of the I/O on descriptors, not of sleeps, waits for a
	// connection, for a lock or for a process (review: an idle server's
	// 737 ms of waits for a connection made "about 923ms of their 1.19s"
	// of a ping-pong's 452 ms).
	// native-wait: an extension module's call its readings found asleep,
	// counted there, not here (review).
	notFD := tracer.NotDescriptorKindsOf(a.t)
	// Each thread's I/O on descriptors, and of it the calls caught on its
	// own pipes (I/O "own-io").
	ioOf := make([]int64, len(a.t.Threads))
	caughtOf := make([]int64, len(a.t.Threads))
	// unwritten: the calls on its own pipes that no thread's write ended
	// (a signal's wake-up descriptor, an event loop's timeout): no wait
	// for its threads, out of the estimate (review: asyncio.sleep's
	// waits were "a wait for its own threads' work").
	unwrittenOf := make([]int64, len(a.t.Threads))
	var io, caught, unwritten int64
	for _, sp := range a.s.States {
		if sp.State != tracer.StateIO || notFD[sp.IOKind()] || int(sp.Thread) >= len(ioOf) {
			continue
		}
		d := sp.End - sp.Start
		io += d
		ioOf[sp.Thread] += d
		switch {
		case a.ownWritten(int(sp.Thread), &sp):
			caught += d
			caughtOf[sp.Thread] += d
		case a.isOwnWait(&sp):
			unwritten += d
			unwrittenOf[sp.Thread] += d
		}
	}
	share := textfmt.Share(own, n)
	byThread := readingsByThread(a.t.Meta.Extra[ExtraOwnIOByThread])
	// The estimate of the waits on its own pipes, and of those not
	// caught: by thread, each thread's I/O times its own readings' share
	// (review: a file loader's 463 ms, none of its 9 readings own, was
	// counted at the share of two ping-pong threads' 80 readings, all
	// caught, and the warning fired), else the run's I/O times the run's.
	ownNS := max(int64(share*float64(io))-unwritten, 0)
	rest := max(ownNS-caught, 0)
	if byThread != nil {
		ownNS, rest = 0, 0
		for i := range ioOf {
			sh := share // a thread with no reading of its own: the run's
			if r := byThread[tracer.ThreadID(i)]; r[1] > 0 {
				sh = textfmt.Share(r[0], r[1])
			}
			o := max(int64(sh*float64(ioOf[i]))-unwrittenOf[i], 0)
			ownNS += o
			rest += max(o-caughtOf[i], 0)
		}
	}
	a.r.OwnIO = &OwnIO{Readings: n, Own: own, Share: round3(share), IONS: io, OwnNS: ownNS, CaughtNS: caught,
		High:     own >= OwnIOMinReadings && share >= OwnIOShare && float64(rest)+1 >= OwnIOShare*float64(io) && rest > 0, // +1: ownNS rounds down
		byThread: byThread}
}

// readingsByThread parses the recorder's readings by thread
// (ExtraOwnIOByThread, ExtraIOAwakeByThread): "ID:some/all", comma-
// separated; nil when absent or malformed.
func readingsByThread(v string) map[tracer.ThreadID][2]int64 {
	if v == "" {
		return nil
	}
	out := map[tracer.ThreadID][2]int64{}
	for _, part := range strings.Split(v, ",") {
		id, rest, ok := strings.Cut(part, ":")
		own, all, ok2 := strings.Cut(rest, "/")
		i, err1 := strconv.ParseUint(id, 10, 32)
		o, err2 := strconv.ParseInt(own, 10, 64)
		n, err3 := strconv.ParseInt(all, 10, 64)
		if !ok || !ok2 || err1 != nil || err2 != nil || err3 != nil || o < 0 || n < o {
			return nil
		}
		out[tracer.ThreadID(i)] = [2]int64{o, n}
	}
	return out
}

// Text is the sentence that says how much of the I/O waited for the
// program's own threads, and what that does to the figures; "" unless
// High.
func (o *OwnIO) Text() string {
	if o == nil || !o.High {
		return ""
	}
	counted := "The overlap and the estimates count all I/O as work that runs in parallel, and over-count"
	if o.CaughtNS > 0 {
		counted = fmt.Sprintf("The calls the readings caught so, %s, are taken as waits for the thread at the other end (I/O %s); the overlap and the estimates count the rest of the I/O as work that runs in parallel, and over-count", textfmt.Dur(o.CaughtNS), tracer.OwnIOKind)
	}
	return fmt.Sprintf("the program waits on itself: %d of the %d readings that found its threads asleep in blocking I/O (%s) found them waiting on a pipe or a loopback connection whose other end the same process holds (a message passed between its threads, an in-process server), so about %s of their %s of I/O was a wait for its own threads' work, not work of its own. %s; time the program with one thread to measure what its threads gain.",
		o.Own, o.Readings, textfmt.Pct0(o.Share), textfmt.Dur(o.OwnNS), textfmt.Dur(o.IONS), counted)
}

// OwnWaitShare is the least share of all the threads' summed wall that
// their waits on the program's own pipes and connections (I/O "own-io")
// must fill for a report without a verdict to say the threads wait for
// each other (OwnWaits).
const OwnWaitShare = 0.25

// ownWaits is Report.OwnWaits: nil under OwnWaitShare (review: two threads
// passing a message over os.pipe, their waits no longer counted as work,
// got no verdict and no word on why they ran 0.57x as fast as one thread).
func (a *analysis) ownWaits() *OwnWaits {
	if a.ownK <= 0 {
		return nil
	}
	var wait, wall int64
	waiting := map[tracer.ThreadID]bool{}
	for _, sp := range a.s.States {
		if a.ownWritten(int(sp.Thread), &sp) {
			wait += sp.End - sp.Start
			waiting[sp.Thread] = true
		}
	}
	for i := range a.r.Threads {
		wall += a.r.Threads[i].WallNS
	}
	share := textfmt.Share(wait, wall)
	if share < OwnWaitShare {
		return nil
	}
	sp := a.r.Speedup
	n := len(waiting)
	advice := "Fewer round trips between the threads would help, or the work done in one thread; more threads, processes or a free-threaded Python will not: the threads would still wait for each other."
	if a.better(sp.AsProcesses) || a.better(sp.WithoutGIL) {
		// The GIL's handoffs were part of the waits (consistent with the
		// estimates: review).
		advice = fmt.Sprintf("Fewer round trips between the threads would help most: the threads would still wait for each other however they ran, though without the GIL's handoffs the estimates give %s as processes and %s without a GIL (now %s).", textfmt.X(sp.AsProcesses), textfmt.X(sp.WithoutGIL), textfmt.X(sp.Achieved))
	}
	return &OwnWaits{Threads: n, WaitNS: wait, WallNS: wall, Share: round3(share),
		Text: fmt.Sprintf("%s that waited on the program's own pipes and connections (I/O %s) spent %s of all the threads' time there (%s of waiting), each for another of its threads to write: their work runs one piece after another, not side by side (now %s as fast as one thread would be; estimated %s as processes, %s without a GIL).",
			upperFirst(threadsPhrase(n)), tracer.OwnIOKind, textfmt.Pct0(share), textfmt.Dur(wait), textfmt.X(sp.Achieved), textfmt.X(sp.AsProcesses), textfmt.X(sp.WithoutGIL)),
		Advice: advice}
}
