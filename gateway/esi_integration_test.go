package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/policy"
)

// esiOrigin is a company site made of fragments. Pages under /esi/ are
// assembled by policy, /sc/ by the origin's Surrogate-Control, /pass/ are
// passed on; fragments under /frag/ are cached with their own tags,
// /frag/me is a private route and /frag/who is private by its origin.
type esiOrigin struct {
	*origin
	mu     sync.Mutex
	counts map[string]int
}

func (o *esiOrigin) count(path string) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.counts[path]
}

// seenCookie is the Cookie header of the last origin request for path.
func (o *esiOrigin) seenCookie(path string) (string, bool) {
	o.origin.mu.Lock()
	defer o.origin.mu.Unlock()
	for i := len(o.seen) - 1; i >= 0; i-- {
		if o.seen[i].URL.Path == path {
			return o.seen[i].Header.Get("Cookie"), true
		}
	}
	return "", false
}

const shell = `<h1>Acme</h1><esi:include src="/frag/gallery"/>|<esi:include src="../frag/map"/>|` +
	`<esi:include src="http://acme/frag/related"/><esi:remove>no ESI here</esi:remove><esi:comment text="x"/>`

func startESIOrigin(t *testing.T) *esiOrigin {
	o := &esiOrigin{counts: map[string]int{}}
	pages := map[string]string{
		"/esi/page":     shell,
		"/sc/page":      shell,
		"/pass/page":    shell,
		"/esi/private":  `<p><esi:include src="/frag/me"/>|<esi:include src="/frag/who"/>|<esi:include src="/frag/map"/></p>`,
		"/esi/alt":      `<esi:include src="/frag/fail" alt="/frag/map"/>`,
		"/esi/continue": `a<esi:include src="/frag/fail" onerror="continue"/>b`,
		"/esi/fail":     `a<esi:include src="/frag/fail"/>b`,
		"/esi/nested":   `[<esi:include src="/frag/nest"/>]`,
		"/esi/deep":     `[<esi:include src="/frag/self"/>]`,
		"/esi/deep-ok":  `[<esi:include src="/frag/self" onerror="continue"/>]`,
		"/esi/foreign":  `<esi:include src="http://evil.example/frag/map"/>`,
		"/esi/stall":    `<esi:include src="/frag/stall"/>`,
		"/esi/stall-ok": `a<esi:include src="/frag/stall" onerror="continue"/>b`,
		"/esi/stream":   `<esi:include src="/frag/stream"/>`,
	}
	o.origin = startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
		o.mu.Lock()
		o.counts[r.URL.Path]++
		n := o.counts[r.URL.Path]
		o.mu.Unlock()
		h := w.Header()
		p := r.URL.Path
		if body, ok := pages[p]; ok {
			h.Set("Cache-Control", "max-age=60")
			h.Set("Surrogate-Key", "page:acme")
			if strings.HasPrefix(p, "/sc/") || strings.HasPrefix(p, "/pass/") {
				h.Set("Surrogate-Control", `max-age=60, content="ESI/1.0"`)
			}
			io.WriteString(w, body)
			return
		}
		switch p {
		case "/frag/gallery", "/frag/map", "/frag/related":
			name := strings.TrimPrefix(p, "/frag/")
			h.Set("Cache-Control", "max-age=60")
			h.Set("Surrogate-Key", name+":acme")
			fmt.Fprintf(w, "%s%d", name, n)
		case "/frag/me", "/frag/who":
			h.Set("Cache-Control", "private")
			c, err := r.Cookie("sessionid")
			user := "nobody"
			if err == nil {
				user = c.Value
			}
			fmt.Fprintf(w, "%s:%s", strings.TrimPrefix(p, "/frag/"), user)
		case "/frag/nest":
			h.Set("Cache-Control", "max-age=60")
			h.Set("Surrogate-Control", `content="ESI/1.0"`)
			io.WriteString(w, `(<esi:include src="map"/>)`)
		case "/frag/stall", "/frag/stream":
			// Half a body, then nothing until the gateway gives up: the
			// storable one, of unknown length, is read ahead before it is
			// answered (the origin timeout ends it), the no-store one
			// streams and is cut off at the fragment timeout.
			h.Set("Cache-Control", "max-age=60")
			if p == "/frag/stream" {
				h.Set("Cache-Control", "no-store")
			}
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			<-r.Context().Done()
		case "/frag/self":
			h.Set("Cache-Control", "max-age=60")
			h.Set("Surrogate-Control", `content="ESI/1.0"`)
			io.WriteString(w, `(<esi:include src="/frag/self"/>)`)
		default:
			http.Error(w, "no", http.StatusServiceUnavailable)
		}
	})
	return o
}

