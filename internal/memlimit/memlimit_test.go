package memlimit

import (
	"os"
	"path/filepath"
	"testing"
)

func TestCgroup(t *testing.T) {
	for _, tc := range []struct {
		name  string
		files map[string]string
		want  Limit
		bad   bool
	}{
		{"v2 limit", map[string]string{"memory.max": "536870912\n"}, Limit{536870912, "cgroup v2"}, false},
		{"v2 unlimited", map[string]string{"memory.max": "max\n"}, Limit{}, false},
		{"v1 limit", map[string]string{"memory/memory.limit_in_bytes": "268435456\n"}, Limit{268435456, "cgroup v1"}, false},
		{"v1 unlimited", map[string]string{"memory/memory.limit_in_bytes": "9223372036854771712\n"}, Limit{}, false},
		{"v2 wins over v1", map[string]string{"memory.max": "1000000", "memory/memory.limit_in_bytes": "2000000"}, Limit{1000000, "cgroup v2"}, false},
		{"no cgroup files", nil, Limit{}, false},
		{"garbage", map[string]string{"memory.max": "lots"}, Limit{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			for name, v := range tc.files {
				p := filepath.Join(root, name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(v), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := Cgroup(root)
			if (err != nil) != tc.bad {
				t.Fatalf("err = %v, want error %v", err, tc.bad)
			}
			if got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestPlan(t *testing.T) {
	const mib = 1 << 20
	for _, tc := range []struct {
		name     string
		lim      Limit
		explicit int64
		want     Budget
	}{
		{"no limit: default L1, runtime bounded to budget plus overhead", Limit{}, 0, Budget{L1: 256 * mib, Runtime: 256*mib + 64*mib + Overhead}},
		{"no limit, explicit L1", Limit{}, 32 * mib, Budget{L1: 32 * mib, Runtime: 32*mib + 64*mib + Overhead}},
		{"cgroup: half to L1, runtime at 90%", Limit{1000 * mib, "cgroup v2"}, 0, Budget{L1: 500 * mib, Runtime: 1000 * mib / 10 * 9}},
		{"cgroup, explicit L1 wins", Limit{1000 * mib, "cgroup v1"}, 100 * mib, Budget{L1: 100 * mib, Runtime: 1000 * mib / 10 * 9}},
		{"GOMEMLIMIT: half to L1, runtime left alone", Limit{400 * mib, "GOMEMLIMIT"}, 0, Budget{L1: 200 * mib}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Plan(tc.lim, tc.explicit, 256*mib, 64*mib); got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}
