package report

import (
	"fmt"
	"strings"
	"testing"

	"github.com/giltrace/giltrace/diagnosis"
)

// TestManyThreadRows: past ManyThreadRows threads, the text's thread
// table sums the threads of one process named alike but for their numbers
// in one row, with their count; a thread named like no other keeps its
// row, and so does every thread of a run of fewer threads (QA: 201 rows
// of a thread-per-task program).
func TestManyThreadRows(t *testing.T) {
	var ths []diagnosis.ThreadSummary
	ths = append(ths, diagnosis.ThreadSummary{Name: "MainThread", Process: "p", WallNS: 100, RunningNS: 100, Acquisitions: 1})
	for i := range 30 {
		ths = append(ths, diagnosis.ThreadSummary{Name: fmt.Sprintf("Thread-%d (work)", i+1), Process: "p", WallNS: 10, RunningNS: 4, GILWaitNS: 6, Acquisitions: 2})
	}
	ths = append(ths, diagnosis.ThreadSummary{Name: "Thread-31 (work)", Process: "q", WallNS: 10, IONS: 10})
	rows, grouped := tableRows(ths)
	if !grouped || len(rows) != 3 {
		t.Fatalf("%d rows (grouped %v), want 3: %+v", len(rows), grouped, rows)
	}
	want := diagnosis.ThreadSummary{Name: "Thread-* (work) [30]", Process: "p", WallNS: 300, RunningNS: 120, GILWaitNS: 180, Acquisitions: 60}
	if rows[0].Name != "MainThread" || rows[1] != want || rows[2].Name != "Thread-31 (work)" {
		t.Errorf("rows %+v, want MainThread, %+v, then Thread-31 (work) of q alone", rows, want)
	}
	if rows, grouped := tableRows(ths[:ManyThreadRows]); grouped || len(rows) != ManyThreadRows {
		t.Errorf("%d threads: %d rows, grouped %v; want each its own", ManyThreadRows, len(rows), grouped)
	}
	var b strings.Builder
	writeBreakdown(&b, &diagnosis.Summary{Threads: ths, GILMode: "cpython"})
	for _, s := range []string{"(32 threads: those named alike but for their numbers are summed in one row", "Thread-* (work) [30]  p        300ns    120ns   40.0%     180ns  60.0%"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, b.String())
		}
	}
	if got := nameShape("ThreadPoolExecutor-0_12"); got != "ThreadPoolExecutor-*_*" {
		t.Errorf("nameShape = %q", got)
	}
}

// TestManyLockRows: past ManyLockRows guest locks, the text's lock table
// lists the locks that were shared, waited for to be notified, joined or
// waited for more than once, and sums the others in one row (QA: with
// --lock-holds, about 120 rows of a queue's waiter locks); up to
// ManyLockRows, each has its row.
func TestManyLockRows(t *testing.T) {
	locks := []diagnosis.LockReport{
		{Name: "lock 0x1", Process: "p", Waits: 118, WaitNS: 1980, Holds: 240, HoldNS: 638, Shared: true},
		{Name: "lock 0x2 (Thread.join)", Process: "p", Waits: 1, WaitNS: 641, Holds: 2, HoldNS: 659},
		{Name: "lock 0x3", Process: "p", Waits: 1, WaitNS: 500, Holds: 3, HoldNS: 9, Notify: true},
		{Name: "lock 0x4", Process: "p", Waits: 2, WaitNS: 400, Holds: 2, HoldNS: 9},
		{Name: "lock 0x5", Process: "p", Holds: 502, HoldNS: 11, Shared: true},
		// A VM join's lock, and a mutex two threads held twice whose one
		// wait is long, keep their rows (review).
		{Name: "join w-7", Process: "p", Waits: 1, WaitNS: 20, Holds: 1, HoldNS: 30},
		{Name: "lock 0x6", Process: "p", Waits: 1, WaitNS: 300, Holds: 2, HoldNS: 400},
	}
	for i := range 30 {
		locks = append(locks, diagnosis.LockReport{Name: fmt.Sprintf("lock 0x7f00 #%d", i+1), Process: "p", Waits: 1, WaitNS: 10, Holds: 2, HoldNS: 1})
	}
	var b strings.Builder
	writeLocks(&b, &diagnosis.Report{Locks: locks})
	for _, s := range []string{"lock 0x1 ", "lock 0x2 (Thread.join)", "lock 0x3 ", "lock 0x4 ", "join w-7 ", "lock 0x6 ", "  31 more locks           -        30     300ns   562    41ns   - (each never waited for"} {
		if !strings.Contains(b.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, b.String())
		}
	}
	if strings.Contains(b.String(), "lock 0x5 ") || strings.Contains(b.String(), "#1 ") {
		t.Errorf("a lock nobody waited for, or a waiter lock, has a row of its own:\n%s", b.String())
	}
	b.Reset()
	writeLocks(&b, &diagnosis.Report{Locks: locks[:ManyLockRows]})
	if strings.Contains(b.String(), "more locks") || strings.Count(b.String(), "\n") != ManyLockRows+3 {
		t.Errorf("%d locks: want a row each:\n%s", ManyLockRows, b.String())
	}
}
