package varnish

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cachegate/cachegate/purge"
)

// seen is one request as a node received it.
type seen struct {
	Method, Host, Header, Value string
}

// fakeNode answers like the cachegate VCL, recording what it got; the
// answer can be overridden per test. It checks request shapes only; the
// real VCL is exercised in varnish_integration_test.go.
type fakeNode struct {
	mu     sync.Mutex
	got    []seen
	answer func(w http.ResponseWriter, r *http.Request) bool
	srv    *httptest.Server
}

func newFakeNode(t *testing.T) *fakeNode {
	n := &fakeNode{}
	n.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var s seen
		s.Method, s.Host = r.Method, r.Host
		for _, h := range []string{HeaderPurge, HeaderSoftPurge, HeaderBanURL, HeaderBanPrefix, HeaderBanHost, HeaderBanTenant} {
			if v := r.Header.Get(h); v != "" {
				s.Header, s.Value = h, v
			}
		}
		n.mu.Lock()
		n.got = append(n.got, s)
		answer := n.answer
		n.mu.Unlock()
		if answer != nil && answer(w, r) {
			return
		}
		if r.Method == MethodPurge {
			w.Header().Set(HeaderPurged, "2")
		} else {
			w.Header().Set(HeaderBanned, "1")
		}
	}))
	t.Cleanup(n.srv.Close)
	return n
}

func (n *fakeNode) requests() []seen {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]seen(nil), n.got...)
}

