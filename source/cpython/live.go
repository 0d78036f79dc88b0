package cpython

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/giltrace/giltrace/tracer"
)

// The live recording (tracer.LiveSource): the machine keeps each thread's
// events until it knows what they were (a blocking call's kind, a
// thread's name, which locks matter), and the final trace is made of them
// at the end. So that a crash of giltrace still leaves the run so far on
// disk, publishLive emits them, as they are kept, into a second recorder
// that a tracer.Stream writes as it goes, with a blocking call that goes
// on emitted early, provisionally, as what it most likely is.
//
// That file is read as a trace cut off at a sync time, and a prefix that
// breaks the protocol is not read at all (tracer's prefix: earlier sync
// times are tried, up to 16, then nothing is kept). So a guess that turns
// out wrong is translated into events that keep the live recording valid
// (publishLive), and an event that could still break it stops the live
// recording there (stopLive): a crash then leaves the run up to that
// point, where a broken recording left nothing once it was seconds old
// (CI: a main thread's Thread.join, whose lock's probe hit was handled
// more than a millisecond after its GIL release on a loaded machine, was
// published as I/O, then ended as a lock wait: every later prefix was
// invalid, and the partial trace of a 20 s run was empty).

// liveSame checks that a row has the same ID in the live recording as in
// rec; if not (a row added to one and not the other), the live recording
// gets nothing more: a crash would leave its prefix.
func (m *machine) liveSame(id, live int) {
	if id != live {
		m.liveBroken = true
	}
}

// provisional is a blocking call (a section) whose start and GIL release
// were emitted into the live recording while it went on: the machine
// emits a section's events only at its end, when it knows what it was,
// and a thread shown holding the GIL until then (a main thread in
// Thread.join for the whole run) would make every later acquire in the
// live recording invalid.
type provisional struct {
	sec        *section
	begin      tracer.Kind   // the kind of its first event: LockWait, IOBegin or NativeBegin
	lock       tracer.LockID // a lock wait's lock
	own        bool          // the lock wait's lock was the thread's own: let go as the wait began
	begun, rel bool          // the section's own begin and release seen (and left out)
}

// liveState is what a thread's events in the live recording have left it
// in, as the validity check (tracer.CheckValid) follows it: each event is
// checked against it before it is emitted there (liveEmit).
type liveState struct {
	gil     bool            // holds its process's GIL
	call    tracer.Kind     // IOBegin or NativeBegin: the call it is in, or 0
	waiting bool            // waits for lock wait
	wait    tracer.LockID   // (waiting) a guest lock or its GIL
	held    []tracer.LockID // the guest locks it holds
	// end: the translation of the end of a provisional call that turned
	// out otherwise (provisionalEvent): the next event of kind end.from
	// (of lock end.lock, for an acquire) is emitted as end.to (of lock
	// end.toLock, for an acquire), or stops the live recording if end.to
	// is 0.
	end struct {
		from, to     tracer.Kind
		lock, toLock tracer.LockID
	}
}

// liveEvent is an event as the live recording gets it: lock events name
// its locks.
type liveEvent struct {
	t    int64
	kind tracer.Kind
	st   tracer.StackID
	lock tracer.LockID // a wait's, acquire's or release's lock, else NoLock
	gil  bool          // lock is the thread's GIL
	code uint8         // the acquire's or release's code
	arg  uint64        // the argument of the other events
}

// publishLive emits into the live recording the events kept since its
// last call, each thread's in order: the threads are named for now
// ("thread TID", or MainThread), every guest lock is in (named as it is
// now), and a drop request names its holder by the holder's live thread.
// A thread inside a blocking call that released the GIL gets the call's
// begin and release now (provisional); when the call ends, its own begin
// and release are left out, and an end other than guessed is translated
// (provisionalEvent).
func (m *machine) publishLive() {
	if m.live == nil || m.liveBroken {
		return
	}
	for i, th := range m.order {
		m.publishThread(th, math.MaxInt64)
		if !m.liveBroken {
			m.publishSection(th, math.MaxInt64)
		}
		if m.liveBroken {
			if m.liveStop != "" {
				m.finishStop(m.order[i+1:])
			}
			return
		}
	}
	if m.liveHorizon > 0 {
		// A thread blocked in a call emitted provisionally emits nothing
		// more until the call's end, which is a hit not handled yet: the
		// stream's sync times need not stay a flush behind for it (the
		// partial trace of a program whose main thread waits in
		// Thread.join lost about 0.25 s more to a crash).
		for _, th := range m.order {
			if pr := th.prov; pr != nil && pr.sec == th.sec && th.live != nil && !th.ended {
				th.live.Quiet(m.liveHorizon)
			}
		}
	}
}

