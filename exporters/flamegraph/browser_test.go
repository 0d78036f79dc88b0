package flamegraph_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/giltrace/giltrace/internal/exporttest"
	"github.com/giltrace/giltrace/internal/golden"
	"github.com/giltrace/giltrace/tracer"
	"github.com/giltrace/giltrace/tracer/tracetest"
)

// Chromium's flags on a headless machine without a GPU, a session bus or
// network access, as root.
var chromiumArgs = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
	"--disable-dev-shm-usage", "--window-size=1200,800",
}

var installOnce sync.Once

// browser returns the paths of chromium and chromedriver, installing
// Debian's chromium and chromium-driver packages if they are missing and
// apt-get is there; it skips the test only when neither works.
func browser(t *testing.T) (chromium, driver string) {
	t.Helper()
	find := func() (string, string, error) {
		c, err := exec.LookPath("chromium")
		if err != nil {
			return "", "", err
		}
		d, err := exec.LookPath("chromedriver")
		return c, d, err
	}
	c, d, err := find()
	if err == nil {
		return c, d
	}
	installOnce.Do(func() {
		if _, err := exec.LookPath("apt-get"); err != nil || os.Geteuid() != 0 {
			return
		}
		t.Log("installing chromium and chromium-driver with apt-get")
		for _, args := range [][]string{{"update"}, {"install", "-y", "chromium", "chromium-driver"}} {
			cmd := exec.Command("apt-get", args...)
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Logf("apt-get %s: %v\n%s", strings.Join(args, " "), err, out)
				return
			}
		}
	})
	if c, d, err = find(); err != nil {
		// ./test.sh installs them; in CI a missing browser is a failure.
		if os.Getenv("CI") != "" {
			t.Fatalf("no chromium and chromedriver, and installing them failed: %v", err)
		}
		t.Skipf("no chromium and chromedriver, and installing them failed: %v", err)
	}
	return c, d
}

// webDriver is a minimal W3C WebDriver client for one chromedriver session.
type webDriver struct {
	t       *testing.T
	base    string // http://127.0.0.1:PORT/session/ID
	element string // the W3C element reference key
}

const elementKey = "element-6066-11e4-a52e-4f735466cecf"

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startWebDriver starts chromedriver on a loopback port and opens a
// session with headless Chromium; both end with the test.
func startWebDriver(t *testing.T) *webDriver {
	chromium, driver := browser(t)
	port := freePort(t)
	// Without --allowed-ips chromedriver accepts local connections only.
	cmd := exec.Command(driver, "--port="+strconv.Itoa(port))
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting chromedriver: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("chromedriver output:\n%s", logs.String())
		}
	})
	root := fmt.Sprintf("http://127.0.0.1:%d", port)
	wd := &webDriver{t: t, base: root}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var status struct{ Ready bool }
		if err := wd.call("GET", "/status", nil, &status); err == nil && status.Ready {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("chromedriver not ready after 30s:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	args := append(chromiumArgs, "--user-data-dir="+t.TempDir())
	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName":        "chrome",
		"goog:chromeOptions": map[string]any{"binary": chromium, "args": args},
	}}}
	var session struct{ SessionID string }
	if err := wd.call("POST", "/session", caps, &session); err != nil {
		t.Fatalf("starting a browser session: %v", err)
	}
	wd.base = root + "/session/" + session.SessionID
	t.Cleanup(func() { wd.call("DELETE", "", nil, nil) })
	return wd
}

