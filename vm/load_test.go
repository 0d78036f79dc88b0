package vm

import (
	"path/filepath"
	"testing"
)

func TestLoadFixtures(t *testing.T) {
	paths, err := filepath.Glob("../fixtures/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatal("no fixtures found in ../fixtures")
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			w, err := Load(p)
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if w.File != p || len(w.Source) == 0 {
				t.Errorf("File = %q, len(Source) = %d; want the path and the text", w.File, len(w.Source))
			}
		})
	}
}
