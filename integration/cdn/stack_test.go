package cdn_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/demo/origin"
	"github.com/cachegate/cachegate/events"
	"github.com/cachegate/cachegate/internal/nodetest"
	"github.com/cachegate/cachegate/internal/testenv"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/purge/cloudflare/cloudflarefake"
)

const (
	cfToken = "cf-test-token-0123456789"
	// zone is the Cloudflare zone both tenants share (tenant-prefixed tags).
	zone = "0123456789abcdef0123456789abcdef"
)

// stack is the whole chain: client → Varnish → gateway (L1, L2) → demo
// origin, with Cloudflare's fake as the CDN that would sit above Varnish.
type stack struct {
	t       *testing.T
	node    *nodetest.Node
	varnish *testenv.Varnish
	cf      *cloudflarefake.Server
	client  *http.Client
	// onCFCall, when set, runs as each Cloudflare API call arrives,
	// before the fake answers it: what a request refilling Cloudflare at
	// that moment would see.
	onCFCall atomic.Pointer[func()]

	mu    sync.Mutex
	edits []string // event ids of the edits, in order
}

// newStack starts NATS, Redis, the demo origin, a node configured from
// config/testdata/demo.yaml with providers cloudflare and varnish, and a
// Varnish in front of the node's gateway.
func newStack(t *testing.T) *stack {
	t.Helper()
	s := &stack{t: t, client: &http.Client{Timeout: 10 * time.Second}}
	nats := testenv.StartNATS(t)
	redis := testenv.StartRedis(t)
	s.cf = cloudflarefake.New(cfToken)
	t.Cleanup(s.cf.Close)
	cfURL, err := url.Parse(s.cf.URL())
	if err != nil {
		t.Fatal(err)
	}
	toCF := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: cfURL.Scheme, Host: cfURL.Host})
	cfFront := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f := s.onCFCall.Load(); f != nil {
			(*f)()
		}
		toCF.ServeHTTP(w, r)
	}))
	t.Cleanup(cfFront.Close)

	// The origin announces edits through the node's publisher, as the
	// demo does (cmd/cachegate publishEdit); the node starts after it.
	var pub atomic.Pointer[events.Publisher]
	// Whole pages (no ESI): the stack's Varnish caches pages whole.
	o, err := origin.New(origin.Config{Latency: -1, OnEdit: func(ctx context.Context, tenant, description string) error {
		data, _ := json.Marshal(map[string]string{"description": description})
		id, err := pub.Load().PublishAndWait(ctx, events.Event{
			Tenant: tenant, Type: "company.updated", Entity: "company", Key: tenant,
			Data: data, OccurredAt: time.Now().UTC(),
		})
		if err == nil {
			s.mu.Lock()
			s.edits = append(s.edits, id)
			s.mu.Unlock()
		}
		return err
	}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", o.Handler())
	mux.HandleFunc("GET /many-tags", manyTags)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	// Varnish needs the gateway's address and the node Varnish's URL:
	// Varnish starts first on a placeholder backend, and is pointed at the
	// gateway once the node runs (same port, so the purger's URL holds).
	vclPath := testenv.ShippedVCL(t)
	s.varnish = testenv.StartVarnish(t, "127.0.0.1:9", vclPath)

	f := demoFile(t)
	f.CDN = config.CDN{
		Providers:      []string{config.ProviderCloudflare, config.ProviderVarnish},
		CoalesceWindow: 50 * time.Millisecond,
		Cloudflare:     config.Cloudflare{APIToken: cfToken, BaseURL: cfFront.URL + cfURL.Path, Zone: zone},
		Varnish:        config.Varnish{URLs: []string{s.varnish.URL}, Timeout: 5 * time.Second},
	}
	s.node = nodetest.Start(t, nodetest.Options{
		NATSURL: nats.URL, RedisURL: "redis://" + redis.Addr, Origin: srv.URL, File: f,
	})
	pub.Store(s.node.Publisher())

	src, err := os.ReadFile(vclPath)
	if err != nil {
		t.Fatal(err)
	}
	vcl, err := testenv.RenderVCL(src, s.node.GatewayAddr())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.varnish.VCL, vcl, 0o644); err != nil {
		t.Fatal(err)
	}
	s.varnish.Restart()
	return s
}

// manyTagsN tags of about 14 bytes each: over the 8,000 bytes of
// Varnish's xkey header, within Cloudflare's 16 KB Cache-Tag.
const manyTagsN = 700

// manyTags is a page beside the demo's whose origin names more tags than
// Varnish's header holds, so that the last ones reach Varnish only as
// their fallback buckets.
func manyTags(w http.ResponseWriter, r *http.Request) {
	tags := make([]string, manyTagsN)
	for i := range tags {
		tags[i] = fmt.Sprintf("item:%d", i)
	}
	w.Header().Set("Surrogate-Key", strings.Join(tags, " "))
	w.Header().Set("Cache-Control", "public, max-age=60")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "a page with many tags\n")
}