// call sends a WebDriver command and decodes its "value" into out.
func (wd *webDriver) call(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, wd.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	client := http.Client{Timeout: 60 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	var env struct{ Value json.RawMessage }
	if err := json.Unmarshal(b, &env); err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(env.Value, out)
}

func (wd *webDriver) must(method, path string, in, out any) {
	wd.t.Helper()
	if err := wd.call(method, path, in, out); err != nil {
		wd.t.Fatal(err)
	}
}

// script runs JavaScript in the page and decodes its result into out.
func (wd *webDriver) script(out any, js string, args ...any) {
	wd.t.Helper()
	if args == nil {
		args = []any{}
	}
	wd.must("POST", "/execute/sync", map[string]any{"script": js, "args": args}, out)
}

// find returns the element matching a CSS selector.
func (wd *webDriver) find(css string) string {
	wd.t.Helper()
	var el map[string]string
	wd.must("POST", "/element", map[string]string{"using": "css selector", "value": css}, &el)
	return el[elementKey]
}

// frame returns the element of the frame named name.
func (wd *webDriver) frame(name string) string {
	wd.t.Helper()
	var el map[string]any
	wd.script(&el, `return [...document.querySelectorAll("#chart .frame")].find(d => d.textContent === arguments[0]) || null`, name)
	if el[elementKey] == nil {
		var names []string
		wd.script(&names, `return [...document.querySelectorAll("#chart .frame")].map(d => d.textContent)`)
		wd.t.Fatalf("no frame %q drawn; frames: %q", name, names)
	}
	return el[elementKey].(string)
}

func (wd *webDriver) click(el string) {
	wd.t.Helper()
	wd.must("POST", "/element/"+el+"/click", map[string]any{}, nil)
}

// hover moves the mouse over the middle of el.
func (wd *webDriver) hover(el string) {
	wd.t.Helper()
	wd.must("POST", "/actions", map[string]any{"actions": []any{map[string]any{
		"type": "pointer", "id": "mouse", "parameters": map[string]string{"pointerType": "mouse"},
		"actions": []any{map[string]any{"type": "pointerMove", "duration": 0, "x": 0, "y": 0,
			"origin": map[string]string{elementKey: el}}},
	}}}, nil)
}

func (wd *webDriver) text(css string) string {
	wd.t.Helper()
	var s string
	wd.script(&s, `return document.querySelector(arguments[0]).textContent`, css)
	return s
}

// frameWidth is the drawn width of the frame named name, and the chart's.
func (wd *webDriver) frameWidth(name string) (frame, chart float64) {
	wd.t.Helper()
	var w []float64
	wd.script(&w, `const d = [...document.querySelectorAll("#chart .frame")].find(d => d.textContent === arguments[0]);
		return [d ? d.getBoundingClientRect().width : 0, document.getElementById("chart").clientWidth]`, name)
	return w[0], w[1]
}

// TestBrowser opens a generated page from disk in headless Chromium and
// checks that it draws the frames, that hovering shows details, that search
// highlights and reports the matched share, that clicking zooms, that the
// view switch and the thread filter work. With -update it saves a
// screenshot as docs/img/flame.png.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a browser")
	}
	tr := tracetest.Mixed()
	dir := t.TempDir()
	file := filepath.Join(dir, "flame.html")
	if err := os.WriteFile(file, page(t, tr), 0o644); err != nil {
		t.Fatal(err)
	}
	wd := startWebDriver(t)
	wd.must("POST", "/url", map[string]string{"url": "file://" + file}, nil)

	// 1. Rendered: a frame per thread, state and call of the wall view.
	var n int
	wd.script(&n, `return document.querySelectorAll("#chart .frame").length`)
	if n < 20 {
		t.Fatalf("%d frames drawn, want at least 20", n)
	}
	for _, name := range []string{"all", "python/worker-1", "gil-wait", "parse (test.yaml:20)"} {
		wd.frame(name)
	}
	if title := wd.text("h1"); title != "giltrace: mixed" {
		t.Errorf("title %q", title)
	}

	// 2. Hover: time and share of the total. worker-1 lives 12.0005 ms of 40 ms.
	wd.hover(wd.frame("python/worker-1"))
	if d := wd.text("#details"); !strings.Contains(d, "python/worker-1 | 12.0 ms, 30.00% of total") {
		t.Errorf("hover details %q", d)
	}

	// 3. Search: "parse" frames are 23999500 ns of 40000000 ns = 60.00%.
	wd.must("POST", "/element/"+wd.find("#search")+"/value", map[string]string{"text": "parse"}, nil)
	wd.script(&n, `return document.querySelectorAll("#chart .frame.match").length`)
	if n < 4 {
		t.Errorf("%d frames highlighted for parse, want at least 4", n)
	}
	m := regexp.MustCompile(`Matched: ([0-9.]+)%`).FindStringSubmatch(wd.text("#match"))
	if m == nil {
		t.Fatalf("no match share in %q", wd.text("#match"))
	}
	if pct, _ := strconv.ParseFloat(m[1], 64); math.Abs(pct-100*23999500.0/40000000) > 0.01 {
		t.Errorf("match share %s%%, want 60.00%%", m[1])
	}

	// 4. Zoom: clicking worker-2 makes it as wide as the chart.
	before, width := wd.frameWidth("python/worker-2")
	if before <= 0 || before > width*0.5 {
		t.Fatalf("worker-2 is %.0f px of %.0f before zooming", before, width)
	}
	wd.click(wd.frame("python/worker-2"))
	if after, width := wd.frameWidth("python/worker-2"); math.Abs(after-width) > 2 {
		t.Errorf("after clicking, worker-2 is %.0f px of %.0f", after, width)
	}
	if w, _ := wd.frameWidth("python/worker-1"); w != 0 {
		t.Errorf("worker-1 still drawn (%.0f px) while zoomed into worker-2", w)
	}
	wd.click(wd.find("#reset"))
	if after, _ := wd.frameWidth("python/worker-2"); math.Abs(after-before) > 1 {
		t.Errorf("after reset, worker-2 is %.0f px, was %.0f", after, before)
	}

	// 5. View switch: the GIL wait view holds only wait states.
	wd.click(wd.find(`input[name=view][value=wait]`))
	var states []string
	wd.script(&states, `return [...new Set([...document.querySelectorAll("#chart .frame")].filter(d => d.style.top === "36px").map(d => d.textContent))].sort()`)
	if strings.Join(states, ",") != "gil-wait,lock-wait" {
		t.Errorf("wait view states %q, want gil-wait and lock-wait", states)
	}
	if about := wd.text("#about"); !strings.Contains(about, "GIL wait") {
		t.Errorf("about %q after switching to the wait view", about)
	}

	// 6. Thread filter: hiding worker-2 leaves worker-1's waits only.
	wd.click(wd.find("#threads-panel summary"))
	wd.click(wd.find(`#threads input[data-thread="python/worker-2"]`))
	if w, _ := wd.frameWidth("python/worker-2"); w != 0 {
		t.Errorf("hidden thread drawn %.0f px wide", w)
	}
	if w, width := wd.frameWidth("python/worker-1"); math.Abs(w-width) > 2 {
		t.Errorf("the only thread left is %.0f px of %.0f", w, width)
	}

	if golden.Updating() {
		screenshot(t, wd)
	}
}

// screenshot saves a page of the api-service fixture as
// docs/img/flame.png: zoomed into one handler, searching for query_db,
// hovering over a frame.
func screenshot(t *testing.T, wd *webDriver) {
	tr, err := tracer.ReadFile(filepath.Join(exporttest.FixtureDir(), "api-service.giltrace"))
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	file := filepath.Join(t.TempDir(), "flame.html")
	if err := os.WriteFile(file, page(t, tr), 0o644); err != nil {
		t.Fatal(err)
	}
	wd.must("POST", "/url", map[string]string{"url": "file://" + file}, nil)
	wd.must("POST", "/element/"+wd.find("#search")+"/value", map[string]string{"text": "query_db"}, nil)
	wd.click(wd.frame("handler-2"))
	wd.hover(wd.frame("gil-wait"))
	var b64 string
	wd.must("GET", "/screenshot", nil, &b64)
	png, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("..", "..", "docs", "img", "flame.png")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}
