// Package jaegertest runs a real Jaeger (v2, in-memory storage, every
// listener on 127.0.0.1) for integration tests, building it from the tools
// module in tools/jaeger when needed, and queries its HTTP API.
package jaegertest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// jaegerPkg is Jaeger v2's main package, a tool dependency of tools/jaeger.
const jaegerPkg = "github.com/jaegertracing/jaeger/cmd/jaeger"

// InCI reports whether the tests run in CI, where a Jaeger that cannot be
// built or started fails the test instead of skipping it.
func InCI() bool {
	v, _ := strconv.ParseBool(os.Getenv("CI"))
	return v
}

// unavailable fails the test in CI and skips it elsewhere.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if InCI() {
		t.Fatalf(format, args...)
	}
	t.Skipf(format+" (skipped outside CI; CI=true makes this a failure)", args...)
}

// toolsDir is tools/jaeger of the repository the test runs in.
func toolsDir() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		d := filepath.Join(dir, "tools", "jaeger")
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no tools/jaeger/go.mod above the working directory")
		}
		dir = parent
	}
}

var buildMu sync.Mutex

// Binary returns tools/jaeger/bin/jaeger, building it first if it is
// missing or older than tools/jaeger/go.sum. A cold build takes about 10
// minutes on 2 cores; the Go build cache makes later ones take seconds. A
// file lock keeps concurrent test binaries from building it twice.
func Binary(t testing.TB) string {
	t.Helper()
	path, err := build()
	if err != nil {
		unavailable(t, "jaegertest: %v", err)
	}
	return path
}

func build() (string, error) {
	buildMu.Lock()
	defer buildMu.Unlock()
	dir, err := toolsDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "bin", "jaeger")
	if fresh(bin, filepath.Join(dir, "go.sum")) {
		return bin, nil
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(dir, "bin", ".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("locking %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if fresh(bin, filepath.Join(dir, "go.sum")) { // built by another process meanwhile
		return bin, nil
	}
	tmp := bin + ".tmp"
	cmd := exec.Command("go", "build", "-o", tmp, jaegerPkg)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building Jaeger (cd %s && go build -o bin/jaeger %s): %w\n%s", dir, jaegerPkg, err, out)
	}
	return bin, os.Rename(tmp, bin)
}

func fresh(bin, gosum string) bool {
	b, err := os.Stat(bin)
	if err != nil {
		return false
	}
	s, err := os.Stat(gosum)
	return err == nil && !b.ModTime().Before(s.ModTime())
}

// Jaeger is a running Jaeger.
type Jaeger struct {
	OTLPHTTP  string // base URL of the OTLP/HTTP receiver, http://127.0.0.1:port
	OTLPGRPC  string // URL of the OTLP/gRPC receiver, http://127.0.0.1:port
	QueryHTTP string // base URL of the query HTTP API
	Health    string // URL of the health check

	cmd *exec.Cmd
	log *bytes.Buffer
}

// Start builds Jaeger if needed and starts it with
// tools/jaeger/config-loopback.yaml on free ports of 127.0.0.1, and waits
// until its health check says it is ready. Jaeger's process group is
// killed when the test ends, whether it passed or not; its log is printed
// if the test failed.
func Start(t testing.TB) *Jaeger {
	t.Helper()
	bin := Binary(t)
	dir, _ := toolsDir()
	var errs []error
	for attempt := 0; attempt < 3; attempt++ { // a free port can be taken before Jaeger binds it
		j, err := start(t, bin, filepath.Join(dir, "config-loopback.yaml"))
		if err == nil {
			return j
		}
		errs = append(errs, err)
	}
	unavailable(t, "jaegertest: starting Jaeger: %v", errors.Join(errs...))
	return nil
}

func start(t testing.TB, bin, config string) (*Jaeger, error) {
	ports, err := freePorts(5)
	if err != nil {
		return nil, err
	}
	j := &Jaeger{
		OTLPGRPC:  "http://127.0.0.1:" + ports[0],
		OTLPHTTP:  "http://127.0.0.1:" + ports[1],
		QueryHTTP: "http://127.0.0.1:" + ports[2],
		Health:    "http://127.0.0.1:" + ports[4] + "/status",
		log:       &bytes.Buffer{},
	}
	j.cmd = exec.Command(bin, "--config", config)
	j.cmd.Env = append(os.Environ(),
		"JAEGER_OTLP_GRPC_PORT="+ports[0],
		"JAEGER_OTLP_HTTP_PORT="+ports[1],
		"JAEGER_QUERY_HTTP_PORT="+ports[2],
		"JAEGER_QUERY_GRPC_PORT="+ports[3],
		"JAEGER_HEALTH_PORT="+ports[4],
	)
	j.cmd.Stdout, j.cmd.Stderr = j.log, j.log
	j.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := j.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- j.cmd.Wait() }()
	stop := func() {
		syscall.Kill(-j.cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			syscall.Kill(-j.cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}
	// 60 s: Jaeger starts in about a second, far slower on a loaded machine.
	deadline := time.Now().Add(60 * time.Second)
	for {
		if healthy(j.Health) {
			break
		}
		select {
		case err := <-exited:
			exited <- err
			return nil, fmt.Errorf("jaeger exited (%v):\n%s", err, j.log)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return nil, fmt.Errorf("jaeger not healthy at %s after 60s:\n%s", j.Health, j.log)
		}
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("jaeger log:\n%s", j.log)
		}
	})
	return j, nil
}

func healthy(u string) bool {
	resp, err := http.Get(u)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	var st struct{ Healthy bool }
	return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&st) == nil && st.Healthy
}

// freePorts returns n distinct free ports of 127.0.0.1.
func freePorts(n int) ([]string, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var ports []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, strconv.Itoa(l.Addr().(*net.TCPAddr).Port))
	}
	return ports, nil
}

// Get fetches path (with its query) from the query HTTP API and returns
// the body; any status but 200 is an error.
func (j *Jaeger) Get(ctx context.Context, path string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.QueryHTTP+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("GET %s: %s: %s", path, resp.Status, strings.TrimSpace(string(body)))
	}
	return body, nil
}
