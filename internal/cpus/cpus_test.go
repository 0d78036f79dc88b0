package cpus

import (
	"os"
	"path/filepath"
	"testing"
)

// TestLimit: the CPU bandwidth limit of a process's cgroup, from fake
// /proc and /sys/fs/cgroup trees: cgroup v2 (the least of the cgroup's
// and its ancestors'), hybrid (v2 under unified/), v1's cpu controller
// (joined with cpuacct, or alone), no limit, nothing readable.
func TestLimit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cgroup string            // /proc/PID/cgroup
		files  map[string]string // under the cgroup root
		want   float64
	}{
		{"v2, a container's 2 CPUs", "0::/", map[string]string{"cpu.max": "200000 100000\n"}, 2},
		{"v2, the least of the ancestors'", "0::/a/b", map[string]string{"a/cpu.max": "300000 100000\n", "a/b/cpu.max": "150000 100000\n"}, 1.5},
		{"v2, a child without a limit under a parent with one", "0::/a/b", map[string]string{"a/cpu.max": "100000 100000\n", "a/b/cpu.max": "max 100000\n"}, 1},
		{"v2, no limit", "0::/a", map[string]string{"a/cpu.max": "max 100000\n"}, 0},
		{"hybrid, v2 under unified", "1:cpu:/\n0::/s", map[string]string{"unified/s/cpu.max": "400000 100000\n", "cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, 4},
		{"v1, cpu,cpuacct", "4:cpu,cpuacct:/docker/x\n0::/", map[string]string{"cpu,cpuacct/docker/x/cpu.cfs_quota_us": "50000\n", "cpu,cpuacct/docker/x/cpu.cfs_period_us": "100000\n"}, 0.5},
		{"v1, none", "1:cpu:/", map[string]string{"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, 0},
		{"v1, not the cpu controller", "4:cpuacct:/x", map[string]string{"cpuacct/x/cpu.cfs_quota_us": "50000\n", "cpuacct/x/cpu.cfs_period_us": "100000\n"}, 0},
		{"garbage", "0::/\nnonsense", map[string]string{"cpu.max": "two hundred\n"}, 0},
		{"no files", "0::/a", nil, 0},
	} {
		dir := t.TempDir()
		proc, cg := filepath.Join(dir, "proc"), filepath.Join(dir, "cg")
		write(t, filepath.Join(proc, "42", "cgroup"), tc.cgroup)
		for name, body := range tc.files {
			write(t, filepath.Join(cg, name), body)
		}
		if got := limit(proc, cg, "42"); got != tc.want {
			t.Errorf("%s: limit %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := limit(t.TempDir(), t.TempDir(), "42"); got != 0 {
		t.Errorf("no /proc/PID/cgroup: limit %v, want 0", got)
	}
}

// TestBound: CPUs within a limit, rounded up, at least one.
func TestBound(t *testing.T) {
	for _, tc := range []struct {
		n    int
		lim  float64
		want int
	}{{64, 2, 2}, {64, 1.5, 2}, {64, 0.5, 1}, {4, 8, 4}, {4, 0, 4}, {0, 0, 1}, {8, 2.0000000001, 2}} {
		if got := bound(tc.n, tc.lim); got != tc.want {
			t.Errorf("bound(%d, %v) = %d, want %d", tc.n, tc.lim, got, tc.want)
		}
	}
}

func write(t *testing.T, file, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}
