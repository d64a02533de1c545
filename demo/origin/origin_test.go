package origin_test

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

	"github.com/cachegate/cachegate/demo/origin"
)

// server starts an origin with no latency unless cfg says otherwise.
func server(t *testing.T, cfg origin.Config) (*origin.Origin, *httptest.Server) {
	t.Helper()
	if cfg.Latency == 0 {
		cfg.Latency = -1
	}
	o, err := origin.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(o.Handler())
	t.Cleanup(srv.Close)
	return o, srv
}

type reply struct {
	status int
	header http.Header
	body   string
}

// get requests path of host through srv, with optional header pairs.
func do(t *testing.T, srv *httptest.Server, method, host, path string, body io.Reader, hdr ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func get(t *testing.T, srv *httptest.Server, host, path string, hdr ...string) reply {
	t.Helper()
	return do(t, srv, http.MethodGet, host, path, nil, hdr...)
}

// The markers are on <html> (and in <meta> tags) of pages and on the
// gallery fragment's <section>.
var versionRE = regexp.MustCompile(`data-version="(\d+)"`)
var renderedRE = regexp.MustCompile(`data-rendered="(\d+)"`)

func marker(t *testing.T, re *regexp.Regexp, body string) int {
	t.Helper()
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s marker in page:\n%s", re, body)
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

func TestPagesHeadersAndLocales(t *testing.T) {
	_, srv := server(t, origin.Config{})
	// Cache-Control | CDN-Cache-Control
	const public = "public, max-age=60, stale-while-revalidate=30 | max-age=300, stale-while-revalidate=30"
	de := "de-DE,de;q=0.9,en;q=0.5"
	tests := []struct {
		name, host, path, lang string
		status                 int
		tags, cacheControl     string
		lang2                  string // Content-Language
		want                   []string
	}{
		{"profile en", "acme.localhost", "/", "en-US", 200, "company:acme gallery:acme listings:acme", public, "en", []string{"About us", "Acme Industrial Supply", `id="gallery"`, "/gallery/1.svg"}},
		{"profile de", "acme.localhost:8080", "/", de, 200, "company:acme gallery:acme listings:acme", public, "de", []string{"Über uns", "Galerie", "Lager"}},
		{"profile default en", "berg.localhost", "/", "", 200, "company:berg gallery:berg listings:berg", public, "en", []string{"Berg Maschinenbau", "Design office"}},
		{"profile fr falls back to en", "berg.localhost", "/", "fr-FR,fr;q=0.9", 200, "company:berg gallery:berg listings:berg", public, "en", []string{"About us"}},
		{"listing en", "acme.localhost", "/companies", "en", 200, "company", public, "en", []string{"Companies on our marketplace", `href="/companies/nordbolt"`, `data-company="acme"`}},
		{"listing de", "acme.localhost", "/companies", "de", 200, "company", public, "de", []string{"Unternehmen auf unserem Marktplatz", "Schrauben"}},
		{"detail of a listing", "acme.localhost", "/companies/nordbolt", "en", 200, "company:nordbolt", public, "en", []string{"Nordbolt AB", "Stainless fasteners"}},
		{"detail of the tenant itself", "berg.localhost", "/companies/berg", "de", 200, "company:berg", public, "de", []string{"Berg Maschinenbau", "Sondermaschinen für die Automobil"}},
		{"gallery fragment", "cirrus.localhost", "/fragments/gallery", "de", 200, "gallery:cirrus", public, "de", []string{"Kühllager"}},
		{"gallery image", "acme.localhost", "/gallery/2.svg", "de", 200, "gallery:acme", "public, max-age=300, stale-while-revalidate=60 | max-age=3600, stale-while-revalidate=60", "", []string{"<svg", "#5a8f3d"}},
		{"unknown listing", "acme.localhost", "/companies/optisense", "en", 404, "", "public, max-age=30 | ", "en", []string{"Page not found"}},
		{"unknown image", "acme.localhost", "/gallery/9.svg", "en", 404, "", "public, max-age=30 | ", "en", nil},
		{"non-canonical image", "acme.localhost", "/gallery/01.svg", "en", 404, "", "public, max-age=30 | ", "en", nil},
		{"unknown path de", "acme.localhost", "/nope", "de", 404, "", "public, max-age=30 | ", "de", []string{"Seite nicht gefunden"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(t, srv, tt.host, tt.path, "Accept-Language", tt.lang)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d\n%s", r.status, tt.status, r.body)
			}
			if got := r.header.Get("Surrogate-Key"); got != tt.tags {
				t.Errorf("Surrogate-Key %q, want %q", got, tt.tags)
			}
			if got := r.header.Get("Cache-Control") + " | " + r.header.Get("CDN-Cache-Control"); got != tt.cacheControl {
				t.Errorf("Cache-Control | CDN-Cache-Control %q, want %q", got, tt.cacheControl)
			}
			if got := r.header.Get("Content-Language"); got != tt.lang2 {
				t.Errorf("Content-Language %q, want %q", got, tt.lang2)
			}
			if tt.lang2 != "" && r.header.Get("Vary") == "" {
				t.Error("a localized page without Vary")
			}
			for _, w := range tt.want {
				if !strings.Contains(r.body, w) {
					t.Errorf("body lacks %q", w)
				}
			}
			if tt.status == 200 {
				if r.header.Get("ETag") == "" {
					t.Error("no ETag")
				}
				if _, err := http.ParseTime(r.header.Get("Last-Modified")); err != nil {
					t.Errorf("Last-Modified: %v", err)
				}
				if strings.HasPrefix(r.header.Get("Content-Type"), "text/html") {
					marker(t, versionRE, r.body)
					marker(t, renderedRE, r.body)
				}
			}
		})
	}
}

func TestLocalizedPagesHaveDistinctValidators(t *testing.T) {
	_, srv := server(t, origin.Config{})
	en := get(t, srv, "acme.localhost", "/", "Accept-Language", "en")
	de := get(t, srv, "acme.localhost", "/", "Accept-Language", "de")
	list := get(t, srv, "acme.localhost", "/companies", "Accept-Language", "en")
	if en.header.Get("ETag") == de.header.Get("ETag") || en.header.Get("ETag") == list.header.Get("ETag") {
		t.Fatalf("ETags collide: en %s, de %s, listing %s", en.header.Get("ETag"), de.header.Get("ETag"), list.header.Get("ETag"))
	}
	if r := get(t, srv, "acme.localhost", "/", "Accept-Language", "en", "If-None-Match", de.header.Get("ETag")); r.status != 200 {
		t.Fatalf("the German ETag validated the English page: %d", r.status)
	}
}

func TestRenderedMarkerIncreases(t *testing.T) {
	_, srv := server(t, origin.Config{})
	a := marker(t, renderedRE, get(t, srv, "acme.localhost", "/").body)
	b := marker(t, renderedRE, get(t, srv, "acme.localhost", "/").body)
	if b <= a {
		t.Fatalf("rendered marker %d then %d: tests cannot tell a fresh page from a cached one", a, b)
	}
}

func TestHeadHasHeadersNoBody(t *testing.T) {
	_, srv := server(t, origin.Config{})
	r := do(t, srv, http.MethodHead, "acme.localhost", "/", nil)
	if r.status != 200 || r.body != "" || r.header.Get("Surrogate-Key") == "" || r.header.Get("Content-Length") == "" {
		t.Fatalf("HEAD: %d %q %v", r.status, r.body, r.header)
	}
}

func TestConditionalRequests(t *testing.T) {
	_, srv := server(t, origin.Config{})
	first := get(t, srv, "acme.localhost", "/", "Accept-Language", "de")
	etag, lm := first.header.Get("ETag"), first.header.Get("Last-Modified")
	tests := []struct {
		name   string
		hdr    []string
		status int
	}{
		{"matching etag", []string{"If-None-Match", etag}, 304},
		{"etag in a list", []string{"If-None-Match", `"x", ` + etag}, 304},
		{"strong form of the weak etag", []string{"If-None-Match", strings.TrimPrefix(etag, "W/")}, 304},
		{"star", []string{"If-None-Match", "*"}, 304},
		{"other etag", []string{"If-None-Match", `W/"acme-profile-v0-de"`}, 200},
		{"if-modified-since equal", []string{"If-Modified-Since", lm}, 304},
		{"if-modified-since earlier", []string{"If-Modified-Since", "Mon, 02 Jan 2006 15:04:05 GMT"}, 200},
		{"if-none-match wins over if-modified-since", []string{"If-None-Match", `"x"`, "If-Modified-Since", lm}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(t, srv, "acme.localhost", "/", append([]string{"Accept-Language", "de"}, tt.hdr...)...)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d", r.status, tt.status)
			}
			if tt.status == 304 && (r.body != "" || r.header.Get("ETag") != etag || r.header.Get("Cache-Control") == "") {
				t.Fatalf("304 with body %q, ETag %q, Cache-Control %q", r.body, r.header.Get("ETag"), r.header.Get("Cache-Control"))
			}
		})
	}
}

