package cpython

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/giltrace/giltrace/tracer"
)

// Call sites of GIL-releasing extension-module calls.
//
// A call of an extension module that releases the GIL is I/O
// ioNativeWait when the readings of its thread's scheduler state that
// fell inside it found the thread asleep more often than running.
// Many calls get no reading: those shorter than the
// interval between two readings of their thread (2 ms for up to 8
// threads, longer for more), and those of a thread not yet listed; and
// many get one reading only, which finds a thread that waits running as
// it wakes up (or waiting for a core, before it sleeps or after). QA: 4
// threads x 1000 ctypes usleep(1 ms) calls, 28 % of them native-wait
// (70 % never read, 3 % read once, running); 100 threads x 30
// usleep(30 ms), 69 % (31 % never read): the rest counted as CPU work, a
// busy machine and cpu-saturated verdicts, a 1-core prediction of 2.03 s
// against 1.12 s measured.
//
// So a call's own readings decide only when they are evidence
// (ownVerdict): more asleep than running (a wait), or at least two
// running and no more asleep (work), those running as the call ended
// left out (section.readings). Any other call (unread, or read running
// once) is judged by the read calls of its site: the C function
// that released the GIL (the ctypes call, the database driver's execute)
// called from the same line of the same Python function. They must have
// waited, at least siteMinWaited of them and siteMajority times as many
// as those that did not (else the evidence is mixed, and the call stays
// native work: the same line may call a C function that waits and one
// that computes), and the call must have lasted at least half as long as
// the shortest of them (a short call of a site whose read calls are long
// waits may be a fast path that computes). The site's evidence is counted
// over the whole run, so such a call is judged again at the end of the
// recording (settleSites); until then it is shown as the evidence so far
// says, and the live recording keeps that.

// siteMinWaited is how many read calls of a site must have waited for its
// other calls to be judged waits.
const siteMinWaited = 3

// siteMajority is how many times as many of a site's read calls must have
// waited as not (80 % of them) for its other calls to be judged waits.
const siteMajority = 4

// siteKey is a call site: the C function that released the GIL (module
// and function, classify's caller) and the innermost Python frame (its
// function, file and line) at the release.
type siteKey struct {
	caller string
	frame  tracer.Frame
}

// nwSite is the evidence of a site's calls.
type nwSite struct {
	key siteKey
	// calls and read count its calls and those with a reading; waited
	// and ran those whose readings (section.readings) found the thread
	// asleep more often than running, and the others with one that
	// counts; asleep and awake count their readings, woke those running
	// that did not count.
	calls, read         int
	waited, ran         int
	asleep, awake, woke int
	minWaited           int64 // the shortest read call that waited, ns
	judged              []judgedCall
	unread              int // of judged, the calls without a reading
	inferred            int // of judged, those shown as native-wait at the end
}

// judgedCall is a call that its site judged, emitted into th's events
// from index i (its begin; then its GIL release when rel, its end when
// end).
type judgedCall struct {
	th       *thread
	i        int
	dur      int64
	rel, end bool
	wait     bool // emitted as native-wait
}

// wokeShare: a reading that found a call's thread running in the last
// 1/wokeShare of the call, with none after it that found it asleep, is
// what a call that waited looks like as its thread wakes up (running, or
// waiting for a core) and returns, and does not count (section.readings).
// Measured here on calls read once, running, 4 threads in ctypes
// usleep(1 ms) and a pool of 60 in usleep(5 ms) beside a load average of
// 5: the reading came 2-7 % of the call before its end (median; 4-37 % at
// the 90th percentile); in a site of short copies (memmove of 4 MiB), 49
// and 53 %.
const wokeShare = 4

// maxWoke bounds the times kept of a call's readings running since its
// last asleep (section.woke): a call with more is mostly running anyway.
const maxWoke = 64

