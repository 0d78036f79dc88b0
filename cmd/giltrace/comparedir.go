package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// compareManifest lists, in a directory compare writes into, the files it
// wrote there. The next compare into it replaces those, and refuses to
// replace any other file under a name it writes: the user's (QA: a user's
// speedup.png, threads-1.giltrace and model.yaml were replaced without a
// word). record's own manifest (manifestName) plays this part for the
// files record writes, whatif/ among them.
const compareManifest = ".giltrace-compare"

// comparesFiles is the set of names of files in dir that giltrace wrote:
// listed in dir's compare manifest, or, for the whatif/ directory of a
// recorded run, in the record manifest of dir's parent.
func comparesFiles(dir string) map[string]bool {
	ours := map[string]bool{}
	for name := range readListing(filepath.Join(dir, compareManifest)) {
		ours[name] = true
	}
	base := filepath.Base(filepath.Clean(dir))
	for p := range readManifest(filepath.Dir(filepath.Clean(dir))) {
		if rest, ok := strings.CutPrefix(p, base+"/"); ok && !strings.Contains(rest, "/") {
			ours[rest] = true
		}
	}
	return ours
}

// notCompares is, of the names compare is about to write into dir, the
// paths of those that are there and that giltrace did not write: regular
// files it did not list, and anything else (a link: a variant's trace
// would replace it, a chart would be written through to its target;
// review).
func notCompares(dir string, names []string) []string {
	ours := comparesFiles(dir)
	var theirs []string
	for _, n := range names {
		p := filepath.Join(dir, n)
		if fi, err := os.Lstat(p); err == nil && (!fi.Mode().IsRegular() || !ours[n]) {
			theirs = append(theirs, p)
		}
	}
	return theirs
}

// refuseTheirs is the error of a compare that would replace files in dir
// that giltrace did not write: nothing is run, and nothing replaced.
func refuseTheirs(dir string, theirs []string) error {
	left, them := "they are", "them"
	if len(theirs) == 1 {
		left, them = "it is", "it"
	}
	return fmt.Errorf("%s: not written by giltrace compare (not listed in %s; a comparison by a giltrace before 2026-12-02 listed nothing), under a name compare writes: left as %s, and nothing was compared; move %s away, or compare into another directory (-o)",
		strings.Join(theirs, ", "), filepath.Join(dir, compareManifest), left, them)
}

// listCompares notes the names compare wrote into dir in dir's compare
// manifest, beside the entries of the previous one whose files are still
// there. A manifest that is not a regular file (a link) is the user's: it
// is not written through.
func listCompares(dir string, names []string) error {
	p := filepath.Join(dir, compareManifest)
	if fi, err := os.Lstat(p); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file: left alone", p)
	}
	listed := readListing(p)
	if listed == nil {
		listed = map[string]bool{}
	}
	for _, n := range names {
		listed[n] = true
	}
	var keep []string
	for n := range listed {
		if filepath.IsLocal(n) && !strings.Contains(n, "/") && usersFile(filepath.Join(dir, n)) {
			keep = append(keep, n)
		}
	}
	slices.Sort(keep)
	return writeFile(context.Background(), p, func(w io.Writer) error {
		_, err := io.WriteString(w, "# giltrace compare: the files it wrote in this directory; the next compare into it may replace them\n"+strings.Join(keep, "\n")+"\n")
		return err
	})
}