func TestUnknownTenant(t *testing.T) {
	_, srv := server(t, origin.Config{})
	for _, host := range []string{"nobody.localhost:8080", "localhost:8080", "127.0.0.1", "acme.example.com", "a.b.localhost"} {
		t.Run(host, func(t *testing.T) {
			r := get(t, srv, host, "/")
			if r.status != 404 {
				t.Fatalf("status %d, want 404", r.status)
			}
			if r.header.Get("Cache-Control") != "no-store" || r.header.Get("Surrogate-Key") != "" {
				t.Errorf("unknown-site page is cacheable: %v", r.header)
			}
			if !strings.Contains(r.body, "Unknown site") || !strings.Contains(r.body, "acme.localhost") {
				t.Errorf("the page does not point to the real sites:\n%s", r.body)
			}
		})
	}
	if r := get(t, srv, "nobody.localhost:8080", "/"); !strings.Contains(r.body, "http://berg.localhost:8080/") {
		t.Errorf("links do not keep the port:\n%s", r.body)
	}
}

func TestForwardedHostWins(t *testing.T) {
	_, srv := server(t, origin.Config{})
	r := get(t, srv, "127.0.0.1:3000", "/", "X-Forwarded-Host", "berg.localhost:8080, proxy.internal")
	if r.status != 200 || r.header.Get("Surrogate-Key") != "company:berg gallery:berg listings:berg" {
		t.Fatalf("X-Forwarded-Host ignored: %d %q", r.status, r.header.Get("Surrogate-Key"))
	}
}

