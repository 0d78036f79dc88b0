// Package browser is the tests' one harness for headless Chromium: it finds
// Debian's chromium and chromedriver (installed by test.sh; Go tests never
// install anything), starts a W3C WebDriver session on loopback, and offers
// the few commands the browser tests use (navigate, run a script, find,
// click, hover, type, take a screenshot). In CI (CI set) a missing browser
// fails the test; elsewhere it skips with the reason.
package browser

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"testing"
	"time"
)

// Args are Chromium's flags on a headless machine without a GPU, a session bus or
// network access, as root.
var Args = []string{
	"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
	"--disable-background-networking", "--disable-component-update", "--disable-sync",
	"--disable-dev-shm-usage", "--window-size=1200,800",
}

// Chromium returns the path of Debian's chromium. test.sh installs it; when
// it is missing the test fails in CI and is skipped elsewhere.
func Chromium(t testing.TB) string {
	t.Helper()
	return need(t, "chromium", "chromium")
}

// need returns the path of command name, from Debian's package pkg.
func need(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	msg := fmt.Sprintf("no %s (Debian's %s package; ./test.sh installs it): %v", name, pkg, err)
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// Driver is a minimal W3C WebDriver client for one chromedriver session.
type Driver struct {
	t    testing.TB
	base string // http://127.0.0.1:PORT/session/ID
}

// ElementKey is the W3C element reference key of an element in a result.
const ElementKey = "element-6066-11e4-a52e-4f735466cecf"

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Start starts chromedriver on a loopback port and opens a session with
// headless Chromium, with Args and extra flags; both end with the test.
func Start(t testing.TB, extra ...string) *Driver {
	t.Helper()
	chromium := Chromium(t)
	driver := need(t, "chromedriver", "chromium-driver")
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
	wd := &Driver{t: t, base: root}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var status struct{ Ready bool }
		if err := wd.Call("GET", "/status", nil, &status); err == nil && status.Ready {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("chromedriver not ready after 30s:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	args := append(append(append([]string(nil), Args...), extra...), "--user-data-dir="+t.TempDir())
	caps := map[string]any{"capabilities": map[string]any{"alwaysMatch": map[string]any{
		"browserName":        "chrome",
		"goog:chromeOptions": map[string]any{"binary": chromium, "args": args},
	}}}
	var session struct{ SessionID string }
	if err := wd.Call("POST", "/session", caps, &session); err != nil {
		t.Fatalf("starting a browser session: %v", err)
	}
	wd.base = root + "/session/" + session.SessionID
	t.Cleanup(func() { wd.Call("DELETE", "", nil, nil) })
	return wd
}

// Call sends a WebDriver command and decodes its "value" into out.
func (wd *Driver) Call(method, path string, in, out any) error {
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

// Must is Call, failing the test on an error.
func (wd *Driver) Must(method, path string, in, out any) {
	wd.t.Helper()
	if err := wd.Call(method, path, in, out); err != nil {
		wd.t.Fatal(err)
	}
}

// Script runs JavaScript in the page and decodes its result into out.
func (wd *Driver) Script(out any, js string, args ...any) {
	wd.t.Helper()
	if args == nil {
		args = []any{}
	}
	wd.Must("POST", "/execute/sync", map[string]any{"script": js, "args": args}, out)
}

// Find returns the element matching a CSS selector.
func (wd *Driver) Find(css string) string {
	wd.t.Helper()
	var el map[string]string
	wd.Must("POST", "/element", map[string]string{"using": "css selector", "value": css}, &el)
	return el[ElementKey]
}

// Click clicks element el.
func (wd *Driver) Click(el string) {
	wd.t.Helper()
	wd.Must("POST", "/element/"+el+"/click", map[string]any{}, nil)
}

// Hover moves the mouse over the middle of el, scrolled into view.
func (wd *Driver) Hover(el string) {
	wd.t.Helper()
	// Pointer actions do not scroll (clicks do): bring el into the window
	// first, or the pointer lands outside it and nothing is hovered.
	wd.Script(nil, `arguments[0].scrollIntoView({block: "center", inline: "center"})`, map[string]string{ElementKey: el})
	wd.Must("POST", "/actions", map[string]any{"actions": []any{map[string]any{
		"type": "pointer", "id": "mouse", "parameters": map[string]string{"pointerType": "mouse"},
		"actions": []any{map[string]any{"type": "pointerMove", "duration": 0, "x": 0, "y": 0,
			"origin": map[string]string{ElementKey: el}}},
	}}}, nil)
}

// Text is the text content of the element matching a CSS selector.
func (wd *Driver) Text(css string) string {
	wd.t.Helper()
	var s string
	wd.Script(&s, `return document.querySelector(arguments[0]).textContent`, css)
	return s
}

// Navigate loads url in the session's window.
func (wd *Driver) Navigate(url string) {
	wd.t.Helper()
	wd.Must("POST", "/url", map[string]string{"url": url}, nil)
}

// Type sends text to element el, as keystrokes.
func (wd *Driver) Type(el, text string) {
	wd.t.Helper()
	wd.Must("POST", "/element/"+el+"/value", map[string]string{"text": text}, nil)
}

// Screenshot returns a PNG of the window.
func (wd *Driver) Screenshot() []byte {
	wd.t.Helper()
	var b64 string
	wd.Must("GET", "/screenshot", nil, &b64)
	png, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		wd.t.Fatalf("screenshot: %v", err)
	}
	return png
}

// T is the test the session belongs to.
func (wd *Driver) T() testing.TB { return wd.t }
