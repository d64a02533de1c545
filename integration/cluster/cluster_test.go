package cluster_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/demo/origin"
	"github.com/cachegate/cachegate/events"
	"github.com/cachegate/cachegate/internal/nodetest"
	"github.com/cachegate/cachegate/internal/testenv"
)

// policy is the demo's policy (tenants by subdomain, the profile, listing
// and gallery routes with their tags) without its event rule that adds
// gallery:{key} to company.updated, so that the gallery fragment is an
// entry of the edited tenant that an edit must leave alone.
const policy = `
cache_name: cachegate
tenants:
  by: subdomain
  domains: [localhost]
routes:
  - name: account
    match: { path: /account }
    private: true
  - name: edit
    match: { path: /edit }
    private: true
  - name: profile
    match: { path: "/{$}", methods: [GET] }
    ttl: 1d
    browser: public, max-age=60
    stale_while_revalidate: 1m
    stale_if_error: 1h
    tags: ["company:{tenant}"]
    locales: [en, de]
  - name: company
    match: { path: "/companies/{id}", methods: GET }
    ttl: 1h
    tags: ["company:{id}"]
    locales: [en, de]
  - name: companies
    match: { path: "/companies/{$}", methods: GET }
    ttl: 10m
    tags: [company]
    locales: [en, de]
  - name: gallery-fragment
    match: { path: /fragments/gallery, methods: GET }
    ttl: 1h
    tags: ["gallery:{tenant}"]
    locales: [en, de]
default:
  ttl: origin
`

// cdnToken and cdnZone are the fake Cloudflare API's token and the zone
// every tenant shares.
const (
	cdnToken = "cf-test-token-0123456789"
	cdnZone  = "0123456789abcdef0123456789abcdef"
)

// clusterOptions say what a test cluster is made of.
type clusterOptions struct {
	// nodes to start; 0 means 3.
	nodes int
	// cloudflare, when set, is the base URL of a Cloudflare fake every
	// node purges through (zone cdnZone).
	cloudflare string
	// natsURL returns node i's NATS URL; nil means the shared server's.
	// startClusterWith sets it, once the server's URL is known.
	natsURL func(i int) string
	// originLatency is the origin's per-page latency; 0 means none.
	originLatency time.Duration
	// l2URL is the nodes' shared L2 (memcached://...); empty means the
	// cluster's own Redis.
	l2URL string
	// natsCluster is the URL list of a NATS cluster the nodes use, with
	// replicas; empty means one embedded server of the test's own.
	natsCluster string
	replicas    int
	// region, sources and purgeRegion make the nodes one region of
	// several (nats.region, nats.sources, cdn.purge_region).
	region      string
	sources     []string
	purgeRegion string
	// origin, when set, is another cluster whose origin this one shares
	// (regions in front of one app), instead of an origin of its own.
	origin *cluster
}

// cluster is three (or more) nodes sharing NATS and Redis in front of one
// demo origin.
type cluster struct {
	t    testing.TB
	nats *testenv.NATS // nil on a NATS cluster
	// natsURL is the shared NATS (a cluster's URL list).
	natsURL string
	redis   *testenv.Redis
	origin  *origin.Origin
	// originURL is the origin's own base URL (for edits and its stats).
	originURL string
	nodes     []*nodetest.Node
	file      *config.File
	opts      clusterOptions

	js jetstream.JetStream

	mu     sync.Mutex
	onEdit func(ctx context.Context, tenant, description string) error
}

func startCluster(t testing.TB, o clusterOptions) *cluster {
	t.Helper()
	return startClusterWith(t, o, nil)
}

// startClusterWith is startCluster with node i's NATS URL from
// natsURL(c)(i), for tests that put something between a node and NATS.
func startClusterWith(t testing.TB, o clusterOptions, natsURL func(c *cluster) func(int) string) *cluster {
	t.Helper()
	if o.nodes == 0 {
		o.nodes = 3
	}
	c := &cluster{t: t, opts: o, redis: testenv.StartRedis(t), natsURL: o.natsCluster}
	if o.natsCluster == "" {
		c.nats = testenv.StartNATS(t)
		c.natsURL = c.nats.URL
	}
	if o.origin != nil {
		c.origin, c.originURL = o.origin.origin, o.origin.originURL
	} else {
		c.startOrigin()
	}
	yaml := policy
	if o.cloudflare != "" {
		yaml += fmt.Sprintf(`
cdn:
  provider: cloudflare
  coalesce_window: 20ms
  cloudflare:
    api_token: %s
    base_url: %s
    zone: %s
`, cdnToken, o.cloudflare, cdnZone)
	}
	f, err := config.Parse("cluster.yaml", []byte(yaml), func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("policy: %v", err)
	}
	f.NATS.Replicas = o.replicas
	f.NATS.Region, f.NATS.Sources, f.CDN.PurgeRegion = o.region, o.sources, o.purgeRegion
	c.file = f
	if natsURL != nil {
		c.opts.natsURL = natsURL(c)
	}
	for i := 0; i < o.nodes; i++ {
		c.startNode()
	}
	c.waitLive(len(c.nodes))
	return c
}

// startOrigin starts the cluster's own demo origin, whose POST /edit calls
// the hook setOnEdit sets.
func (c *cluster) startOrigin() {
	latency := c.opts.originLatency
	if latency == 0 {
		latency = -1
	}
	org, err := origin.New(origin.Config{
		Latency: latency,
		// The hook is set per test once the nodes (and their publishers)
		// exist.
		OnEdit: func(ctx context.Context, tenant, description string) error {
			c.mu.Lock()
			f := c.onEdit
			c.mu.Unlock()
			if f == nil {
				return nil
			}
			return f(ctx, tenant, description)
		},
	})
	if err != nil {
		c.t.Fatal(err)
	}
	srv := httptest.NewServer(org.Handler())
	c.t.Cleanup(srv.Close)
	c.origin, c.originURL = org, srv.URL
}

