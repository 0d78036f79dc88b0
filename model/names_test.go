package model

import "testing"

// TestFuncNameRefusesGarbledText: a recorded function name with a control
// or invalid character (read from memory that changed under the recorder)
// is written "?"; a real one as it is.
func TestFuncNameRefusesGarbledText(t *testing.T) {
	for in, want := range map[string]string{
		"Pool._handle_tasks":        "Pool._handle_tasks",
		"<module>":                  "<module>",
		"café":                      "café",
		"\x90\x80fC\xff":            "?",
		"????????`?fC\x01??__build": "?",
		"name\u0085":                "?",
	} {
		if got := funcName(in); got != want {
			t.Errorf("funcName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestNotifyInsideHold: a notify that happened inside a shared lock's
// hold (with cond: cond.notify()) stays in that lock's body: it split
// the hold into two lock operations, between which another thread could
// take the lock in the replay.
func TestNotifyInsideHold(t *testing.T) {
	var ops []op
	for _, lf := range []leaf{
		{kind: opCompute, d: 1000, hold: 0, lock: "m"},
		{kind: opNotify, label: "notify a to b", hold: 0, lock: "m"},
		{kind: opCompute, d: 2000, hold: 0, lock: "m"},
		{kind: opNotify, label: "notify a to b", hold: -1},
	} {
		ops = appendLeaf(ops, lf)
	}
	if len(ops) != 2 || ops[0].kind != opLock || len(ops[0].body) != 3 || ops[0].body[1].kind != opNotify || ops[1].kind != opNotify {
		t.Errorf("ops %+v: want one lock holding compute, notify, compute; then a notify", ops)
	}
}
