package chaos_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cachegate/cachegate/events"
	"github.com/cachegate/cachegate/internal/testenv"
	"github.com/cachegate/cachegate/purge/cloudflare/cloudflarefake"
)

// The suite's fixed names and secrets.
const (
	tenant     = "chaos"
	host       = tenant + ".localhost"
	adminToken = "chaos-admin-token-0123456789"
	cdnToken   = "cf-chaos-token-0123456789"
	cdnZone    = "0123456789abcdef0123456789abcdef"
	natsUser   = "cachegate"
	natsPass   = "chaos-nats-password"
	instances  = 3
	// l2Reader is the instance whose L1 holds nothing, so that every hit
	// it serves comes from the shared L2: what any instance serves after a
	// restart, a scale-out or an eviction. Without it, a stale L2 entry
	// hides behind the other instances' fresher L1 copies.
	l2Reader = 1
)

// serveConfig is every instance's config file: tenants by subdomain, the
// origin's own headers for freshness and tags, and Cloudflare (the fake,
// behind the gate) as CDN; the first %s is room for an l1 section.
const serveConfig = `%s
cache_name: cachegate
tenants:
  by: subdomain
  domains: [localhost]
default:
  ttl: origin
cdn:
  provider: cloudflare
  coalesce_window: 20ms
  cloudflare:
    api_token: %s
    base_url: %s
    zone: %s
`

// env is the system under test: its processes and the test's own servers.
type env struct {
	t      *testing.T
	nats   *testenv.NATSProcess
	redis  *testenv.Redis
	origin *origin
	fake   *cloudflarefake.Server
	gate   *cdnGate
	insts  []*instance
	kv     jetstream.KeyValue
	logDir string
}

func startEnv(t *testing.T) *env {
	t.Helper()
	bins := testenv.GoBuild(t, testenv.NATSServerPackage, "github.com/cachegate/cachegate/cmd/cachegate")
	e := &env{t: t, origin: newOrigin()}
	e.logDir = os.Getenv("CACHEGATE_CHAOS_LOGS")
	if e.logDir == "" {
		e.logDir = t.TempDir()
	} else if err := os.MkdirAll(e.logDir, 0o755); err != nil {
		t.Fatalf("CACHEGATE_CHAOS_LOGS: %v", err)
	}
	e.nats = testenv.StartNATSProcess(t, filepath.Join(bins, "nats-server"), natsUser, natsPass)
	e.redis = testenv.StartRedis(t)

	originSrv := httptest.NewServer(e.origin)
	t.Cleanup(originSrv.Close)
	e.fake = cloudflarefake.New(cdnToken)
	t.Cleanup(e.fake.Close)
	e.gate = newCDNGate(t, e.fake)

	cfgDir := t.TempDir()
	for i := 0; i < instances; i++ {
		l1 := ""
		if i == l2Reader {
			l1 = "l1: { max_bytes: 1 }"
		}
		cfgPath := filepath.Join(cfgDir, fmt.Sprintf("instance-%d.yaml", i))
		cfg := fmt.Sprintf(serveConfig, l1, cdnToken, e.gate.URL(), cdnZone)
		if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		in := &instance{
			i:       i,
			bin:     filepath.Join(bins, "cachegate"),
			gw:      fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)),
			admin:   fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)),
			logPath: filepath.Join(e.logDir, fmt.Sprintf("instance-%d.log", i)),
		}
		in.args = []string{"serve", "--config", cfgPath, "--origin", originSrv.URL,
			"--listen", in.gw, "--admin-listen", in.admin}
		in.env = append(cleanEnviron(),
			"CACHEGATE_REDIS_URL=redis://"+e.redis.Addr+"/0",
			"CACHEGATE_NATS_URL="+e.nats.URL,
			"CACHEGATE_ADMIN_TOKEN="+adminToken,
		)
		in.start(t)
		t.Cleanup(func() { in.stop(t) })
		e.insts = append(e.insts, in)
	}

	nc, err := nats.Connect(e.nats.URL, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatalf("connect to NATS: %v", err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if e.kv, err = js.KeyValue(context.Background(), events.RegistryBucket); err != nil {
		t.Fatalf("registry bucket: %v", err)
	}
	e.waitCluster()
	return e
}

// cleanEnviron is the test's environment without CACHEGATE_* variables, so
// that a developer's own settings cannot reach the instances.
func cleanEnviron() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CACHEGATE_") {
			out = append(out, kv)
		}
	}
	return out
}

// waitCluster waits until every instance is ready and the registry that
// coordinators watch holds exactly the live instances: from then on a
// broadcast awaits all of them, and no dead one.
func (e *env) waitCluster() {
	e.t.Helper()
	for _, in := range e.insts {
		in.waitReady(e.t)
	}
	testenv.WaitFor(e.t, 30*time.Second, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		keys, err := e.kv.ListKeys(ctx)
		if err != nil {
			return err
		}
		live := 0
		for k := range keys.Keys() {
			entry, err := e.kv.Get(ctx, k)
			if err != nil {
				continue
			}
			var info struct {
				TTL time.Duration `json:"ttl"`
			}
			if json.Unmarshal(entry.Value(), &info) == nil && time.Since(entry.Created()) < info.TTL {
				live++
			}
		}
		if live != instances {
			return fmt.Errorf("%d live instances in the registry, want %d", live, instances)
		}
		return nil
	})
}

// origin serves /p/<id> pages whose body carries the page's version,
// cacheable by shared caches for an hour and tagged page:<id>.
type origin struct {
	mu       sync.Mutex
	versions map[string]int
}

func newOrigin() *origin { return &origin{versions: map[string]int{}} }

// bump makes the next version of page id current and returns it. It has
// returned before the edit's event is published, so any fetch that starts
// after the publish sees it.
func (o *origin) bump(id string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.versions[id]++
	return o.versions[id]
}

func (o *origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	id, ok := strings.CutPrefix(r.URL.Path, "/p/")
	if !ok || id == "" || strings.Contains(id, "/") {
		http.NotFound(w, r)
		return
	}
	o.mu.Lock()
	v := o.versions[id]
	o.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=0, s-maxage=3600")
	w.Header().Set("Surrogate-Key", "page:"+id)
	fmt.Fprintf(w, "<!doctype html><title>%s</title><p data-page=%q data-version=\"%d\">version %d</p>\n", id, id, v, v)
}