// readings is how many readings of call s, ending at end, count as asleep
// and as running: the last one running, in the call's last 1/wokeShare
// with none asleep after it, is left out (wokeShare): one reading, the
// thread waking. More running readings there are the call computing after
// it waited, and count (review: a call waiting 16 ms and then computing
// 24 ms, read every 2 ms, had its last 5 running readings left out and
// was judged a wait).
func (s *section) readings(end int64) (asleep, awake int) {
	from := end - (end-s.drop)/wokeShare
	if n := len(s.woke); n > 0 && s.woke[n-1] >= from {
		return s.asleep, s.awake - 1
	}
	return s.asleep, s.awake
}

// ownVerdict is what the readings that fell in call s (ending at end,
// as far as is known) say: wait when they found its thread asleep more
// often than running (readings); known when that, or when at least two
// found it running and no more asleep. One reading that found it running
// is no evidence: a thread that waits is running when it wakes up, and
// waits for a core there and before it sleeps on a busy machine (QA).
func (s *section) ownVerdict(end int64) (wait, known bool) {
	asleep, awake := s.readings(end)
	if asleep > awake {
		return true, true
	}
	return false, awake >= 2 && awake >= asleep
}

// infersWait reports whether the site's read calls say that a call of it
// lasting dur, without evidence of its own, waited.
func (s *nwSite) infersWait(dur int64) bool {
	return s.waited >= siteMinWaited && s.waited >= siteMajority*s.ran && 2*dur >= s.minWaited
}

// site is the site of th's call made from C function caller, or nil when
// th's stack at the release is not known (no frame, or an unknown one).
func (m *machine) site(th *thread, caller string) *nwSite {
	f := th.top
	if f.Func == "" || f.Func == unknownFrame.Func || len(th.frames) == 0 {
		return nil
	}
	k := siteKey{caller: caller, frame: f}
	s, ok := m.sites[k]
	if !ok {
		if m.sites == nil {
			m.sites = map[siteKey]*nwSite{}
		}
		s = &nwSite{key: k}
		m.sites[k] = s
	}
	return s
}

// judgeWatched judges th's watched call s (an extension module's,
// classified b), ending at t (cut there, not returned, when ended: the
// recording's end or its thread's): native-wait when its own readings, or, with
// no evidence of its own, its site's read calls so far, say that it
// waited. It returns the site of a call it judged by the site's evidence,
// to be noted once the call is emitted (noteJudged).
func (m *machine) judgeWatched(th *thread, s *section, t int64, ended bool, b blocking) (blocking, *nwSite) {
	if b.io || !s.watched || s.hasLock {
		return b, nil
	}
	site := m.site(th, b.caller)
	dur := t - s.drop
	wait, known := s.ownVerdict(t)
	if asleep, awake := s.readings(t); site != nil {
		site.calls++
		if s.asleep+s.awake > 0 {
			site.read++
		}
		site.asleep += s.asleep
		site.awake += s.awake
		site.woke += s.awake - awake
		switch {
		case asleep > awake:
			// A call cut short is as long as it was when cut, shorter
			// than it was: it says nothing of the site's shortest wait
			// (review: an attach stopped 100 us into a wait made that
			// the site's shortest).
			if !ended && (site.minWaited == 0 || dur < site.minWaited) {
				site.minWaited = dur
			}
			site.waited++
		case awake > 0:
			site.ran++
		}
	}
	if !known && site != nil {
		wait = site.infersWait(dur)
	} else {
		site = nil
	}
	if wait {
		b = blocking{io: true, kind: ioNativeWait, caller: b.caller}
	}
	return b, site
}

// noteJudged keeps a call of site that the site judged, whose begin
// closeSection emitted at index i of th's events, to be judged again at
// the end.
func (m *machine) noteJudged(site *nwSite, th *thread, s *section, i int, dur int64, wait, rel, end bool) {
	site.judged = append(site.judged, judgedCall{th: th, i: i, dur: dur, wait: wait, rel: rel, end: end})
	if s.asleep+s.awake == 0 {
		site.unread++
	}
}

