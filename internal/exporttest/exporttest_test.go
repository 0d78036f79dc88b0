package exporttest

import "testing"

func TestLargeIsValid(t *testing.T) {
	tr := Large(20000)
	if len(tr.Events) < 20000 {
		t.Errorf("Large(20000) has %d events", len(tr.Events))
	}
	if err := tr.CheckValid(); err != nil {
		t.Fatal(err)
	}
}
