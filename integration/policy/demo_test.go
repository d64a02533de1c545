package policy_test

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/internal/nodetest"
)

// noTags: no tag header of any CDN format reaches the client.
var noTags = map[string]string{"Cache-Tag": "-", "Surrogate-Key": "-", "Edge-Cache-Tag": "-", "Xkey": "-"}

// noCDN: no tag header and no CDN-targeted cache-control at all.
var noCDN = merge(noTags, map[string]string{
	"CDN-Cache-Control": "-", "Cloudflare-CDN-Cache-Control": "-", "Surrogate-Control": "-",
	"Expires": "-",
})

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// The demo's policy file, served by a node in front of the demo origin:
// every public route answers with exactly the headers the file promises,
// with no CDN (no tag header at all, CDN directives in CDN-Cache-Control)
// and with Cloudflare (its own header and Cache-Tag, tenant-prefixed).
func TestDemoPolicyPublicRoutes(t *testing.T) {
	const profileCDN = "max-age=86400, stale-while-revalidate=60, stale-if-error=86400"
	ident := map[string]string{"Server": "cachegate", "Via": "1.1 cachegate"}
	for _, cdn := range []string{"none", "cloudflare"} {
		t.Run("cdn="+cdn, func(t *testing.T) {
			yaml := demoConfig(t)
			if cdn == "cloudflare" {
				yaml = withCloudflare(t, yaml)
			}
			f := parse(t, "demo.yaml", yaml)
			_, originURL := demoOrigin(t)
			n := nodetest.Start(t, nodetest.Options{Origin: originURL, File: f})

			// cdnHeaders says where the rule's CDN directives go and which
			// tag header (tenant-prefixed) the CDN gets, if any.
			cdnHeaders := func(directives string, tags ...string) map[string]string {
				if cdn == "none" {
					return merge(noTags, map[string]string{"CDN-Cache-Control": directives,
						"Cloudflare-CDN-Cache-Control": "-", "Surrogate-Control": "-"})
				}
				return merge(noTags, map[string]string{"Cloudflare-CDN-Cache-Control": directives,
					"CDN-Cache-Control": "-", "Surrogate-Control": "-", "Cache-Tag": strings.Join(tags, ",")})
			}
			// The profile page is assembled here from its shell and
			// fragments: without a CDN it leaves with the rule's
			// directives and no tags; a CDN gets it "private, no-cache"
			// and untagged, since a purge of a fragment's tag would not
			// reach a page the CDN stored whole.
			profileHeaders := merge(noTags, map[string]string{"Cache-Control": "public, max-age=60",
				"CDN-Cache-Control": profileCDN, "Cloudflare-CDN-Cache-Control": "-", "Surrogate-Control": "-"})
			if cdn != "none" {
				profileHeaders = merge(noCDN, map[string]string{"Cache-Control": "private, no-cache"})
			}
			tests := []struct {
				name, host, path string
				req              []string
				want             map[string]string
				body             string
				statuses         [2]string // miss, then hit
			}{
				{
					name: "profile en", host: "acme.localhost", path: "/",
					want: merge(ident, profileHeaders, map[string]string{"Vary": "Accept-Language", "Content-Language": "en", "Expires": "-"}),
					body: `lang="en"`,
					statuses: [2]string{"cachegate; fwd=miss; fwd-status=200; stored; ttl=86400; fragments=2; fragment-hits=0",
						"cachegate; hit; detail=l1; ttl=86400; fragments=2; fragment-hits=2"},
				},
				{
					// Another locale is another entry, for the shell and
					// each fragment: misses, never the English page.
					name: "profile de", host: "acme.localhost", path: "/", req: []string{"Accept-Language: de-DE,de;q=0.9,en;q=0.5"},
					want: merge(ident, profileHeaders, map[string]string{"Vary": "Accept-Language", "Content-Language": "de"}),
					body: `lang="de"`,
					statuses: [2]string{"cachegate; fwd=miss; fwd-status=200; stored; ttl=86400; fragments=2; fragment-hits=0",
						"cachegate; hit; detail=l1; ttl=86400; fragments=2; fragment-hits=2"},
				},
				{
					// An unlisted language is normalized to the first locale,
					// the entries the English request stored.
					name: "profile fr is en", host: "acme.localhost", path: "/", req: []string{"Accept-Language: fr-FR"},
					want: map[string]string{"Content-Language": "en", "Vary": "Accept-Language"},
					body: `lang="en"`,
					statuses: [2]string{"cachegate; hit; detail=l1; ttl=86400; fragments=2; fragment-hits=2",
						"cachegate; hit; detail=l1; ttl=86400; fragments=2; fragment-hits=2"},
				},
				{
					name: "other tenant's profile", host: "berg.localhost", path: "/",
					want: merge(ident, profileHeaders, map[string]string{"Content-Language": "en"}),
					statuses: [2]string{"cachegate; fwd=miss; fwd-status=200; stored; ttl=86400; fragments=2; fragment-hits=0",
						"cachegate; hit; detail=l1; ttl=86400; fragments=2; fragment-hits=2"},
				},
				{
					// The profile page's fragments, each cached with its own
					// tags when the page was assembled.
					name: "gallery fragment", host: "acme.localhost", path: "/fragments/gallery",
					want: merge(ident, cdnHeaders("max-age=3600", "acme:gallery:acme", "acme:url:/fragments/gallery",
						"acme:path:/", "acme:path:/fragments", "acme:path:/fragments/gallery"), map[string]string{
						"Cache-Control": "public, max-age=60", "Vary": "Accept-Language", "Content-Language": "en",
					}),
					body:     `data-fragment="gallery"`,
					statuses: [2]string{"cachegate; hit; detail=l1; ttl=3600", "cachegate; hit; detail=l1; ttl=3600"},
				},
				{
					name: "listings fragment", host: "berg.localhost", path: "/fragments/listings",
					want: merge(ident, cdnHeaders("max-age=3600", "berg:listings:berg", "berg:url:/fragments/listings",
						"berg:path:/", "berg:path:/fragments", "berg:path:/fragments/listings"), map[string]string{
						"Cache-Control": "public, max-age=60", "Vary": "Accept-Language", "Content-Language": "en",
					}),
					body:     "OptiSense AG",
					statuses: [2]string{"cachegate; hit; detail=l1; ttl=3600", "cachegate; hit; detail=l1; ttl=3600"},
				},
				{
					// Not localized: the key has no locale, so an empty
					// cache is a uri-miss.
					name: "gallery image", host: "acme.localhost", path: "/gallery/1.svg",
					want: merge(ident, cdnHeaders("max-age=604800", "acme:gallery:acme", "acme:url:/gallery/1.svg",
						"acme:path:/", "acme:path:/gallery", "acme:path:/gallery/1.svg"), map[string]string{
						"Cache-Control": "public, max-age=86400", "Vary": "-",
					}),
					// The rule's 7d is capped by the gateway's MaxTTL (a day).
					statuses: [2]string{"cachegate; fwd=uri-miss; fwd-status=200; stored; ttl=86400", "cachegate; hit; detail=l1; ttl=86400"},
				},
			}
			for _, tt := range tests {
				for i := range 2 {
					r := get(t, n.URL, tt.host, tt.path, tt.req...)
					what := fmt.Sprintf("%s (request %d)", tt.name, i+1)
					if r.status != 200 {
						t.Fatalf("%s: status %d", what, r.status)
					}
					wantHeaders(t, what, r, tt.want)
					if !strings.Contains(r.body, tt.body) {
						t.Errorf("%s: body lacks %q", what, tt.body)
					}
					if got := r.cacheStatus(); !sameCacheStatus(got, tt.statuses[i]) {
						t.Errorf("%s: Cache-Status %q, want %q", what, got, tt.statuses[i])
					}
				}
			}
		})
	}
}