// finishStop completes the live recording up to its stop: the events
// before it of the threads after the stopped one in the pass (those
// before it were published up to now), and their blocking calls begun
// before it. A thread whose GIL release for a blocking call is still not
// in (a call too young, or not yet read, to be emitted provisionally)
// would be shown holding the GIL past it, while others take it: the cut
// comes down to that release (review: a thread's sleep begun 1 ms before
// the stop left the partial trace invalid there).
func (m *machine) finishStop(rest []*thread) {
	for _, o := range rest {
		m.publishThread(o, m.liveStopAt)
		m.publishSection(o, m.liveStopAt)
	}
	cut := m.liveStopAt
	for _, o := range m.order {
		if s := o.sec; s != nil && s.dropped && !o.ended && (o.prov == nil || o.prov.sec != s) {
			cut = min(cut, s.drop)
		}
	}
	if cut < m.liveStopAt {
		m.liveStopAt = cut
		m.liveStopBuf.Cut(cut)
	}
}

// publishSection emits th's blocking call provisionally (provisionalSection)
// if it has gone on long enough and released the GIL before time before.
func (m *machine) publishSection(th *thread, before int64) {
	if pr := th.prov; pr != nil && pr.sec != th.sec && pr.begun && pr.rel {
		th.prov = nil
	}
	if s := th.sec; s != nil && s.dropped && s.drop < before && th.prov == nil && !th.ended && m.now-s.drop > provisionalAfter {
		m.provisionalSection(th, s)
	}
}

// publishThread emits th's kept events before time before into the live
// recording, until it stops.
func (m *machine) publishThread(th *thread, before int64) {
	stopped := m.liveBroken
	for ; th.liveN < len(th.events) && th.events[th.liveN].t < before; th.liveN++ {
		if m.liveBroken && !stopped {
			return // stopped at th's event (stopLive)
		}
		e := &th.events[th.liveN]
		if m.provisionalEvent(th, e) {
			continue
		}
		m.liveEmit(th, m.liveEventOf(th, e))
	}
}

// liveEventOf is kept event e of th as the live recording names it.
func (m *machine) liveEventOf(th *thread, e *pending) liveEvent {
	ev := liveEvent{t: e.t, kind: e.kind, st: e.st, lock: tracer.NoLock, arg: e.arg}
	switch {
	case e.peer != nil:
		ev.arg = tracer.DropArg(th.p.liveGIL, m.liveThread(e.peer).Thread())
	case e.lock != nil:
		ev.lock, ev.code = m.liveLock(e.lock), uint8(e.arg)
	case e.kind == tracer.KindLockWait || e.kind == tracer.KindLockAcquire || e.kind == tracer.KindLockRelease:
		ev.lock, ev.gil, ev.code = th.p.liveGIL, true, uint8(e.arg>>32)
	case e.kind == tracer.KindIOBegin:
		ev.arg = uint64(m.live.Intern(m.strs[tracer.StringID(e.arg)]))
	}
	return ev
}