// demoFile is the demo's policy and event rules.
func demoFile(t *testing.T) *config.File {
	t.Helper()
	data, err := os.ReadFile("../../config/testdata/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := config.Parse("demo.yaml", data, func(k string) (string, bool) {
		if k == "CACHEGATE_ADMIN_TOKEN" {
			return nodetest.Token, true
		}
		return "", false
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// page is what a GET of a tenant's page returned.
type page struct {
	status      int
	xCache      string // Varnish's HIT, MISS, PASS, STALE
	cacheStatus string
	header      http.Header
	body        string
}

// get fetches path of tenant through Varnish.
func (s *stack) get(tenant, path string) page {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodGet, s.varnish.URL+path, nil)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Host = tenant + ".localhost"
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("GET %s%s through Varnish: %v", tenant, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		s.t.Fatalf("GET %s%s through Varnish: %v", tenant, path, err)
	}
	return page{status: resp.StatusCode, xCache: resp.Header.Get("X-Cache"), cacheStatus: resp.Header.Get("Cache-Status"), header: resp.Header, body: string(b)}
}

// warm requests a tenant's page until Varnish serves it from cache.
func (s *stack) warm(tenant, path string) page {
	s.t.Helper()
	first := s.get(tenant, path)
	if first.status != http.StatusOK {
		s.t.Fatalf("GET %s%s: %d", tenant, path, first.status)
	}
	second := s.get(tenant, path)
	if second.xCache != "HIT" {
		s.t.Fatalf("%s%s not cached in Varnish: X-Cache %q, Cache-Status %q (first: %q, %q)", tenant, path, second.xCache, second.cacheStatus, first.xCache, first.cacheStatus)
	}
	return second
}

// edit posts a new description for tenant to the gateway as an editor
// would, and returns the id of the event the origin published.
func (s *stack) edit(tenant, description string) string {
	s.t.Helper()
	s.mu.Lock()
	before := len(s.edits)
	s.mu.Unlock()
	body, _ := json.Marshal(map[string]string{"description": description})
	req, err := http.NewRequest(http.MethodPost, s.node.URL+"/edit", bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	req.Host = tenant + ".localhost"
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Basic ZWRpdG9yOmVkaXRvcg==")
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("POST /edit: %d %s", resp.StatusCode, b)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.edits) != before+1 {
		s.t.Fatalf("the edit published %d events", len(s.edits)-before)
	}
	return s.edits[before]
}

// purgeState is GET /api/v1/purges/<id>.
type purgeState struct {
	ID      string                 `json:"id"`
	Targets map[string]purge.State `json:"targets"`
	Done    bool                   `json:"done"`
	Failed  bool                   `json:"failed"`
}

func (s *stack) admin(method, path string, body any, out any) int {
	s.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.node.AdminURL+path, r)
	if err != nil {
		s.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+nodetest.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			s.t.Fatalf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.StatusCode
}

// state reads purge id's states; an accepted purge is unknown (404) until
// the coordinator took it, which reads as no targets yet.
func (s *stack) state(id string) purgeState {
	s.t.Helper()
	var st purgeState
	switch code := s.admin(http.MethodGet, "/api/v1/purges/"+id, nil, &st); code {
	case http.StatusOK:
	case http.StatusNotFound:
		st = purgeState{ID: id}
	default:
		s.t.Fatalf("GET /api/v1/purges/%s: %d", id, code)
	}
	return st
}

// awaitStatuses waits until each target of purge id has its status.
func (s *stack) awaitStatuses(id string, want map[string]purge.Status, timeout time.Duration) purgeState {
	s.t.Helper()
	var st purgeState
	testenv.WaitFor(s.t, timeout, func() error {
		st = s.state(id)
		for target, status := range want {
			if got := st.Targets[target].Status; got != status {
				return fmt.Errorf("purge %s at %s: %q (%s), want %q; all: %+v", id, target, got, st.Targets[target].Detail, status, st.Targets)
			}
		}
		return nil
	})
	return st
}

// cfTags are the tags Cloudflare's fake purged successfully in the zone,
// as a set.
func (s *stack) cfTags() map[string]bool {
	got := map[string]bool{}
	for _, tag := range s.cf.Confirmed()[zone] {
		got[tag] = true
	}
	return got
}

func hasFwd(cacheStatus string) bool {
	// The gateway's entry comes first; Varnish appends its own.
	gw, _, _ := strings.Cut(cacheStatus, ", varnish")
	return strings.Contains(gw, "fwd=")
}
