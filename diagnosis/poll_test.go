package diagnosis_test

import (
	"strings"
	"testing"

	"github.com/giltrace/giltrace/diagnosis"
	"github.com/giltrace/giltrace/internal/testkit"
	"github.com/giltrace/giltrace/model"
	"github.com/giltrace/giltrace/tracer"
)

// TestPollIsAJoin: a main thread that sleeps 100 ms at a time until its
// two workers have ended (`while any(t.is_alive() for t in ts):
// time.sleep(0.1)`) waits for them: its sleeps are not parallel work in
// the overlap, but the rest of the sleep in which the last ended, and the
// model joins the workers. QA: such a main thread polling 2 hashing
// threads made the run "1.86x" (the threads ran 0.99x as fast as one)
// and processes "4 % faster, limited by its sleeps" (they were 40-50 %
// faster). A free-threaded process: the workers run 0-250 ms and
// 0-430 ms, the main thread sleeps from 1 ms to 505 ms.
func TestPollIsAJoin(t *testing.T) {
	const ms = int64(1_000_000)
	for _, poll := range []bool{true, false} {
		b := testkit.New("poll")
		p := b.FreeThreadedProcess("poll", 1)
		m := b.Thread(p, "MainThread")
		w1, w2 := b.Thread(p, "w1"), b.Thread(p, "w2")
		m.Start(0)
		w1.Start(0)
		w2.Start(0)
		tm := int64(1 * ms)
		for range 5 {
			m.IOBegin(tm, "sleep").IOEnd(tm + 100*ms)
			tm += 101 * ms
		}
		m.End(tm)
		w1.End(250 * ms)
		if poll {
			w2.End(430 * ms)
		} else {
			w2.End(510 * ms) // after the main thread's last sleep: no poll
		}
		s := tracer.Derive(b.Trace())
		r := diagnosis.Analyze(s)
		y, err := model.Build(s, model.Options{})
		if err != nil {
			t.Fatal(err)
		}
		joins := strings.Contains(string(y), `join: "w1"`) && strings.Contains(string(y), `join: "w2"`)
		// The work: the workers' 680 ms, the main thread's 6 ms between
		// sleeps and, polling, the 75 ms of its last sleep after w2 ended,
		// not its 500 ms of sleeps.
		w := r.Speedup.SerialEquivNS
		if poll && (w < 750*ms || w > 770*ms || !joins) || !poll && (w < 1180*ms || joins) {
			t.Errorf("poll %v: the same work on one thread %d ms (%.2fx), model joins %v:\n%s", poll, w/ms, r.Speedup.Overlap, joins, y)
		}
	}
}

// TestListenIsNotTheBoundingThread: a server thread's waits for a
// connection (I/O "listen") count in the speedup arithmetic as its I/O,
// but do not make it the thread whose own work bounds a run with no
// verdict (QA: "Shorten serve_forever's own work", 825 ms of it waiting
// for clients); the same thread's network I/O does.
func TestListenIsNotTheBoundingThread(t *testing.T) {
	const ms = int64(1_000_000)
	for _, kind := range []string{diagnosis.ListenKind, "network"} {
		b := testkit.New("server")
		p := b.FreeThreadedProcess("server", 1)
		srv, w := b.Thread(p, "server"), b.Thread(p, "worker")
		srv.Start(0).IOBegin(1*ms, kind).IOEnd(900 * ms).End(901 * ms)
		w.Start(0).End(100 * ms)
		r := diagnosis.Analyze(tracer.Derive(b.Trace()))
		if w := r.Speedup.SerialEquivNS; w < 990*ms {
			t.Errorf("%s: the same work on one thread %d ms, want the server's 899 ms of I/O in it", kind, w/ms)
		}
		server := r.NoVerdict != nil && r.NoVerdict.Thread == "server"
		if server != (kind == "network") {
			t.Errorf("%s: verdicts %s, no verdict %+v", kind, r.VerdictCodes(), r.NoVerdict)
		}
		// The estimates' bound, the server, says its time is its waits
		// for connections, not work (QA: "bounded by MainThread, which
		// ... has 6.02s of its own work", 6.01 s of it in accept).
		l := r.Speedup.Limit
		if l.Kind != diagnosis.LimitThread || l.Name != "server" {
			t.Fatalf("%s: limit %+v, want the server thread", kind, l)
		}
		if listen := strings.Contains(l.Text, "899ms of it waiting for connections or requests (I/O listen"); listen != (kind == diagnosis.ListenKind) || listen == strings.Contains(l.Text, "own work") {
			t.Errorf("%s: limit %q", kind, l.Text)
		}
	}
}