// provisionalEvent handles kept event e of th, whose blocking call was
// emitted provisionally, and reports whether it is left out: the call's
// own begin and GIL release are (the provisional ones stand for them).
// A call guessed otherwise than it ended is translated:
//   - published as I/O, ended as native work (or the other way): the
//     live recording keeps the kind it began with, and ends it so;
//   - published as I/O or native work, ended as a lock wait (a timed
//     wait that got its lock, or a wait whose lock's probe hit came late):
//     the acquire that ends the wait ends that call there, and the lock is
//     not shown held there (its release is left out: liveEmit);
//   - published as a lock wait, ended without the lock (a signal
//     interrupted it, or another thread is shown holding it): the live
//     recording, which can end a wait only with its lock, stops at the
//     wait's end (a thread that ends waiting is valid).
func (m *machine) provisionalEvent(th *thread, e *pending) bool {
	pr := th.prov
	if pr == nil || pr.sec == th.sec || pr.begun && pr.rel {
		return false
	}
	st := &th.lst
	wait := e.kind == tracer.KindLockWait && e.lock != nil
	end := func(from, to tracer.Kind, lock, toLock tracer.LockID) bool {
		pr.begun = true
		st.end.from, st.end.to, st.end.lock, st.end.toLock = from, to, lock, toLock
		return true
	}
	switch {
	case pr.begun:
	case wait && pr.begin == tracer.KindLockWait:
		if l := m.liveLock(e.lock); l != pr.lock && pr.own {
			// Its own lock, let go by another thread while it waited,
			// was taken by a third one before it woke: the final trace
			// shows another lock at that address (rule 4), which its
			// wait ends with; the live recording ends its wait with its
			// own, which nobody else takes since.
			return end(tracer.KindLockAcquire, tracer.KindLockAcquire, l, pr.lock)
		}
		pr.begun = true
		return true
	case e.kind == pr.begin && callBegin(e.kind):
		pr.begun = true
		return true
	case callBegin(pr.begin) && callBegin(e.kind):
		return end(callEnd(e.kind), callEnd(pr.begin), tracer.NoLock, tracer.NoLock)
	case callBegin(pr.begin) && wait:
		return end(tracer.KindLockAcquire, callEnd(pr.begin), m.liveLock(e.lock), tracer.NoLock)
	case pr.begin == tracer.KindLockWait && callBegin(e.kind):
		// Valid up to the call's end (a thread may end waiting), where
		// the live recording, which can end a wait only with its lock,
		// stops.
		return end(callEnd(e.kind), 0, tracer.NoLock, tracer.NoLock)
	}
	if !pr.rel && e.kind == tracer.KindLockRelease && e.lock == nil && e.peer == nil {
		pr.rel = true
		return true
	}
	return false
}

// liveEmit emits ev into th's live recording, translated if a provisional
// call's end says so (provisionalEvent), once it is checked against the
// thread's state there: an event that would break the protocol stops the
// live recording instead (stopLive). A guest lock's release by a thread
// that the live recording does not show holding it is left out, and so is
// one inside a call published from before it (kept held: the final trace
// takes the lock again at the wait's end, which ends that call instead).
func (m *machine) liveEmit(th *thread, ev liveEvent) {
	st := &th.lst
	if end := st.end; end.from != 0 && ev.kind == end.from && (end.from != tracer.KindLockAcquire || !ev.gil && ev.lock == end.lock) {
		st.end.from = 0
		if end.to == 0 {
			m.stopLive(th, ev.t, ev.kind, "a lock wait emitted before its end ended without the lock")
			return
		}
		ev = liveEvent{t: ev.t, kind: end.to, st: ev.st, lock: end.toLock, code: ev.code}
	}
	running := th.p.liveGIL == tracer.NoLock || st.gil // may run Python code
	why := ""
	switch ev.kind {
	case tracer.KindLockWait:
		switch {
		case st.waiting:
			why = "a wait inside a wait"
		case ev.gil && st.gil:
			why = "a wait for the GIL it holds"
		case !ev.gil && !running:
			why = "a lock wait without the GIL"
		case !ev.gil && slices.Contains(st.held, ev.lock):
			why = "a wait for a lock it holds"
		}
		st.waiting, st.wait = true, ev.lock
	case tracer.KindLockAcquire:
		how := tracer.Acquire(ev.code)
		switch {
		case how == tracer.AcquireUncontended && st.waiting:
			why = "an uncontended acquire inside a wait"
		case how != tracer.AcquireUncontended && (!st.waiting || st.wait != ev.lock):
			why = "an acquire after no wait for it"
		case ev.gil && st.gil:
			why = "an acquire of the GIL it holds"
		case !ev.gil && slices.Contains(st.held, ev.lock):
			why = "an acquire of a lock it holds"
		case !ev.gil && how == tracer.AcquireUncontended && !running:
			why = "a lock acquire without the GIL"
		}
		st.waiting = false
		if ev.gil {
			st.gil = true
		} else {
			st.held = append(st.held, ev.lock)
		}
	case tracer.KindLockRelease:
		rel := tracer.Release(ev.code)
		if !ev.gil {
			i := slices.Index(st.held, ev.lock)
			if i < 0 || rel == tracer.ReleaseUnlock && !running {
				return // not shown held, or kept held (above)
			}
			st.held = slices.Delete(st.held, i, i+1)
			break
		}
		switch {
		case !st.gil:
			why = "a release of the GIL it does not hold"
		case rel == tracer.ReleaseLockWait && (!st.waiting || st.wait == th.p.liveGIL):
			why = "a GIL release for a lock wait outside one"
		case rel == tracer.ReleaseIO && st.call != tracer.KindIOBegin:
			why = "a GIL release for I/O outside it"
		case rel == tracer.ReleaseNative && st.call != tracer.KindNativeBegin:
			why = "a GIL release for a native call outside it"
		}
		st.gil = false
	case tracer.KindIOBegin, tracer.KindNativeBegin:
		if st.call != 0 || st.waiting || !running {
			why = "a call begun inside another, a wait, or without the GIL"
		}
		st.call = ev.kind
	case tracer.KindIOEnd, tracer.KindNativeEnd:
		if st.call == 0 || callEnd(st.call) != ev.kind {
			why = "the end of a call it is not in"
		}
		st.call = 0
	case tracer.KindLine:
		if st.call != 0 || st.waiting || !running {
			why = "a line inside a call or a wait, or without the GIL"
		}
	case tracer.KindCallEnter, tracer.KindCallExit:
		if !running {
			why = "a call without the GIL"
		}
	case tracer.KindThreadEnd:
		if st.gil || len(st.held) > 0 {
			why = "a thread's end holding a lock"
		}
	}
	if why != "" {
		m.stopLive(th, ev.t, ev.kind, why)
		return
	}
	arg := ev.arg
	if ev.lock != tracer.NoLock {
		arg = tracer.LockArg(ev.lock, ev.code)
	}
	m.liveThread(th).Emit(ev.t, ev.kind, ev.st, arg)
}

