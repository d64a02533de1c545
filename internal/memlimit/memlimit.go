package memlimit

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// Overhead is what the process needs besides the L1 entries and the fill
// buffers when no limit is known: the runtime, the embedded NATS server,
// connections, and the garbage the request path makes between collections.
const Overhead = 64 << 20

// DefaultCgroupRoot is where cgroup files are mounted.
const DefaultCgroupRoot = "/sys/fs/cgroup"

// noLimit is above any value cgroup v1 reports for "unlimited"
// (9223372036854771712, the page-rounded max int64).
const noLimit = 1 << 62

// Limit is a memory limit and where it came from.
type Limit struct {
	Bytes  int64  // 0: none found
	Source string // "GOMEMLIMIT", "cgroup v2", "cgroup v1" or ""
}

// Detect finds the limit the process runs under: GOMEMLIMIT when set
// (as the runtime reports it), else the cgroup limit under root.
func Detect(root string) (Limit, error) {
	if v := debug.SetMemoryLimit(-1); v < math.MaxInt64 {
		return Limit{Bytes: v, Source: "GOMEMLIMIT"}, nil
	}
	return Cgroup(root)
}

// Cgroup reads the memory limit of the process's cgroup under root: v2's
// memory.max, else v1's memory/memory.limit_in_bytes. No file, "max" or
// v1's "unlimited" mean no limit.
func Cgroup(root string) (Limit, error) {
	for _, f := range []struct{ path, source string }{
		{"memory.max", "cgroup v2"},
		{filepath.Join("memory", "memory.limit_in_bytes"), "cgroup v1"},
	} {
		b, err := os.ReadFile(filepath.Join(root, f.path))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return Limit{}, fmt.Errorf("memlimit: %w", err)
		}
		s := strings.TrimSpace(string(b))
		if s == "max" {
			return Limit{}, nil
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return Limit{}, fmt.Errorf("memlimit: %s: %q is not a byte count", f.path, s)
		}
		if n <= 0 || n >= noLimit {
			return Limit{}, nil
		}
		return Limit{Bytes: n, Source: f.source}, nil
	}
	return Limit{}, nil
}

// Budget is how a process spends its memory.
type Budget struct {
	// L1 is the L1 byte budget.
	L1 int64
	// Runtime is the Go runtime's soft memory limit to set; 0: leave it
	// (GOMEMLIMIT set one).
	Runtime int64
}

// Plan divides lim between the L1 (explicitL1 when non-zero, else
// defaultL1 without a limit) and the rest; fill is the bytes fills in
// flight may hold (gateway.Config.FillBufferBytes).
func Plan(lim Limit, explicitL1, defaultL1, fill int64) Budget {
	b := Budget{L1: explicitL1}
	if b.L1 == 0 {
		b.L1 = defaultL1
		if lim.Bytes > 0 {
			b.L1 = lim.Bytes / 2
		}
	}
	switch {
	case lim.Source == "GOMEMLIMIT":
	case lim.Bytes > 0:
		b.Runtime = lim.Bytes / 10 * 9
	default:
		b.Runtime = b.L1 + fill + Overhead
	}
	return b
}
