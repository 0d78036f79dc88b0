package diagnosis

import (
	"fmt"

	"github.com/giltrace/giltrace/internal/textfmt"
	"github.com/giltrace/giltrace/tracer"
)

// ExtraIOAwakeByThread is the recorder's readings of a real program's
// threads in blocking I/O calls, by thread: "ID:awake/readings", comma-
// separated, the trace's thread IDs; awake are those that found the thread
// running or runnable rather than asleep (source/cpython).
const ExtraIOAwakeByThread = "io_awake_by_thread"

// CoreIO is how much of a real program's blocking I/O was CPU: the
// readings of its threads in I/O calls that found them running or
// runnable, not asleep. A call runs in the kernel (copying a file read
// from the page cache, a socket's data) and, once what it waited for has
// come, waits for a core before it returns; on a core that the program's
// other threads keep busy, that wait grows with the threads. The trace
// sees the whole call as I/O, which the overlap and the estimates count
// as work that runs in parallel (QA: a pool of 16 on one core, its tasks'
// cached file reads 17 ms with one worker and 340 ms with 16, "achieved
// 3.86x" where it ran 3.0x as fast as one worker, and 2.94x with 4
// workers, which ran 3.1x as fast: the figures favoured 16).
type CoreIO struct {
	Readings int64   `json:"readings"` // readings of the threads in I/O calls
	Awake    int64   `json:"awake"`    // of them, running or runnable
	Share    float64 `json:"share"`    // Awake / Readings
	IONS     int64   `json:"io_ns"`    // the I/O of the threads read, summed
	// AwakeNS is each thread's I/O times its readings' awake share,
	// summed: the I/O time that was CPU or a wait for a core, estimated.
	AwakeNS int64 `json:"awake_ns"`
	// High: at least CoreIOMinReadings awake readings, AwakeNS
	// CoreIOShare of IONS or more, and CoreIOWallShare of the wall, in a
	// run that kept its cores full (Machine.CoresUsed CoresFullShare or
	// more): with a core free, the kernel's work in the calls ran beside
	// the rest, as the overlap counts it (QA's cached file reads, 4
	// threads on 2 cores kept 54 % busy, are no distortion).
	High bool `json:"high"`
}

// CoreIOShare: the least share of the threads' I/O that the readings must
// find running or waiting for a core for CoreIO.High.
const CoreIOShare = 0.2

// CoreIOWallShare: and the least share of the run's wall that time must
// be, so that a few busy calls of a long run do not flag it.
const CoreIOWallShare = 0.1

// CoreIOMinReadings: and at least this many awake readings.
const CoreIOMinReadings = 10

// coreIOMinThreadReadings: a thread's own share is taken from this many
// readings of it; a thread with fewer takes the run's.
const coreIOMinThreadReadings = 5

// coreIO fills r.CoreIO from a real program's readings, when recorded.
func (a *analysis) coreIO() {
	byThread := readingsByThread(a.t.Meta.Extra[ExtraIOAwakeByThread])
	if byThread == nil {
		return
	}
	var awake, reads int64
	for _, r := range byThread {
		awake, reads = awake+r[0], reads+r[1]
	}
	if reads <= 0 {
		return
	}
	share := textfmt.Share(awake, reads)
	ioOf := make([]int64, len(a.t.Threads))
	for _, sp := range a.s.States {
		if sp.State == tracer.StateIO && int(sp.Thread) < len(ioOf) {
			ioOf[sp.Thread] += sp.End - sp.Start
		}
	}
	var io, awakeNS int64
	for i, d := range ioOf {
		sh := share
		if r := byThread[tracer.ThreadID(i)]; r[1] >= coreIOMinThreadReadings {
			sh = textfmt.Share(r[0], r[1])
		}
		io += d
		awakeNS += int64(sh * float64(d))
	}
	full := a.r.Machine != nil && a.r.Machine.CoresUsed >= CoresFullShare
	a.r.CoreIO = &CoreIO{Readings: reads, Awake: awake, Share: round3(share), IONS: io, AwakeNS: awakeNS,
		High: full && awake >= CoreIOMinReadings && float64(awakeNS) >= CoreIOShare*float64(io) && float64(awakeNS) >= CoreIOWallShare*float64(a.wallNS)}
}

// Text is the sentence that says how much of the I/O was CPU or a wait
// for a core, and what that does to the figures; "" unless High.
func (c *CoreIO) Text() string {
	if c == nil || !c.High {
		return ""
	}
	return fmt.Sprintf("%d of the %d readings of its threads in blocking I/O calls (%s) found them running or waiting for a core, not asleep, in a run that kept its cores full: the kernel's work in the calls (a file read from the page cache, a socket's copies) and, once what they waited for had come, a wait for a core the other threads kept busy. So about %s of their %s of I/O was CPU, which grows with the threads where the cores are few. "+
		"The overlap and the estimates count it as I/O that runs in parallel, so they rise with it as threads are added where the program itself may run no faster: time the program at each thread count to compare them.",
		c.Awake, c.Readings, textfmt.Pct0(c.Share), textfmt.Dur(c.AwakeNS), textfmt.Dur(c.IONS))
}