// stopLive stops the live recording before th's event of kind k at t,
// which it cannot follow, and cuts it off there: a crash leaves the run up
// to t. The final
// trace, made at the end, is not affected; its metadata says where the
// live recording stopped (live_stopped).
func (m *machine) stopLive(th *thread, t int64, k tracer.Kind, why string) {
	if m.liveStop == "" || t < m.liveStopAt {
		m.liveStopAt, m.liveStop = t, fmt.Sprintf("thread %d's %s: %s", th.tid, k, why)
	}
	m.liveBroken = true
	// The other threads' events from t on, published before this one in
	// the same pass, are cut off with it.
	if m.liveStopBuf == nil {
		m.liveStopBuf = m.liveThread(th)
	}
	m.liveStopBuf.Cut(t)
}

// callBegin reports whether k begins an I/O or a native call.
func callBegin(k tracer.Kind) bool { return k == tracer.KindIOBegin || k == tracer.KindNativeBegin }

// callEnd is the end of the call that k begins.
func callEnd(k tracer.Kind) tracer.Kind {
	if k == tracer.KindIOBegin {
		return tracer.KindIOEnd
	}
	return tracer.KindNativeEnd
}

// provisionalAfter is how long a blocking call must have gone on, as far
// as the handled probe hits tell, before it is emitted provisionally: the
// hits that say what it is (the lock it waits for, a few microseconds
// after the release) are handled by then.
const provisionalAfter = 1_000_000 // ns

// provisionalNativeAfter is how long a watched call of an extension module
// (watchSection) that no reading of its thread's scheduler state has
// reached yet may go on before it is emitted provisionally, as its site's
// read calls so far say (native work without them); and how long a call
// from the lock module's acquire may go on before it is, the probe hit
// that names its lock not handled yet (a thread preempted between its
// GIL release and the lock's acquire, on a loaded machine).
const provisionalNativeAfter = 50_000_000 // ns