func esiPolicy(t *testing.T) gateway.Policy {
	t.Helper()
	p, err := policy.Compile(policy.Config{Rules: []policy.RuleConfig{
		{Name: "esi", Match: policy.MatchConfig{Path: "/esi"}, ESI: policy.ESIAssemble},
		{Name: "pass", Match: policy.MatchConfig{Path: "/pass"}, ESI: policy.ESIPass},
		{Name: "me", Match: policy.MatchConfig{Path: "/frag/me"}, Private: true},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func startESI(t *testing.T) (*esiOrigin, *gw) {
	o := startESIOrigin(t)
	g := startGateway(t, o.origin, func(c *gateway.Config) {
		c.Policy = esiPolicy(t)
		c.ESIMaxDepth = 3
	})
	return o, g
}

// TestESIAssemble: a shell and three fragments, each cached on its own;
// the second view is all hits; invalidating one fragment's tag refetches
// that fragment alone while the shell stays a hit.
func TestESIAssemble(t *testing.T) {
	for _, path := range []string{"/esi/page", "/sc/page"} {
		t.Run(path, func(t *testing.T) {
			o, g := startESI(t)
			r := g.get(t, path)
			if r.status != 200 || r.body != "<h1>Acme</h1>gallery1|map1|related1" {
				t.Fatalf("first view: %d %q", r.status, r.body)
			}
			wantStatus(t, r, "fwd=uri-miss", "stored", "fragments=3; fragment-hits=0")
			for _, h := range []string{"Surrogate-Control", "Cachegate-Esi-Assemble", "Last-Modified"} {
				if v := r.header.Get(h); v != "" {
					t.Fatalf("%s reached the client: %q", h, v)
				}
			}
			etag := r.header.Get("ETag")
			if !strings.HasPrefix(etag, `"esi-`) || r.header.Get("Content-Length") != fmt.Sprint(len(r.body)) {
				t.Fatalf("ETag %q, Content-Length %q", etag, r.header.Get("Content-Length"))
			}

			r = g.get(t, path)
			wantStatus(t, r, "; hit", "detail=l1", "fragments=3; fragment-hits=3")
			if r.body != "<h1>Acme</h1>gallery1|map1|related1" || r.header.Get("ETag") != etag {
				t.Fatalf("second view: %q, ETag %q", r.body, r.header.Get("ETag"))
			}
			if r := g.get(t, path, "If-None-Match: "+etag); r.status != http.StatusNotModified {
				t.Fatalf("If-None-Match of the assembled ETag: %d", r.status)
			}
			if r := g.do(t, http.MethodHead, "acme", path); r.status != 200 || r.body != "" || r.header.Get("ETag") != etag {
				t.Fatalf("HEAD: %d %q ETag %q", r.status, r.body, r.header.Get("ETag"))
			}

			if err := g.InvalidateTags(context.Background(), "acme", "gallery:acme"); err != nil {
				t.Fatal(err)
			}
			r = g.get(t, path)
			wantStatus(t, r, "; hit", "fragments=3; fragment-hits=2")
			if r.body != "<h1>Acme</h1>gallery2|map1|related1" || r.header.Get("ETag") == etag {
				t.Fatalf("after the gallery's invalidation: %q, ETag %q (was %q)", r.body, r.header.Get("ETag"), etag)
			}
			for p, want := range map[string]int{path: 1, "/frag/gallery": 2, "/frag/map": 1, "/frag/related": 1} {
				if got := o.count(p); got != want {
					t.Errorf("origin served %s %d times, want %d", p, got, want)
				}
			}
		})
	}
}

// TestESIPrivateFragment: a private fragment gets the user's cookie and
// is fetched on every view, never stored; the shell and the public
// fragment are requested without the cookie and shared by both users.
func TestESIPrivateFragment(t *testing.T) {
	o, g := startESI(t)
	for i, user := range []string{"u1", "u2", "u1"} {
		r := g.get(t, "/esi/private", "Cookie: sessionid="+user)
		want := fmt.Sprintf("<p>me:%s|who:%s|map1</p>", user, user)
		if r.status != 200 || r.body != want {
			t.Fatalf("view %d: %d %q, want %q", i, r.status, r.body, want)
		}
		if cc := r.header.Get("Cache-Control"); cc != "private, no-store" {
			t.Fatalf("view %d: Cache-Control %q", i, cc)
		}
		if i > 0 {
			wantStatus(t, r, "; hit", "fragments=3; fragment-hits=1")
		}
	}
	for _, p := range []string{"/esi/private", "/frag/map"} {
		if c, ok := o.seenCookie(p); !ok || c != "" {
			t.Errorf("origin request of %s: sent %v, Cookie %q", p, ok, c)
		}
	}
	if c, _ := o.seenCookie("/frag/me"); c != "sessionid=u1" {
		t.Errorf("private fragment's Cookie %q", c)
	}
	// The private route is asked for with credentials alone; the fragment
	// its origin calls private is asked for anonymously first, then with
	// them.
	for p, want := range map[string]int{"/esi/private": 1, "/frag/map": 1, "/frag/me": 3, "/frag/who": 6} {
		if got := o.count(p); got != want {
			t.Errorf("origin served %s %d times, want %d", p, got, want)
		}
	}
	// Anonymous: the same page, the fragments for nobody.
	r := g.get(t, "/esi/private")
	if r.body != "<p>me:nobody|who:nobody|map1</p>" || r.header.Get("Cache-Control") != "private, no-store" {
		t.Fatalf("anonymous: %q, Cache-Control %q", r.body, r.header.Get("Cache-Control"))
	}
}

// TestESIFailures: a failing fragment uses alt, then onerror, else the
// page is 502; nesting is bounded; another host is never fetched.
func TestESIFailures(t *testing.T) {
	o, g := startESI(t)
	tests := []struct {
		path   string
		status int
		body   string
	}{
		{"/esi/alt", 200, "map1"},
		{"/esi/continue", 200, "ab"},
		{"/esi/fail", 502, "/frag/fail"},
		{"/esi/nested", 200, "[(map1)]"},
		{"/esi/deep", 502, "nested too deep"},
		{"/esi/deep-ok", 200, "[]"},
		{"/esi/foreign", 502, "another host"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			r := g.get(t, tt.path)
			if r.status != tt.status || !strings.Contains(r.body, tt.body) {
				t.Fatalf("%d %q, want %d with %q", r.status, r.body, tt.status, tt.body)
			}
			if tt.status == 502 {
				wantStatus(t, r, "detail=esi-error")
			}
		})
	}
	// Depth 3: the page's include, and two more levels of the fragment
	// including itself, all one cached entry: one origin request.
	if n := o.count("/frag/self"); n != 1 {
		t.Fatalf("origin served /frag/self %d times", n)
	}
	if n := o.count("/frag/map"); n != 1 {
		t.Fatalf("origin served /frag/map %d times", n)
	}
}

// TestESIPass: under esi: pass the includes reach the client (a CDN that
// assembles) untouched and nothing is fetched.
func TestESIPass(t *testing.T) {
	o, g := startESI(t)
	r := g.get(t, "/pass/page")
	if r.body != shell {
		t.Fatalf("body %q", r.body)
	}
	wantNoStatus(t, r, "fragments=")
	if n := o.count("/frag/gallery"); n != 0 {
		t.Fatalf("a passed include was fetched %d times", n)
	}
}

// TestESIBehindCDN: with a CDN in front, a page the gateway assembled
// reaches it "private, no-cache" without tags (a purge of a fragment's tag
// would not reach it there), while under esi: pass the CDN gets the shell
// with its includes and the Surrogate-Control that asks it to assemble.
func TestESIBehindCDN(t *testing.T) {
	o := startESIOrigin(t)
	g := startGateway(t, o.origin, func(c *gateway.Config) {
		c.Policy = esiPolicy(t)
		c.TagEmitter = cloudflare(t)
	})
	r := g.get(t, "/sc/page")
	if r.body != "<h1>Acme</h1>gallery1|map1|related1" || r.header.Get("Cache-Control") != "private, no-cache" {
		t.Fatalf("assembled: %q, Cache-Control %q", r.body, r.header.Get("Cache-Control"))
	}
	for _, h := range []string{"Cache-Tag", "Surrogate-Control"} {
		if v := r.header.Get(h); v != "" {
			t.Fatalf("assembled page carries %s %q", h, v)
		}
	}
	r = g.get(t, "/pass/page")
	if r.body != shell || !strings.Contains(r.header.Get("Surrogate-Control"), `content="ESI/1.0"`) {
		t.Fatalf("passed: %q, Surrogate-Control %q", r.body, r.header.Get("Surrogate-Control"))
	}
	if r.header.Get("Cache-Tag") == "" {
		t.Fatal("the passed shell lost its tags")
	}
}

// TestESIFragmentTimeout: a fragment that stops mid-body is cut off at its
// timeout; the page goes on without it (onerror) or answers 502, and the
// gateway keeps serving.
func TestESIFragmentTimeout(t *testing.T) {
	o := startESIOrigin(t)
	g := startGateway(t, o.origin, func(c *gateway.Config) {
		c.Policy = esiPolicy(t)
		c.ESITimeout = 300 * time.Millisecond
	})
	if r := g.get(t, "/esi/stall-ok"); r.status != 200 || r.body != "ab" {
		t.Fatalf("onerror: %d %q", r.status, r.body)
	}
	for path, want := range map[string]string{"/esi/stall": "origin-timeout", "/esi/stream": "cut off"} {
		r := g.get(t, path)
		if r.status != 502 || !strings.Contains(r.body, want) {
			t.Fatalf("%s: %d %q", path, r.status, r.body)
		}
	}
	if r := g.get(t, "/esi/alt"); r.status != 200 || r.body != "map1" {
		t.Fatalf("after: %d %q", r.status, r.body)
	}
}