// /account is private by route: every request goes to the origin, the
// answer is "private, no-store" with Vary covering Authorization and
// Cookie, no CDN header, no tags, and each user sees their own page.
func TestDemoPolicyAccountIsPrivate(t *testing.T) {
	for _, cdn := range []string{"none", "cloudflare"} {
		t.Run("cdn="+cdn, func(t *testing.T) {
			yaml := demoConfig(t)
			if cdn == "cloudflare" {
				yaml = withCloudflare(t, yaml)
			}
			o, originURL := demoOrigin(t)
			n := nodetest.Start(t, nodetest.Options{Origin: originURL, File: parse(t, "demo.yaml", yaml)})
			private := merge(noCDN, map[string]string{
				"Cache-Control": "private, no-store",
				"Cache-Status":  "cachegate; fwd=bypass",
				"Vary":          "Accept-Language, Authorization, Cookie",
				"Server":        "cachegate", "Via": "1.1 cachegate",
			})
			tests := []struct {
				name, user string
				req        []string
				status     int
			}{
				{"bearer alice", "alice", []string{"Authorization: Bearer alice"}, 200},
				{"bearer bob", "bob", []string{"Authorization: Bearer bob"}, 200},
				{"session cookie carol", "carol", []string{"Cookie: theme=dark; sessionid=carol"}, 200},
				{"session cookie dave", "dave", []string{"Cookie: session=dave"}, 200},
				{"german alice", "alice", []string{"Authorization: Bearer alice", "Accept-Language: de"}, 200},
				// Private by route even without credentials: the origin's
				// 401 is not shared either.
				{"anonymous", "", nil, 401},
			}
			sent := 0
			for range 2 {
				for _, tt := range tests {
					r := get(t, n.URL, "acme.localhost", "/account", tt.req...)
					sent++
					if r.status != tt.status {
						t.Fatalf("%s: status %d", tt.name, r.status)
					}
					want := private
					if tt.status != 200 {
						want = merge(private, map[string]string{"Vary": r.header.Get("Vary")})
						if v := r.header.Get("Vary"); !strings.Contains(v, "Authorization") || !strings.Contains(v, "Cookie") {
							t.Errorf("%s: Vary %q does not cover Authorization and Cookie", tt.name, v)
						}
					}
					wantHeaders(t, tt.name, r, want)
					if tt.user != "" && !strings.Contains(r.body, tt.user) {
						t.Errorf("%s: page is not %s's", tt.name, tt.user)
					}
					for _, other := range []string{"alice", "bob", "carol", "dave"} {
						if other != tt.user && strings.Contains(r.body, ">"+other+"<") {
							t.Errorf("%s: page shows %s", tt.name, other)
						}
					}
				}
			}
			if got := o.Stats().Paths["/account"]; got != int64(sent) {
				t.Fatalf("origin served /account %d times for %d requests: some were answered from a cache", got, sent)
			}
		})
	}
}