func newPurger(t *testing.T, cfg Config) *Purger {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRequestShapes(t *testing.T) {
	long := strings.Repeat("x", 1000)
	tests := []struct {
		name  string
		cfg   Config
		batch purge.Batch
		want  []seen
	}{
		{"tags hard", Config{}, purge.Batch{Tags: []string{"acme:company:acme", "acme:gallery:acme"}},
			[]seen{{MethodPurge, "", HeaderPurge, "acme:company:acme acme:gallery:acme"}}},
		{"tags soft by batch", Config{}, purge.Batch{Tags: []string{"a:b"}, Soft: true},
			[]seen{{MethodPurge, "", HeaderSoftPurge, "a:b"}}},
		{"tags soft by config", Config{Soft: true}, purge.Batch{Tags: []string{"a:b"}},
			[]seen{{MethodPurge, "", HeaderSoftPurge, "a:b"}}},
		{"tags split by count", Config{TagsPerCall: 2}, purge.Batch{Tags: []string{"a:1", "a:2", "a:3"}},
			[]seen{{MethodPurge, "", HeaderPurge, "a:1 a:2"}, {MethodPurge, "", HeaderPurge, "a:3"}}},
		{"tags split by header bytes", Config{MaxHeaderBytes: 2100}, purge.Batch{Tags: []string{long, long, long}},
			[]seen{{MethodPurge, "", HeaderPurge, long + " " + long}, {MethodPurge, "", HeaderPurge, long}}},
		{"url", Config{}, purge.Batch{URLs: []string{"https://acme.example.com/companies?page=2"}},
			[]seen{{MethodBan, "acme.example.com", HeaderBanURL, "/companies?page=2"}}},
		{"url with port, escaped path", Config{}, purge.Batch{URLs: []string{"http://acme.localhost:8080/a%20b"}},
			[]seen{{MethodBan, "acme.localhost:8080", HeaderBanURL, "/a%20b"}}},
		{"prefix", Config{}, purge.Batch{Prefixes: []string{"acme.example.com/companies"}},
			[]seen{{MethodBan, "acme.example.com", HeaderBanPrefix, "/companies"}}},
		{"prefix with scheme, bare host", Config{}, purge.Batch{Prefixes: []string{"https://acme.example.com"}},
			[]seen{{MethodBan, "acme.example.com", HeaderBanPrefix, "/"}}},
		{"host", Config{}, purge.Batch{Hosts: []string{"acme.example.com"}},
			[]seen{{MethodBan, "acme.example.com", HeaderBanHost, "1"}}},
		{"everything of a tenant", Config{}, purge.Batch{Zone: "acme", Everything: true},
			[]seen{{MethodBan, "", HeaderBanTenant, "acme"}}},
		{"everything by hosts", Config{}, purge.Batch{Hosts: []string{"acme.example.com"}, Everything: true},
			[]seen{{MethodBan, "acme.example.com", HeaderBanHost, "1"}}},
		{"mixed, in order", Config{}, purge.Batch{Tags: []string{"a:b"}, URLs: []string{"http://h/x"}, Prefixes: []string{"h/y"}},
			[]seen{{MethodPurge, "", HeaderPurge, "a:b"}, {MethodBan, "h", HeaderBanURL, "/x"}, {MethodBan, "h", HeaderBanPrefix, "/y"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			node := newFakeNode(t)
			tt.cfg.URLs = []string{node.srv.URL}
			p := newPurger(t, tt.cfg)
			res, err := p.Send(context.Background(), tt.batch)
			if err != nil {
				t.Fatal(err)
			}
			got := node.requests()
			for i := range got {
				if i < len(tt.want) && tt.want[i].Host == "" {
					got[i].Host = "" // the node's own address
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("got %d requests %+v, want %+v", len(got), got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("request %d: got %+v, want %+v", i, got[i], tt.want[i])
				}
			}
			if res.Requests != len(tt.want) {
				t.Errorf("Result.Requests = %d, want %d", res.Requests, len(tt.want))
			}
		})
	}
}

func TestEveryNodeGetsEveryPurge(t *testing.T) {
	a, b := newFakeNode(t), newFakeNode(t)
	p := newPurger(t, Config{URLs: []string{a.srv.URL, b.srv.URL + "/"}})
	res, err := p.Send(context.Background(), purge.Batch{Tags: []string{"acme:x"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.requests()) != 1 || len(b.requests()) != 1 {
		t.Fatalf("requests: a %d, b %d; want 1 each", len(a.requests()), len(b.requests()))
	}
	if res.Purged != 4 {
		t.Errorf("Purged = %d, want 2 per node", res.Purged)
	}
}

func TestNodeFailures(t *testing.T) {
	tests := []struct {
		name       string
		answer     func(w http.ResponseWriter, r *http.Request) bool
		permanent  bool
		retryAfter time.Duration
		mention    string
	}{
		{"5xx is temporary", func(w http.ResponseWriter, r *http.Request) bool {
			http.Error(w, "backend fetch failed", http.StatusServiceUnavailable)
			return true
		}, false, 0, "503"},
		{"403 is the ACL: permanent", func(w http.ResponseWriter, r *http.Request) bool {
			w.WriteHeader(http.StatusForbidden)
			return true
		}, true, 0, "acl purgers"},
		{"400 bad ban: permanent", func(w http.ResponseWriter, r *http.Request) bool {
			http.Error(w, "Bad ban value", http.StatusBadRequest)
			return true
		}, true, 0, "Bad ban value"},
		{"200 not from the VCL: permanent", func(w http.ResponseWriter, r *http.Request) bool {
			return true // 200 with no X-Purged
		}, true, 0, "cachegate.vcl"},
		{"200 with a bad count: permanent", func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set(HeaderPurged, "lots")
			return true
		}, true, 0, HeaderPurged},
		{"429 honours Retry-After", func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
			return true
		}, false, 7 * time.Second, "429"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			good, bad := newFakeNode(t), newFakeNode(t)
			bad.answer = tt.answer
			p := newPurger(t, Config{URLs: []string{good.srv.URL, bad.srv.URL}})
			err := p.Purge(context.Background(), purge.Batch{Tags: []string{"acme:x"}})
			if err == nil {
				t.Fatal("Purge returned nil for a failing node")
			}
			if errors.Is(err, purge.ErrPermanent) != tt.permanent {
				t.Errorf("permanent = %v, want %v: %v", !tt.permanent, tt.permanent, err)
			}
			var ra *purge.RetryAfterError
			if errors.As(err, &ra) != (tt.retryAfter > 0) || ra != nil && ra.After != tt.retryAfter {
				t.Errorf("retry-after: %v, want %v", err, tt.retryAfter)
			}
			msg := err.Error()
			if !strings.Contains(msg, bad.srv.URL) || strings.Contains(msg, good.srv.URL) {
				t.Errorf("error should name only the failing node %s: %v", bad.srv.URL, msg)
			}
			if !strings.Contains(msg, tt.mention) {
				t.Errorf("error %q does not mention %q", msg, tt.mention)
			}
			if len(good.requests()) != 1 {
				t.Errorf("the healthy node got %d requests, want 1", len(good.requests()))
			}
		})
	}
}

func TestUnreachableNodeIsTemporary(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	p := newPurger(t, Config{URLs: []string{"http://" + addr}})
	err = p.Purge(context.Background(), purge.Batch{Tags: []string{"acme:x"}})
	if err == nil || errors.Is(err, purge.ErrPermanent) {
		t.Fatalf("want a temporary error, got %v", err)
	}
	if !strings.Contains(err.Error(), addr) {
		t.Errorf("error does not name the node: %v", err)
	}
}

func TestTimeoutIsTemporary(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	p := newPurger(t, Config{URLs: []string{srv.URL}, Timeout: 50 * time.Millisecond})
	start := time.Now()
	err := p.Purge(context.Background(), purge.Batch{Tags: []string{"acme:x"}})
	if err == nil || errors.Is(err, purge.ErrPermanent) {
		t.Fatalf("want a temporary error, got %v", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("want a deadline error, got %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("took %v with a 50ms timeout", d)
	}
}

func TestBadBatchesArePermanent(t *testing.T) {
	tests := []struct {
		name  string
		batch purge.Batch
	}{
		{"empty", purge.Batch{}},
		{"tag with space", purge.Batch{Tags: []string{"a b"}}},
		{"tag with comma", purge.Batch{Tags: []string{"a,b"}}},
		{"empty tag", purge.Batch{Tags: []string{""}}},
		{"tag too long", purge.Batch{Tags: []string{strings.Repeat("x", MaxTagLength+1)}}},
		{"relative url", purge.Batch{URLs: []string{"/companies"}}},
		{"url without host", purge.Batch{URLs: []string{"http:///x"}}},
		{"unparsable url", purge.Batch{URLs: []string{"http://h/%zz"}}},
		{"ftp url", purge.Batch{URLs: []string{"ftp://h/x"}}},
		{"prefix without host", purge.Batch{Prefixes: []string{"/companies"}}},
		{"prefix with backslash", purge.Batch{Prefixes: []string{`h/a\b`}}},
		{"host with space", purge.Batch{Hosts: []string{"a b"}}},
		{"everything without tenant", purge.Batch{Everything: true}},
		{"everything bad tenant", purge.Batch{Everything: true, Zone: "Acme Corp"}},
		{"too many targets", purge.Batch{URLs: []string{"http://h/1", "http://h/2", "http://h/3"}}},
	}
	node := newFakeNode(t)
	p := newPurger(t, Config{URLs: []string{node.srv.URL}, TargetsPerCall: 2})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := p.Purge(context.Background(), tt.batch)
			if !errors.Is(err, purge.ErrPermanent) {
				t.Fatalf("want a permanent error, got %v", err)
			}
		})
	}
	if n := len(node.requests()); n != 0 {
		t.Errorf("bad batches sent %d requests", n)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"minimal", Config{URLs: []string{"http://127.0.0.1:6081"}}, true},
		{"no nodes", Config{}, false},
		{"relative node", Config{URLs: []string{"127.0.0.1:6081"}}, false},
		{"node twice", Config{URLs: []string{"http://a", "http://a"}}, false},
		{"credentials", Config{URLs: []string{"http://u:secret@a"}}, false},
		{"bad name", Config{Name: "var nish", URLs: []string{"http://a"}}, false},
		{"negative timeout", Config{URLs: []string{"http://a"}, Timeout: -time.Second}, false},
		{"negative tags", Config{URLs: []string{"http://a"}, TagsPerCall: -1}, false},
		{"header too small", Config{URLs: []string{"http://a"}, MaxHeaderBytes: 100}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok {
				t.Fatalf("Validate() = %v, want ok %v", err, tt.ok)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("error leaks a credential: %v", err)
			}
		})
	}
}

