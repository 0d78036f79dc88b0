package cpython

import (
	"testing"
)

var pyenvVersions = []string{"3.9.18", "3.10.13", "3.11.7", "3.12.1", "3.13.0"}

func TestLayoutPrint(t *testing.T) {
	for _, v := range pyenvVersions {
		in, err := interpOfExecutable("/root/.pyenv/versions/" + v + "/bin/python3")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s %s %+v", in.Path, in.Version, *in.layout)
	}
}