func TestAccount(t *testing.T) {
	_, srv := server(t, origin.Config{})
	tests := []struct {
		name   string
		hdr    []string
		status int
		user   string
	}{
		{"anonymous", nil, 401, ""},
		{"empty cookie", []string{"Cookie", "sessionid="}, 401, ""},
		{"other cookie", []string{"Cookie", "theme=dark"}, 401, ""},
		{"bearer", []string{"Authorization", "Bearer demo-editor"}, 200, "demo-editor"},
		{"basic", []string{"Authorization", "Basic YW5uYTpzZWNyZXQ="}, 200, "anna"},
		{"sessionid cookie", []string{"Cookie", "theme=dark; sessionid=jan"}, 200, "jan"},
		{"session cookie", []string{"Cookie", "session=ola"}, 200, "ola"},
		{"name is escaped", []string{"Cookie", "sessionid=<b>x</b>"}, 200, "&lt;b&gt;x&lt;/b&gt;"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := get(t, srv, "acme.localhost", "/account", tt.hdr...)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d", r.status, tt.status)
			}
			if r.header.Get("Surrogate-Key") != "" {
				t.Errorf("account page carries tags %q", r.header.Get("Surrogate-Key"))
			}
			if tt.status == 401 {
				if r.header.Get("WWW-Authenticate") == "" || r.header.Get("Cache-Control") != "no-store" {
					t.Errorf("401 headers: %v", r.header)
				}
				return
			}
			if cc := r.header.Get("Cache-Control"); cc != "private" {
				t.Errorf("Cache-Control %q, want private", cc)
			}
			if !strings.Contains(r.body, "Hello, "+tt.user) {
				t.Errorf("page does not greet %q:\n%s", tt.user, r.body)
			}
		})
	}
	r := get(t, srv, "acme.localhost", "/account", "Cookie", "sessionid=jan", "Accept-Language", "de")
	if !strings.Contains(r.body, "Hallo, jan") {
		t.Errorf("German account page:\n%s", r.body)
	}
}