// settleSites judges every call that its site judged again, by the site's
// evidence of the whole run, and rewrites the events of those it judges
// otherwise than when they were emitted (a call that ended before its
// site's read calls did). Called by finish once the live recording has
// its events (it keeps the kind it was given).
func (m *machine) settleSites() {
	for _, s := range m.sites {
		for _, c := range s.judged {
			wait := s.infersWait(c.dur)
			if wait {
				s.inferred++
			}
			if wait == c.wait {
				continue
			}
			m.rewriteCall(c, wait)
			if wait {
				m.nativeWaits++
			} else {
				m.nativeWaits--
			}
		}
		m.inferredWaits += s.inferred
	}
}

// rewriteCall turns judged call c's events into a native-wait (I/O) or
// into native work.
func (m *machine) rewriteCall(c judgedCall, wait bool) {
	evs := c.th.events
	begin, why, end := tracer.KindNativeBegin, tracer.ReleaseNative, tracer.KindNativeEnd
	arg := tracer.NativeArg(true)
	if wait {
		begin, why, end = tracer.KindIOBegin, tracer.ReleaseIO, tracer.KindIOEnd
		arg = uint64(m.intern(ioNativeWait))
	}
	i := c.i
	evs[i].kind, evs[i].arg = begin, arg
	if c.rel {
		i++
		evs[i].arg = tracer.LockArg(c.th.p.gil, uint8(why))
	}
	if c.end {
		i++
		evs[i].kind = end
	}
}

// maxSiteNotes bounds the sites named in the trace's metadata.
const maxSiteNotes = 8

// sitesText describes the evidence of the sites with calls that waited,
// most calls first, for the trace's metadata (native_wait_sites), such as
// "_ctypes:_ctypes_callproc from w (nw_compute.py:22): 4000 calls, 1824
// read (1680 waited, 25 did not; 1692 readings asleep, 147 running, 121
// of them as a call ended), 2319 without evidence of their own (2176
// unread): 2319 judged native-wait as the site's read calls"; sites
// separated by "; ".
func (m *machine) sitesText() string {
	var ss []*nwSite
	for _, s := range m.sites {
		if s.waited > 0 {
			ss = append(ss, s)
		}
	}
	slices.SortFunc(ss, func(a, b *nwSite) int {
		if c := cmp.Compare(b.calls, a.calls); c != 0 {
			return c
		}
		return cmp.Compare(fmt.Sprint(a.key), fmt.Sprint(b.key))
	})
	var parts []string
	for i, s := range ss {
		if i == maxSiteNotes {
			parts = append(parts, fmt.Sprintf("%d more sites", len(ss)-i))
			break
		}
		f := s.key.frame
		txt := fmt.Sprintf("%s from %s (%s:%d): %d calls, %d read (%d waited, %d did not; %d readings asleep, %d running, %d of them as a call ended)",
			s.key.caller, f.Func, filepath.Base(f.File), f.Line, s.calls, s.read, s.waited, s.ran, s.asleep, s.awake, s.woke)
		if n := len(s.judged); n > 0 {
			txt += fmt.Sprintf(", %d without evidence of their own (%d unread): ", n, s.unread)
			switch {
			case s.waited < siteMinWaited:
				txt += fmt.Sprintf("native work (fewer than %d read calls waited)", siteMinWaited)
			case s.waited < siteMajority*s.ran:
				txt += "native work (mixed evidence)"
			case s.inferred == n:
				txt += fmt.Sprintf("%d judged native-wait as the site's read calls", n)
			default:
				txt += fmt.Sprintf("%d judged native-wait as the site's read calls, %d native work (shorter than %v, half the shortest read call that waited)",
					s.inferred, n-s.inferred, time.Duration(s.minWaited/2).Round(time.Microsecond))
			}
		}
		parts = append(parts, txt)
	}
	return strings.Join(parts, "; ")
}
