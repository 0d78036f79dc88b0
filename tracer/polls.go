package tracer

import (
	"cmp"
	"slices"
)

// Poll is a thread's loop that waits for other threads by sleeping until
// they have ended (`while any(t.is_alive() for t in ts): time.sleep(0.1)`,
// or `done.wait(0.1)` on an Event never set, when its timed waits are
// known to have run out, I/O "lock-timeout": a common way to wait that
// Ctrl-C can interrupt): its state spans First to Last (a sleep), from the
// start of the first to the end of the last; Targets, the threads that
// ended meanwhile, in the order they ended, the last at LastEnd, inside
// the last sleep. Replayed or estimated as sleeps of their recorded
// lengths, such a loop lasts as long however much sooner the threads it
// waits for end (QA: a main thread polling 2 hashing threads every 100 ms
// made processes "4 % faster, limited by its sleeps", where they were
// 40-50 % faster): it is a join of them, then the rest of the sleep in
// which the last ended.
type Poll struct {
	First, Last int // the poll's state spans, ThreadStates(thread)[First:Last+1]
	From, To    int64
	LastEnd     int64
	Targets     []ThreadID
	Slept       int64 // its sleeps, summed
}

// A poll has at least pollMinSleeps sleeps (I/O "sleep", or a wait with a
// timeout that ended without its lock: I/O "lock-timeout"), each at least
// pollMinSleep, with between two of them at most pollMaxGap of anything
// but waiting for the GIL (checking the threads), and at most a fifth of
// the sleep after of waiting for the GIL.
const (
	pollMinSleeps = 3
	pollMinSleep  = 1_000_000 // 1 ms
	pollMaxGap    = 2_000_000 // 2 ms
)

// Polls finds, by thread, a loop that polls other threads with sleeps
// until they end (Poll). A thread's last run of sleeps is one when:
//   - the threads of its process that started before it and ended during
//     it include one that ended inside its last sleep;
//   - every thread of its process that was alive when it began, and that
//     ended, ended by its end: it waited for all of them (a main thread
//     that paces a fixed number of ticks while workers run, one of them
//     ending in its last tick, is no poll: the other ends later; nor a
//     worker that sleeps in a loop beside another, the main thread living
//     on; QA). Threads that never ended (daemons, stopped as the process
//     exits; every thread still running when an attach ended, the main
//     thread included) do not count (QA: at the end of an attach, the
//     main thread's sleep loop and a worker's were each taken for a poll
//     of the other, and the model's joins deadlocked);
//   - no thread of its process started during it (a loop that starts
//     threads between its sleeps does more than wait).
//
// Computed once.
func (s *Spans) Polls() map[ThreadID]*Poll {
	s.pollsOnce.Do(func() { s.polls = s.findPolls() })
	return s.polls
}

func (s *Spans) findPolls() map[ThreadID]*Poll {
	t := s.Trace
	out := map[ThreadID]*Poll{}
	// The kinds of a sleep: two IDs compared, not a map (a lookup per
	// span of the pass below).
	var sleepK, timeoutK StringID = 1<<32 - 1, 1<<32 - 1
	if i := slices.Index(t.Strings, "sleep"); i > 0 {
		sleepK = StringID(i)
	}
	if i := slices.Index(t.Strings, "lock-timeout"); i > 0 {
		timeoutK = StringID(i)
	}
	if sleepK == 1<<32-1 && timeoutK == 1<<32-1 {
		return out // no sleep in the trace
	}
	isSleep := func(sp *StateSpan) bool {
		return sp.State == StateIO && (sp.IOKind() == sleepK || sp.IOKind() == timeoutK) && sp.End-sp.Start >= pollMinSleep
	}
	// Each thread's last sleep, in one pass over every span (looking back
	// from each thread's end passed every span of a thread that never
	// slept, 12 % of the diagnosis of a 1.92 M-event run; looking back a
	// few hundred spans missed a poll followed by its results' logging,
	// review).
	lastSleep := make([]int, len(s.Threads))
	for i := range lastSleep {
		lastSleep[i] = -1
	}
	for i := range s.States {
		if sp := &s.States[i]; isSleep(sp) && int(sp.Thread) < len(lastSleep) {
			lastSleep[sp.Thread] = i
		}
	}
	var ended []bool // endedItself, once a thread has a run of sleeps
	for id := range t.Threads {
		tid := ThreadID(id)
		if int(tid) >= len(s.Threads) {
			break
		}
		if lastSleep[id] < 0 {
			continue
		}
		sts := s.ThreadStates(tid)
		last := lastSleep[id] - s.stateStart[id]
		first, sleeps, slept := last, 1, sts[last].End-sts[last].Start
		var busy, gilWait int64 // since the sleep after
		for i := last - 1; i >= 0; i-- {
			sp := &sts[i]
			if isSleep(sp) {
				first, sleeps, busy, gilWait = i, sleeps+1, 0, 0
				slept += sp.End - sp.Start
				continue
			}
			if sp.State == StateGILWait {
				gilWait += sp.End - sp.Start
			} else {
				busy += sp.End - sp.Start
			}
			if busy > pollMaxGap || gilWait > (sts[first].End-sts[first].Start)/5 {
				break
			}
		}
		if sleeps < pollMinSleeps {
			continue
		}
		p := &Poll{First: first, Last: last, From: sts[first].Start, To: sts[last].End, Slept: slept}
		if ended == nil {
			ended = s.endedItself()
		}
		inLast, all := false, true
		for j := range s.Threads {
			jt := &s.Threads[j]
			if j != id && t.Threads[j].Proc == t.Threads[tid].Proc && p.From < jt.Start && jt.Start < p.To {
				all = false // a thread started during it: a loop that starts threads, not only waits
				break
			}
			if j == id || !ended[j] || t.Threads[j].Proc != t.Threads[tid].Proc || jt.Start >= p.From || jt.End <= p.From {
				continue
			}
			if jt.End > p.To {
				all = false // alive when the loop began, it outlived it
				break
			}
			p.Targets = append(p.Targets, ThreadID(j))
			p.LastEnd = max(p.LastEnd, jt.End)
			inLast = inLast || jt.End >= sts[last].Start
		}
		if !inLast || !all {
			continue
		}
		slices.SortStableFunc(p.Targets, func(a, b ThreadID) int { return cmp.Compare(s.Threads[a].End, s.Threads[b].End) })
		out[tid] = p
	}
	return out
}

// PollWait is the part of thread id's sleeps that waited for other
// threads in its poll (Polls): the poll's sleeps but for the rest of the
// one in which the last of them ended; 0 for a thread without one.
func (s *Spans) PollWait(id ThreadID) int64 {
	p := s.Polls()[id]
	if p == nil {
		return 0
	}
	return max(p.Slept-(p.To-p.LastEnd), 0)
}