// The staff preview cookie sends the request to the origin uncached, even
// when the page is cached, stores nothing, and the answer tells every
// cache downstream not to keep it.
func TestDemoPolicyStaffPreview(t *testing.T) {
	o, originURL := demoOrigin(t)
	n := nodetest.Start(t, nodetest.Options{Origin: originURL, File: parse(t, "demo.yaml", withCloudflare(t, demoConfig(t)))})
	// The page is assembled from its fragments, which are public and
	// cached; the preview's "no-store" survives the assembly (which
	// sends other pages "private, no-cache" under a CDN).
	preview := merge(noCDN, map[string]string{
		"Cache-Control": "private, no-store",
		"Vary":          "Accept-Language, Cookie",
	})
	origin := func() int64 { return o.Stats().Paths["/"] }

	// Previews before anything is cached store nothing.
	for i := range 3 {
		r := get(t, n.URL, "acme.localhost", "/", "Cookie: staff_preview=1")
		wantHeaders(t, fmt.Sprintf("preview %d", i), r, preview)
		if !strings.HasPrefix(r.cacheStatus(), "cachegate; fwd=bypass; fragments=2") {
			t.Errorf("preview %d: Cache-Status %q, want the shell bypassed", i, r.cacheStatus())
		}
	}
	if got := origin(); got != 3 {
		t.Fatalf("origin served %d of 3 previews", got)
	}
	r := get(t, n.URL, "acme.localhost", "/")
	if !sameCacheStatus(r.cacheStatus(), "cachegate; fwd=miss; fwd-status=200; stored; ttl=86400; fragments=2; fragment-hits=2") {
		t.Fatalf("the first anonymous request after previews: %q, want a miss (previews are never stored)", r.cacheStatus())
	}
	// With the page cached, a preview still goes to the origin.
	r = get(t, n.URL, "acme.localhost", "/", "Cookie: staff_preview=1")
	wantHeaders(t, "preview of a cached page", r, preview)
	if !strings.HasPrefix(r.cacheStatus(), "cachegate; fwd=bypass") {
		t.Errorf("preview of a cached page: Cache-Status %q, want a bypass", r.cacheStatus())
	}
	if got := origin(); got != 5 {
		t.Fatalf("origin served %d of 5 requests", got)
	}
	if r := get(t, n.URL, "acme.localhost", "/"); !strings.HasPrefix(r.cacheStatus(), "cachegate; hit") {
		t.Fatalf("anonymous after a preview: %q, want a hit", r.cacheStatus())
	}
}