func TestNameLimitsAndMetrics(t *testing.T) {
	node := newFakeNode(t)
	reg := prometheus.NewRegistry()
	p := newPurger(t, Config{URLs: []string{node.srv.URL}, Registerer: reg})
	if p.Name() != "varnish" {
		t.Errorf("Name() = %q", p.Name())
	}
	if l := p.Limits(); l.TagsPerCall != DefaultTagsPerCall || l.URLsPerCall != DefaultTargetsPerCall || l.MaxTagLength != MaxTagLength {
		t.Errorf("Limits() = %+v", l)
	}
	if err := p.Purge(context.Background(), purge.Batch{Tags: []string{"a:b"}}); err != nil {
		t.Fatal(err)
	}
	if got := counterValue(t, reg, "cachegate_varnish_objects_purged_total", nil); got != 2 {
		t.Errorf("objects purged metric = %v, want 2", got)
	}
	labels := map[string]string{"provider": "varnish", "node": node.srv.URL, "kind": "tags", "result": "ok"}
	if got := counterValue(t, reg, "cachegate_varnish_requests_total", labels); got != 1 {
		t.Errorf("requests metric = %v, want 1", got)
	}
	// A second Varnish cluster registers beside the first.
	if _, err := New(Config{Name: "varnish-eu", URLs: []string{node.srv.URL}, Registerer: reg}); err != nil {
		t.Errorf("second purger: %v", err)
	}
}

// counterValue sums the counters called name whose labels include labels.
func counterValue(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue metrics
				}
			}
			sum += m.GetCounter().GetValue()
		}
	}
	return sum
}

// FuzzPlan checks that no input makes plan panic, send a value the VCL
// would refuse, or exceed the header budget.
func FuzzPlan(f *testing.F) {
	f.Add("acme:company:acme", "https://acme.example.com/companies?page=2", "acme.example.com/companies", "acme")
	f.Add("a b", "/relative", "/nohost", "")
	f.Add("x", `http://h/a"b`, `h/a\b`, "Acme")
	f.Add("", "http://[::1]:80/x", "https://h", "a.b")
	p, err := New(Config{URLs: []string{"http://127.0.0.1:1"}, MaxHeaderBytes: 2000})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, tag, u, prefix, zone string) {
		calls, err := p.plan(purge.Batch{Tags: []string{tag, tag + "2"}, URLs: []string{u}, Prefixes: []string{prefix}, Zone: zone, Everything: zone != ""})
		if err != nil {
			if !errors.Is(err, purge.ErrPermanent) {
				t.Fatalf("plan error not permanent: %v", err)
			}
			return
		}
		for _, c := range calls {
			if c.method == MethodBan && (!banSafe(c.value) || !banSafe(c.host)) {
				t.Fatalf("unsafe ban value %+v", c)
			}
			if len(c.header)+len(c.value)+4 > p.cfg.MaxHeaderBytes {
				t.Fatalf("header of %d bytes over budget", len(c.value))
			}
		}
	})
}
