package tracer

import (
	"cmp"
	"slices"
)

// Poll is a thread's loop that waits for other threads by sleeping until
// they have ended (`while any(t.is_alive() for t in ts): time.sleep(0.1)`,
// a common way to wait that Ctrl-C can interrupt): its state spans First
// to Last (a sleep), from the start of the first to the end of the last;
// Targets, the threads that ended meanwhile, in the order they ended, the
// last at LastEnd, inside the last sleep. Replayed or estimated as sleeps
// of their recorded lengths, such a loop lasts as long however much
// sooner the threads it waits for end (QA: a main thread polling 2
// hashing threads every 100 ms made processes "4 % faster, limited by its
// sleeps", where they were 40-50 % faster): it is a join of them, then
// the rest of the sleep in which the last ended.
type Poll struct {
	First, Last int // the poll's state spans, ThreadStates(thread)[First:Last+1]
	From, To    int64
	LastEnd     int64
	Targets     []ThreadID
}

// A poll has at least pollMinSleeps sleeps (I/O kind "sleep"), each at
// least pollMinSleep, with between them only short stretches of anything
// else (at most pollMaxGap, or a fifth of the sleep after them: checking
// the threads, waiting for the GIL).
const (
	pollMinSleeps = 3
	pollMinSleep  = 1_000_000 // 1 ms
	pollMaxGap    = 2_000_000 // 2 ms
)

// Polls finds, by thread, a loop that polls other threads with sleeps
// until they end (Poll): a thread's last run of sleeps is one when the
// other threads of its process that started before it and ended during
// it include one that ended inside its last sleep (daemon threads,
// stopped as the process exits, end after it). Computed once.
func (s *Spans) Polls() map[ThreadID]*Poll {
	s.pollsOnce.Do(func() { s.polls = s.findPolls() })
	return s.polls
}

func (s *Spans) findPolls() map[ThreadID]*Poll {
	t := s.Trace
	out := map[ThreadID]*Poll{}
	si := slices.Index(t.Strings, "sleep")
	if si <= 0 {
		return out // no sleep in the trace
	}
	sleep := StringID(si)
	isSleep := func(sp *StateSpan) bool {
		return sp.State == StateIO && sp.IOKind == sleep && sp.End-sp.Start >= pollMinSleep
	}
	for id := range t.Threads {
		tid := ThreadID(id)
		if int(tid) >= len(s.Threads) {
			break
		}
		sts := s.ThreadStates(tid)
		last := -1
		for i := len(sts) - 1; i >= 0; i-- {
			if isSleep(&sts[i]) {
				last = i
				break
			}
		}
		if last < 0 {
			continue
		}
		first, sleeps := last, 1
		gap := int64(0) // since the sleep after
		for i := last - 1; i >= 0; i-- {
			sp := &sts[i]
			if isSleep(sp) {
				first, sleeps, gap = i, sleeps+1, 0
				continue
			}
			gap += sp.End - sp.Start
			if gap > max(pollMaxGap, (sts[first].End-sts[first].Start)/5) {
				break
			}
		}
		if sleeps < pollMinSleeps {
			continue
		}
		p := &Poll{First: first, Last: last, From: sts[first].Start, To: sts[last].End}
		inLast := false
		for j := range s.Threads {
			jt := &s.Threads[j]
			if j == id || !jt.Ended || t.Threads[j].Proc != t.Threads[tid].Proc || jt.Start >= p.From || jt.End <= p.From || jt.End > p.To {
				continue
			}
			p.Targets = append(p.Targets, ThreadID(j))
			p.LastEnd = max(p.LastEnd, jt.End)
			inLast = inLast || jt.End >= sts[last].Start
		}
		if !inLast {
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
	var slept int64
	for _, sp := range s.ThreadStates(id)[p.First : p.Last+1] {
		if sp.State == StateIO {
			slept += sp.End - sp.Start
		}
	}
	return max(slept-(p.To-p.LastEnd), 0)
}
