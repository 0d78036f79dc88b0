package main

import (
	"encoding/base64"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/giltrace/giltrace/internal/browser"
	"github.com/giltrace/giltrace/internal/golden"
	"github.com/giltrace/giltrace/internal/testkit"
)

// tutorialExamples are the examples of docs/tutorial.md, in its order: the
// seed post's claims, each a bundled fixture.
var tutorialExamples = []string{
	"countdown", "web-scraping", "file-reading", "ml-preprocessing",
	"c-extension-holding-gil", "multiprocessing", "convoy",
	// Real CPython programs, twins of the countdown and the convoy
	// (fixtures/python): their compare picture is the what-if chart of
	// their recorded trace.
	"python-countdown", "python-convoy",
}

// tutorialWindows are the parts of each run its timeline picture shows, as
// fractions of the run: a few switch intervals where threads take turns,
// the whole run where its shape is the point.
var tutorialWindows = map[string][2]float64{
	"countdown": {0.1, 0.14}, "convoy": {0.1, 0.14}, "file-reading": {0.1, 0.3},
	"python-countdown": {0.5, 0.54}, "python-convoy": {0.4, 0.44},
}

// tutorialDir is where the tutorial's pictures go.
var tutorialDir = filepath.Join("..", "..", "docs", "img", "tutorial")

// TestTutorialPictures draws the pictures of docs/tutorial.md, so that
// they show what giltrace shows today: for each example, the view page's
// report, its timeline, the flame graph and the compare chart (overlap), from the
// fixture's recorded trace (fixtures/traces) and a compare run at 1, 2
// and 4 threads. It runs only with -update (scripts/tutorial-pictures.sh),
// as it takes minutes; a headless Chromium draws the pages.
func TestTutorialPictures(t *testing.T) {
	if !golden.Updating() {
		t.Skip("draws the tutorial's pictures only with -update (scripts/tutorial-pictures.sh)")
	}
	wd := browser.Start(t)
	if err := os.MkdirAll(tutorialDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range tutorialExamples {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			trace := filepath.Join(dir, "run.giltrace")
			copyFile(t, filepath.Join(testkit.FixtureDir(), name+".giltrace"), trace)
			if strings.HasPrefix(name, "python-") {
				// A real program: compare predicts from its trace's model.
				if out, err := runRoot("compare", trace, "-o", filepath.Join(dir, "compare"), "--quiet"); err != nil {
					t.Fatalf("compare: %v\n%s", err, out)
				}
				copyFile(t, filepath.Join(dir, "compare", "whatif.png"), picture(name, "compare"))
				// Its report.txt, with what would help, as record writes it:
				// the page shows that part.
				if out, err := runRoot("export", trace, "-f", "report"); err != nil {
					t.Fatalf("export: %v\n%s", err, out)
				}
			} else {
				if out, err := runRoot("compare", filepath.Join("..", "..", "fixtures", name+".yaml"),
					"--threads", "1,2,4", "-o", filepath.Join(dir, "compare"), "--quiet"); err != nil {
					t.Fatalf("compare: %v\n%s", err, out)
				}
				// The overlap chart, from the traces: a machine busy with other
				// work distorts the measured speedup (speedup.png), not this.
				copyFile(t, filepath.Join(dir, "compare", "overlap.png"), picture(name, "compare"))
			}
			url := startView(t, trace)
			drawPage(t, wd, url, name)
		})
	}
}

// drawPage takes the pictures of the view page at url.
func drawPage(t *testing.T, wd *browser.Driver, url, name string) {
	wd.Navigate(url)
	var ready bool
	for deadline := time.Now().Add(20 * time.Second); !ready; time.Sleep(100 * time.Millisecond) {
		wd.Script(&ready, `return window.giltraceTimeline.fetches > 0`)
		if time.Now().After(deadline) {
			t.Fatal("the timeline never loaded")
		}
	}
	// The sticky header would cover the top of the sections in their
	// pictures: let it scroll away.
	wd.Script(nil, `document.querySelector("header").style.position = "static"`)
	shoot(t, wd, "#report", picture(name, "view"))
	if strings.HasPrefix(name, "python-") {
		// What would help, under the report: taller than the window.
		wd.Script(nil, `document.getElementById("whatif").scrollIntoView()`)
		shoot(t, wd, "#whatif", picture(name, "whatif"))
	}
	win, ok := tutorialWindows[name]
	if !ok {
		win = [2]float64{0, 1}
	}
	wd.Script(nil, `const tl = window.giltraceTimeline, d = tl.duration;
		tl.start = d * arguments[0]; tl.end = d * arguments[1]; tl.fetches = 0; tl.zoom(1);
		document.getElementById("timeline").scrollIntoView()`, win[0], win[1])
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		var n int
		wd.Script(&n, `return window.giltraceTimeline.fetches`)
		if n > 0 || time.Now().After(deadline) {
			break
		}
	}
	shoot(t, wd, "#timeline", picture(name, "timeline"))
	wd.Navigate(url + "flame.html")
	shoot(t, wd, "body", picture(name, "flame"))
}

func picture(example, what string) string {
	return filepath.Join(tutorialDir, example+"-"+what+".png")
}

// shoot saves a PNG of the element matching css.
func shoot(t *testing.T, wd *browser.Driver, css, path string) {
	t.Helper()
	var b64 string
	wd.Must("GET", "/element/"+wd.Find(css)+"/screenshot", nil, &b64)
	png, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s (%d bytes)", path, len(png))
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