func TestStatsCountEveryRequestButItself(t *testing.T) {
	o, srv := server(t, origin.Config{})
	get(t, srv, "acme.localhost", "/")
	get(t, srv, "acme.localhost", "/")
	get(t, srv, "berg.localhost", "/companies")
	get(t, srv, "berg.localhost", "/account")
	get(t, srv, "nobody.localhost", "/")
	for range 3 {
		get(t, srv, "acme.localhost", "/_origin/stats")
	}
	r := get(t, srv, "anything", "/_origin/stats")
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("stats: %d %v", r.status, r.header)
	}
	var got origin.Stats
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		t.Fatalf("stats JSON: %v\n%s", err, r.body)
	}
	want := origin.Stats{Total: 5, Paths: map[string]int64{"/": 3, "/companies": 1, "/account": 1},
		Tenants: map[string]int64{"acme": 2, "berg": 2, origin.UnknownTenant: 1}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("stats %+v, want %+v", got, want)
	}
	if s := o.Stats(); s.Total != 5 {
		t.Fatalf("Stats() total %d", s.Total)
	}
	if r := do(t, srv, http.MethodPost, "x", "/_origin/stats", nil); r.status != 405 {
		t.Fatalf("POST stats: %d", r.status)
	}
}

func TestStatsPathsAreBounded(t *testing.T) {
	o, err := origin.New(origin.Config{Latency: -1})
	if err != nil {
		t.Fatal(err)
	}
	h := o.Handler()
	for i := range 1100 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", fmt.Sprintf("http://acme.localhost/p%d", i), nil))
	}
	s := o.Stats()
	if len(s.Paths) > 1001 || s.Paths[origin.OtherPath] != 100 || s.Total != 1100 {
		t.Fatalf("%d paths, %d other, total %d", len(s.Paths), s.Paths[origin.OtherPath], s.Total)
	}
}

func TestLatencyIsApplied(t *testing.T) {
	const latency = 30 * time.Millisecond
	_, srv := server(t, origin.Config{Latency: latency})
	for _, path := range []string{"/", "/companies", "/account"} {
		start := time.Now()
		get(t, srv, "acme.localhost", path)
		if took := time.Since(start); took < latency {
			t.Errorf("%s took %v, less than the configured %v", path, took, latency)
		}
	}
	start := time.Now()
	get(t, srv, "acme.localhost", "/_origin/stats")
	t.Logf("stats took %v (no latency applied)", time.Since(start))

	o, err := origin.New(origin.Config{})
	if err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	o.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "http://acme.localhost/", nil))
	if took := time.Since(start); took < origin.DefaultLatency {
		t.Errorf("zero Latency took %v, want at least the default %v", took, origin.DefaultLatency)
	}
}

func TestLatencyStopsWhenTheClientLeaves(t *testing.T) {
	o, err := origin.New(origin.Config{Latency: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		o.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "http://acme.localhost/", nil).WithContext(ctx))
	}()
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("handler kept waiting after the request's context was cancelled")
	}
}

func TestConcurrentReadsAndEdits(t *testing.T) {
	o, srv := server(t, origin.Config{})
	const editors, edits, readers = 4, 10, 4
	var wg sync.WaitGroup
	for e := range editors {
		wg.Go(func() {
			for i := range edits {
				r := do(t, srv, http.MethodPost, "acme.localhost", "/edit",
					strings.NewReader(fmt.Sprintf(`{"description":"editor %d edit %d"}`, e, i)),
					"Authorization", "Bearer e", "Content-Type", "application/json")
				if r.status != 200 {
					t.Errorf("edit: %d %s", r.status, r.body)
				}
			}
		})
	}
	for range readers {
		wg.Go(func() {
			last := 0
			for range edits * 2 {
				v := marker(t, versionRE, get(t, srv, "acme.localhost", "/").body)
				if v < last {
					t.Errorf("version went back from %d to %d", last, v)
				}
				last = v
			}
		})
	}
	wg.Wait()
	if v := marker(t, versionRE, get(t, srv, "acme.localhost", "/").body); v != 1+editors*edits {
		t.Fatalf("version %d after %d edits, want %d", v, editors*edits, 1+editors*edits)
	}
	if s := o.Stats(); s.Edits != editors*edits {
		t.Fatalf("stats count %d edits", s.Edits)
	}
}

// Behind cachegate the Host carries no port; the links to the real sites
// take the gateway's port from X-Forwarded-Port.
func TestUnknownTenantLinksUseTheForwardedPort(t *testing.T) {
	_, srv := server(t, origin.Config{})
	r := get(t, srv, "nobody.localhost", "/", "X-Forwarded-Host", "nobody.localhost", "X-Forwarded-Port", "8080")
	if !strings.Contains(r.body, "http://acme.localhost:8080/") {
		t.Fatalf("links lack the gateway's port:\n%s", r.body)
	}
}