// check-config's semantics: the demo file is accepted; a broken copy is
// rejected with every problem as FILE:LINE: message, at the right lines.
func TestCheckConfig(t *testing.T) {
	demo := demoConfig(t)
	parse(t, "demo.yaml", demo)
	parse(t, "demo.yaml", withCloudflare(t, demo))

	// Each edit replaces whole lines of the demo file; want is a fragment
	// of the message expected at line at of new (0: its first line).
	edits := []struct {
		old, new string
		at       int
		want     string
	}{
		{"    private: true                # always", "    private: true\n    ttl: 5m", 1, "ttl conflicts with private"},
		{"    browser: public, max-age=60  # short", "    browser: public, max_age=60", 0, `unknown directive "max_age"`},
		{"    tags: [\"company:{tenant}\"]", "    tags: [\"company:{tenant}\", \"page:{nope}\"]", 0, "unknown placeholder {nope}"},
		{"    staff_bypass:\n", "    staf_bypass:\n", 0, `unknown key "staf_bypass"`},
		{"    match: { path: \"/companies/{id}\"", "    match: { path: \"/companies/{id\", methods: GET }", 0, "/companies/{id"},
		{"  max_bytes: 256MiB", "  max_bytes: 256 MegaBytes", 0, "invalid size"},
		{"  provider: none", "  provider: fastlly", 0, `did you mean "fastly"`},
	}
	broken := demo
	for _, e := range edits {
		if strings.Count(broken, e.old) != 1 {
			t.Fatalf("demo.yaml changed: %q is not there exactly once", e.old)
		}
		// The edit replaces whole lines: up to the end of old's last line.
		i := strings.Index(broken, e.old)
		end := i + len(e.old)
		if j := strings.IndexByte(broken[end:], '\n'); j >= 0 && !strings.HasSuffix(e.old, "\n") {
			end += j
		}
		broken = broken[:i] + e.new + broken[end:]
	}
	_, err := config.Parse("broken.yaml", []byte(broken), func(string) (string, bool) { return "token-0123456789abcdef", true })
	var errs config.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("broken copy: %v, want config.Errors", err)
	}
	lines := strings.Split(err.Error(), "\n")
	for _, e := range edits {
		line := strings.Count(broken[:strings.Index(broken, e.new)], "\n") + 1 + e.at
		prefix := fmt.Sprintf("broken.yaml:%d: ", line)
		found := false
		for _, l := range lines {
			if strings.HasPrefix(l, prefix) && strings.Contains(l, e.want) {
				found = true
			}
		}
		if !found {
			t.Errorf("no %q message at %s in:\n%s", e.want, prefix, err)
		}
	}
	if len(lines) < len(edits) {
		t.Errorf("%d messages for %d problems:\n%s", len(lines), len(edits), err)
	}
}

var ttlParam = regexp.MustCompile(`ttl=(-?\d+)`)

// sameCacheStatus compares Cache-Status values allowing the ttl to be one
// second less than wanted: a second may turn between the fill and the hit,
// and ages are whole seconds.
func sameCacheStatus(got, want string) bool {
	g, w := ttlParam.FindStringSubmatch(got), ttlParam.FindStringSubmatch(want)
	if g == nil || w == nil {
		return got == want
	}
	gn, _ := strconv.Atoi(g[1])
	wn, _ := strconv.Atoi(w[1])
	return (gn == wn || gn == wn-1) && ttlParam.ReplaceAllString(got, "") == ttlParam.ReplaceAllString(want, "")
}