// setOnEdit makes POST /edit on the origin call f.
func (c *cluster) setOnEdit(f func(ctx context.Context, tenant, description string) error) {
	c.mu.Lock()
	c.onEdit = f
	c.mu.Unlock()
}

// startNode starts one more node on the shared servers and returns it.
func (c *cluster) startNode() *nodetest.Node {
	c.t.Helper()
	url := c.natsURL
	if c.opts.natsURL != nil {
		url = c.opts.natsURL(len(c.nodes))
	}
	l2 := c.opts.l2URL
	if l2 == "" {
		l2 = "redis://" + c.redis.Addr + "/0"
	}
	n := nodetest.Start(c.t, nodetest.Options{NATSURL: url, RedisURL: l2, Origin: c.originURL, File: c.file})
	c.nodes = append(c.nodes, n)
	return n
}

// waitLive waits until the instance registry holds want live
// instances, which every coordinator watches: from then on a broadcast
// awaits all of them.
func (c *cluster) waitLive(want int) {
	c.t.Helper()
	ctx := context.Background()
	js := c.jetStream()
	testenv.WaitFor(c.t, 15*time.Second, func() error {
		kv, err := js.KeyValue(ctx, events.RegistryBucket)
		if err != nil {
			return err
		}
		keys, err := kv.ListKeys(ctx)
		if err != nil {
			return err
		}
		live := 0
		for k := range keys.Keys() {
			e, err := kv.Get(ctx, k)
			if err != nil {
				continue
			}
			var info struct {
				TTL time.Duration `json:"ttl"`
			}
			_ = json.Unmarshal(e.Value(), &info)
			if time.Since(e.Created()) < info.TTL {
				live++
			}
		}
		if live != want {
			return fmt.Errorf("%d live instances registered, want %d", live, want)
		}
		return nil
	})
}

// jetStream is a connection of the test's own to the shared NATS server.
func (c *cluster) jetStream() jetstream.JetStream {
	c.t.Helper()
	if c.js != nil {
		return c.js
	}
	nc, err := nats.Connect(c.natsURL, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(nc.Close)
	if c.js, err = jetstream.New(nc); err != nil {
		c.t.Fatal(err)
	}
	return c.js
}

// page is one response of the gateway, reduced to what the tests check.
type page struct {
	status      int
	cacheStatus string
	version     int
	rendered    int
	body        string
}

func (p page) hit() bool  { return strings.Contains(p.cacheStatus, "; hit") }
func (p page) miss() bool { return strings.Contains(p.cacheStatus, "fwd=miss") }
func (p page) layer() string {
	switch {
	case strings.Contains(p.cacheStatus, "detail=l1"):
		return "l1"
	case strings.Contains(p.cacheStatus, "detail=l2"):
		return "l2"
	}
	return ""
}

var (
	versionRE  = regexp.MustCompile(`data-version="(\d+)"`)
	renderedRE = regexp.MustCompile(`data-rendered="(\d+)"`)
)

// client is shared by the tests: keep-alive connections to every node.
var client = &http.Client{
	Timeout:   10 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 64},
}

// get requests path of tenant on the gateway at base.
func get(ctx context.Context, base, tenant, path string) (page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	if err != nil {
		return page{}, err
	}
	req.Host = tenant + ".localhost"
	resp, err := client.Do(req)
	if err != nil {
		return page{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return page{}, fmt.Errorf("%s%s: body: %w", tenant, path, err)
	}
	p := page{status: resp.StatusCode, cacheStatus: resp.Header.Get("Cache-Status"), body: string(b), version: -1, rendered: -1}
	if m := versionRE.FindSubmatch(b); m != nil {
		p.version, _ = strconv.Atoi(string(m[1]))
	}
	if m := renderedRE.FindSubmatch(b); m != nil {
		p.rendered, _ = strconv.Atoi(string(m[1]))
	}
	return p, nil
}

// mustGet is get that fails t on a transport error or a status other
// than 200.
func mustGet(t testing.TB, base, tenant, path string) page {
	t.Helper()
	p, err := get(context.Background(), base, tenant, path)
	if err != nil {
		t.Fatalf("GET %s%s: %v", tenant, path, err)
	}
	if p.status != http.StatusOK {
		t.Fatalf("GET %s%s: status %d, Cache-Status %q", tenant, path, p.status, p.cacheStatus)
	}
	return p
}

// warm requests path until the node answers it from its L1.
func warm(t testing.TB, n *nodetest.Node, tenant, path string) page {
	t.Helper()
	var last page
	testenv.WaitFor(t, 5*time.Second, func() error {
		last = mustGet(t, n.URL, tenant, path)
		if last.layer() != "l1" {
			return fmt.Errorf("%s%s on %s: Cache-Status %q, want an L1 hit", tenant, path, n.URL, last.cacheStatus)
		}
		return nil
	})
	return last
}

// companyUpdated is the event the demo's editor publishes.
func companyUpdated(tenant string) events.Event {
	return events.Event{Tenant: tenant, Type: "company.updated", Entity: "company", Key: tenant, OccurredAt: time.Now().UTC()}
}

// originStats reads the origin's request counts.
func (c *cluster) originStats(t testing.TB) (total int, paths map[string]int) {
	t.Helper()
	resp, err := client.Get(c.originURL + "/_origin/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Total int            `json:"total"`
		Paths map[string]int `json:"paths"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Total, out.Paths
}
