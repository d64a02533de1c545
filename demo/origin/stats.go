package origin

import (
	"encoding/json"
	"maps"
	"net/http"
	"sync"
)

// maxStatPaths bounds the per-path table so that a client requesting
// endless distinct paths cannot grow the origin's memory; later paths are
// counted under OtherPath.
const maxStatPaths = 1000

// OtherPath is the Stats.Paths key that counts paths past the table's bound;
// UnknownTenant is the Stats.Tenants key of requests for no known tenant.
const (
	OtherPath     = "_other"
	UnknownTenant = "_unknown"
)

// Stats is what GET /_origin/stats reports: how many requests the origin
// served (every request but the stats endpoint itself), per path and per
// tenant, and how many edits it applied.
type Stats struct {
	Total   int64            `json:"total"`
	Paths   map[string]int64 `json:"paths"`
	Tenants map[string]int64 `json:"tenants"`
	Edits   int64            `json:"edits"`
}

type counter struct {
	mu      sync.Mutex
	total   int64
	edits   int64
	paths   map[string]int64
	tenants map[string]int64
}

func (c *counter) count(path, tenant string) {
	if tenant == "" {
		tenant = UnknownTenant
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.paths == nil {
		c.paths, c.tenants = map[string]int64{}, map[string]int64{}
	}
	c.total++
	if _, ok := c.paths[path]; !ok && len(c.paths) >= maxStatPaths {
		path = OtherPath
	}
	c.paths[path]++
	c.tenants[tenant]++
}

func (c *counter) edited() {
	c.mu.Lock()
	c.edits++
	c.mu.Unlock()
}

func (c *counter) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := Stats{Total: c.total, Edits: c.edits, Paths: maps.Clone(c.paths), Tenants: maps.Clone(c.tenants)}
	if s.Paths == nil {
		s.Paths, s.Tenants = map[string]int64{}, map[string]int64{}
	}
	return s
}

// Stats returns the request counts so far.
func (o *Origin) Stats() Stats { return o.stats.snapshot() }

func (o *Origin) serveStats(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(o.stats.snapshot())
}