// provisionalSection emits the begin and the GIL release of th's blocking
// call s into the live recording, as the machine will most likely emit
// them at its end: a lock wait if a lock is being acquired without a
// timeout (or, lock holds inferred, for a timed Thread.join, which stays a
// wait for its lock: ranOut), I/O "lock-timeout" if with one (which it
// turns out to be if it runs out; provisionalEvent translates the other
// end), else the call's I/O or native kind.
func (m *machine) provisionalSection(th *thread, s *section) {
	p := th.p
	pr := &provisional{sec: s}
	begin := liveEvent{t: s.drop, st: th.stack, lock: tracer.NoLock}
	var why tracer.Release
	switch {
	case s.hasLock && (!s.timed || !s.observed && joinWaiter(th)):
		pr.begin, why = tracer.KindLockWait, tracer.ReleaseLockWait
		l := m.liveWaitLock(p, s.lock)
		pr.lock = l
		if slices.Contains(th.lst.held, l) {
			// Held by the thread itself (a Condition's waiter lock, lock
			// holds observed): the final trace lets it go as the wait
			// begins (rule 2), and so does the live recording.
			pr.own = true
			m.liveEmit(th, liveEvent{t: s.start, kind: tracer.KindLockRelease, st: th.stack, lock: l, code: uint8(tracer.ReleaseUnlock)})
		}
		begin.t, begin.kind, begin.lock = s.start, tracer.KindLockWait, l
	case s.hasLock:
		pr.begin, why = tracer.KindIOBegin, tracer.ReleaseIO
		begin.kind, begin.arg = tracer.KindIOBegin, uint64(m.live.Intern(ioLockTimeout))
	default:
		if s.watched && s.asleep+s.awake == 0 && m.now-s.drop < provisionalNativeAfter {
			// Not read yet: whether it waits or computes is not known.
			return
		}
		bl := m.blocking(p, s.ra)
		if lockSite(bl.caller) && m.now-s.drop < provisionalNativeAfter {
			return // the lock's probe hit is still to come
		}
		if !bl.io && s.watched {
			wait, known := s.ownVerdict(m.now)
			if !known {
				// No evidence of its own so far: as its site's read calls.
				site := m.site(th, bl.caller)
				wait = site != nil && site.infersWait(m.now-s.drop)
			}
			if wait {
				bl = blocking{io: true, kind: ioNativeWait}
			}
		}
		if bl.io {
			pr.begin, why = tracer.KindIOBegin, tracer.ReleaseIO
			begin.kind, begin.arg = tracer.KindIOBegin, uint64(m.live.Intern(bl.kind))
		} else {
			pr.begin, why = tracer.KindNativeBegin, tracer.ReleaseNative
			begin.kind, begin.arg = tracer.KindNativeBegin, tracer.NativeArg(true)
		}
	}
	m.liveEmit(th, begin)
	if p.liveGIL != tracer.NoLock {
		m.liveEmit(th, liveEvent{t: s.drop, kind: tracer.KindLockRelease, st: th.stack, lock: p.liveGIL, gil: true, code: uint8(why)})
	} else {
		pr.rel = true // no GIL: the machine emits no release either
	}
	if !m.liveBroken {
		th.prov = pr
	}
}

// lockSite reports whether caller (classify's module:function) is the
// lock module's acquire, whose blocking call is a wait for a lock that a
// probe hit names a few microseconds after the GIL's release.
func lockSite(caller string) bool {
	_, fn, _ := strings.Cut(caller, ":")
	return fn == "acquire_timed" || fn == "lock_PyThread_acquire_lock" || fn == "rlock_acquire"
}

// liveLock is guest lock g's LockID in the live recording: the lock a
// provisional wait at its address named for it (liveWaitLock), or a new
// one. Each guest lock has its own, as in the final trace: one made at
// the address of a lock freed (lockFreed), or in place of a lock whose
// holder's release was not seen (free, rule 4), is another lock there.
func (m *machine) liveLock(g *guestLock) tracer.LockID {
	if g.liveID != tracer.NoLock {
		return g.liveID
	}
	k := [2]uint64{uint64(g.proc.pid), g.addr}
	id, ok := m.liveLocks[k]
	if !ok || m.liveOwner[id] != nil {
		id = m.live.AddLock(g.name, g.proc.id, false)
		m.liveLocks[k] = id
	}
	g.liveID, m.liveOwner[id] = id, g
	return id
}

// liveWaitLock is the live recording's lock for a provisional wait for
// the lock at address addr of process p: its guest lock's, or, if the
// machine has none there yet (the wait makes it), one that the guest lock
// made at its end takes (liveLock).
func (m *machine) liveWaitLock(p *proc, addr uint64) tracer.LockID {
	if g, ok := p.locks[addr]; ok {
		return m.liveLock(g)
	}
	k := [2]uint64{uint64(p.pid), addr}
	if id, ok := m.liveLocks[k]; ok && m.liveOwner[id] == nil {
		return id
	}
	id := m.live.AddLock(fmt.Sprintf("lock %#x", addr), p.id, false)
	m.liveLocks[k] = id
	return id
}

// liveThread is th's buffer in the live recording, made on first use.
func (m *machine) liveThread(th *thread) *tracer.Buffer {
	if th.live == nil {
		name := th.name
		if name == "" {
			name = fmt.Sprintf("thread %d", th.tid)
		}
		th.live = m.live.NewThread(name, th.p.id)
	}
	return th.live
}
