package testkit

import "testing"

func TestTurnsIsValid(t *testing.T) {
	tr := Turns(20000)
	if len(tr.Events) < 20000 {
		t.Errorf("Turns(20000) has %d events", len(tr.Events))
	}
	if err := tr.CheckValid(); err != nil {
		t.Fatal(err)
	}
}
