package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/policy"
)

func env(vars ...string) func(string) (string, bool) {
	m := map[string]string{}
	for i := 0; i+1 < len(vars); i += 2 {
		m[vars[i]] = vars[i+1]
	}
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestLoadDemo(t *testing.T) {
	t.Setenv("CACHEGATE_ADMIN_TOKEN", "s3cret")
	f, err := Load("testdata/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if string(f.Admin.Token) != "s3cret" || f.L1.MaxBytes != 256<<20 || f.Limits.OriginTimeout != 10*time.Second {
		t.Errorf("decoded %+v", f)
	}
	if err := f.Validate(); err != nil {
		t.Errorf("Validate: %v", err)
	}
	p, err := policy.Compile(f.Policy())
	if err != nil {
		t.Fatal(err)
	}
	// The policy promises what the demo needs.
	tests := []struct {
		target, cookie string
		rule, browser  string
		private        bool
		bypass         bool
		tags           []string
	}{
		{"http://acme.localhost/", "", "profile", "public, max-age=60", false, false, []string{"company:acme"}},
		{"http://acme.localhost/companies", "", "companies", "public, max-age=30", false, false, []string{"company"}},
		{"http://berg.localhost/companies/acme", "", "company", "public, max-age=60", false, false, []string{"company:acme"}},
		{"http://acme.localhost/account", "", "account", "", true, false, nil},
		{"http://acme.localhost/", "staff_preview=1", "profile", "", false, true, nil},
		{"http://acme.localhost/", "sessionid=1", "profile", "", true, false, nil},
		{"http://acme.localhost/other", "", "default", "", false, false, nil},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("GET", tt.target, nil)
		if tt.cookie != "" {
			r.Header.Set("Cookie", tt.cookie)
		}
		d := p.Decide(r)
		if d.Rule != tt.rule || d.BrowserCacheControl != tt.browser || d.Private != tt.private || d.Bypass != tt.bypass ||
			fmt.Sprint(d.Tags) != fmt.Sprint(tt.tags) {
			t.Errorf("%s (%s): %+v", tt.target, tt.cookie, d)
		}
		if !d.Private && !d.Bypass && tt.rule != "default" && fmt.Sprint(d.Locales) != "[en de]" && tt.rule != "gallery-images" {
			t.Errorf("%s: locales %v", tt.target, d.Locales)
		}
	}
	if f.CDNHeader() != "CDN-Cache-Control" {
		t.Errorf("CDNHeader = %q", f.CDNHeader())
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	var es Errors
	if !errors.As(err, &es) || !strings.Contains(err.Error(), "cannot read config") {
		t.Errorf("err = %v", err)
	}
}

func TestParseEmpty(t *testing.T) {
	for _, src := range []string{"", "# only a comment\n", "---\n"} {
		f, err := Parse("empty.yaml", []byte(src), env())
		if err != nil || f == nil {
			t.Errorf("Parse(%q) = %v, %v", src, f, err)
		}
	}
}

// TestParseErrors: every kind of error, each at its line.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want []string // "LINE: substring", in order
	}{
		{"yaml syntax", "listen: [\n", []string{"1: YAML:"}},
		{"tab indentation", "l1:\n\tmax_bytes: 1\n", []string{"2: YAML:"}},
		{"not a mapping", "- a\n- b\n", []string{"1: config must be a mapping"}},
		{"two documents", "listen: :1\n---\nlisten: :2\n", []string{"2: only one YAML document"}},
		{"unknown key", "listn: :80\n", []string{`1: config: unknown key "listn" (did you mean "listen"?)`}},
		{"unknown nested key", "l1:\n  max_byte: 1\n", []string{`2: l1: unknown key "max_byte" (did you mean "max_bytes"?)`}},
		{"unknown far key", "whatever: 1\n", []string{`1: config: unknown key "whatever"`}},
		{"misplaced key", "ttl: 5m\nprovider: fastly\n", []string{
			`1: config: unknown key "ttl" (ttl belongs in a rule: under routes: - or default:)`,
			`2: config: unknown key "provider" (provider belongs under cdn:)`}},
		{"duplicate key", "listen: :80\nlisten: :81\n", []string{`2: config: key "listen" appears twice`}},
		{"bad address", "listen: localhost\n", []string{"1: listen: address \"localhost\" must be host:port"}},
		{"bad port", "admin_listen: 127.0.0.1:99999\n", []string{"1: admin_listen: address"}},
		{"same address", "listen: 127.0.0.1:8080\nadmin_listen: 127.0.0.1:8080\n", []string{"2: admin_listen: the same address"}},
		{"origin scheme", "origin: ftp://x\n", []string{`1: origin "ftp://x": URL scheme must be http or https, got "ftp"`}},
		{"origin relative", "origin: /x\n", []string{"1: origin"}},
		{"origin no value", "origin:\n", []string{"1: origin has no value"}},
		{"wrong type list", "origin: [a]\n", []string{"1: origin must be a single value, got a list"}},
		{"wrong type mapping", "l1: 5\n", []string{"1: l1 must be a mapping"}},
		{"bad size", "l1:\n  max_bytes: 256MB!\n", []string{`2: l1.max_bytes: invalid size "256MB!"`}},
		{"bad duration", "limits:\n  origin_timeout: 10\n", []string{`2: limits.origin_timeout: duration "10" needs a unit`}},
		{"bad targeted field", "cache:\n  targeted_fields: [Cachegate-Cache-Control, Cache-Control]\n", []string{"2: cache.targeted_fields[1]: Cache-Control is always read"}},
		{"bad targeted field name", "cache:\n  keep: 1h\n  targeted_fields:\n    - Bad Name\n", []string{`4: cache.targeted_fields[0]: "Bad Name" is not a field name`}},
		{"negative duration", "limits:\n  origin_timeout: -1s\n", []string{"2: limits.origin_timeout: duration \"-1s\" must not be negative"}},
		{"l2 admission", "redis:\n  url: redis://a:6379\nl2:\n  admission: sometimes\n", []string{`4: l2.admission: "sometimes" must be always or frequent`}},
		{"l2 admission without redis", "l2:\n  admission: frequent\n", []string{"2: l2.admission: needs redis"}},
		{"esi depth", "esi:\n  timeout: 2s\n  max_depth: 50\n", []string{"3: esi.max_depth: 50 must be from 0 (the default, 5) to 20"}},
		{"warm rate", "warm:\n  enabled: true\n  rate: -1\n", []string{"3: warm.rate: -1 must not be negative"}},
		{"warm top_k", "warm:\n  top_k: 200000\n", []string{"2: warm.top_k: 200000 must be from 0 to 100000"}},
		{"bad early refresh beta", "cache:\n  early_refresh_beta: x\n", []string{"2: cache.early_refresh_beta"}},
		{"auto_ttl with a fixed ttl", "routes:\n  - name: r\n    match: { path: /r }\n    ttl: 1h\n    auto_ttl: { min: 1m }\n", []string{"auto_ttl: bounds a learned TTL"}},
		{"auto_ttl bounds", "routes:\n  - name: r\n    match: { path: /r }\n    ttl: auto\n    auto_ttl: { min: 2h, max: 1h }\n", []string{"auto_ttl: min 2h0m0s is above max 1h0m0s"}},
		{"negative route early refresh beta", "routes:\n  - name: r\n    match: { path: /r }\n    early_refresh_beta: -1\n", []string{"early_refresh_beta: must be a number from 0 (off) up"}},
		{"bad bool", "via: yes\n", []string{`1: via must be true or false, got "yes"`}},
		{"bad int", "redis:\n  db: x\n", []string{"2: redis.db must be a whole number"}},
		{"int range", "redis:\n  addrs: [a:6379]\n  db: 16\n", []string{"3: redis.db: must be between 0 and 15"}},
		{"redis without a server", "redis:\n  db: 1\n", []string{"1: redis: url or addrs is required"}},
		{"redis db with url", "redis:\n  url: redis://a:6379\n  db: 2\n", []string{"3: redis.db: with url, the database is the URL's path"}},
		{"redis url", "redis:\n  url: http://x\n", []string{"2: redis.url: URL scheme must be redis"}},
		{"redis both", "redis:\n  url: redis://a:6379\n  addrs: [b:6379]\n", []string{"3: redis.addrs: set url"}},
		{"redis sentinel", "redis:\n  master_name: m\n", []string{"2: redis.master_name: needs"}},
		{"redis addr", "redis:\n  addrs: [a:6379, b]\n", []string{`2: redis.addrs[1]: address "b" is not host:port`}},
		{"memcached with a redis setting", "redis:\n  url: memcached://a:11211,b:11211\n  db: 2\n", []string{"3: redis.db: is a Redis setting; a memcached:// url takes only key_prefix"}},
		{"memcached bad server", "redis:\n  url: memcached://a:11211,b:x\n", []string{`2: redis.url: address "b:x" is not host:port`}},
		{"memcached twice", "redis:\n  url: memcached://a:11211,a\n", []string{`2: redis.url: server "a:11211" is listed twice`}},
		{"memcached path", "redis:\n  url: memcached://a:11211/0\n", []string{"2: redis.url: a memcached URL takes only servers"}},
		{"nats url", "nats:\n  url: http://x\n", []string{"2: nats.url"}},
		{"nats replicas range", "nats:\n  url: nats://x:4222\n  replicas: 7\n", []string{"3: nats.replicas: 7: want 0 to 5"}},
		{"nats partitions range", "nats:\n  partitions: 65\n", []string{"2: nats.partitions: 65: want 1 to 64"}},
		{"nats replicas embedded", "nats:\n  replicas: 3\n", []string{"2: nats.replicas: replicas need a NATS cluster"}},
		{"nats sources without region", "nats:\n  url: nats://x:4222\n  sources: [us]\n", []string{"1: nats.region: is required with nats.sources"}},
		{"nats region not a domain", "nats:\n  url: nats://x:4222\n  region: eu.west\n", []string{`3: nats.region: "eu.west": want letters, digits`}},
		{"nats region a mode", "nats:\n  url: nats://x:4222\n  region: every\n", []string{`3: nats.region: "every": "every" names a cdn.purge_region mode`}},
		{"nats source is this region", "nats:\n  url: nats://x:4222\n  region: eu\n  sources: [us, eu]\n", []string{`4: nats.sources[1]: "eu" is this region`}},
		{"nats source twice", "nats:\n  url: nats://x:4222\n  region: eu\n  sources: [us, us]\n", []string{`4: nats.sources[1]: "us" is listed twice`}},
		{"nats region embedded", "nats:\n  region: eu\n", []string{"2: nats.region: regions need a standalone NATS"}},
		{"purge region unknown", "nats:\n  url: nats://x:4222\n  region: eu\n  sources: [us]\ncdn:\n  provider: cloudflare\n  purge_region: ap\n  cloudflare: {api_token: t, zone: 0123456789abcdef0123456789abcdef}\n",
			[]string{`7: cdn.purge_region: "ap" is neither "origin", "every", this region (eu) nor one of nats.sources [us]`}},
		{"purge region without regions", "cdn:\n  provider: cloudflare\n  purge_region: eu\n  cloudflare: {api_token: t, zone: 0123456789abcdef0123456789abcdef}\n",
			[]string{"3: cdn.purge_region: needs nats.region and nats.sources"}},
		{"purge region without cdn", "nats:\n  url: nats://x:4222\n  region: eu\n  sources: [us]\ncdn:\n  purge_region: eu\n", []string{"6: cdn.purge_region: needs a cdn provider"}},
		{"purge region varnish", "nats:\n  url: nats://x:4222\n  region: eu\n  sources: [us]\ncdn:\n  provider: varnish\n  varnish: {urls: [\"http://127.0.0.1:6081\"]}\n",
			[]string{"cdn.purge_region: varnish is a layer of each region"}},
		{"data_dir with nats url", "data_dir: /var/lib/cg\nnats:\n  url: nats://x:4222\n", []string{"1: data_dir holds the embedded NATS server's data"}},
		{"data_dir after nats url", "nats:\n  url: nats://x:4222\ndata_dir: /var/lib/cg\n", []string{"3: data_dir holds the embedded NATS server's data"}},
		{"nats both", "nats:\n  url: nats://x:4222\n  embedded_listen: 127.0.0.1:4222\n", []string{"3: nats.embedded_listen configures"}},
		{"nats user without password", "nats:\n  url: nats://x:4222\n  user: app\n", []string{"3: nats.user: NATS user and password go together"}},
		{"nats two credentials", "nats:\n  url: nats://x:4222\n  token: t\n  nkey_seed: /x.nk\n", []string{"4: nats.nkey_seed: NATS credentials: choose one of token, nkey seed"}},
		{"nats creds and password", "nats:\n  url: nats://x:4222\n  credentials: /x.creds\n  user: a\n  password: p\n", []string{"3: nats.credentials: NATS credentials: choose one of user/password, creds file"}},
		{"nats url with password and token", "nats:\n  url: nats://a:b@x:4222\n  token: t\n", []string{"3: nats.token: NATS URL nats://a:xxxxx@x:4222 carries credentials"}},
		{"nats unknown credential key", "nats:\n  creds_file: /x\n  nkey_seed: /x.nk\n", []string{`2: nats: unknown key "creds_file"`}},
		{"missing env", "admin:\n  token: ${NOPE}\n", []string{"2: admin.token: environment variable NOPE is not set"}},
		{"routes not list", "routes:\n  a: 1\n", []string{"2: routes must be a list"}},
		{"route unknown key", "routes:\n  - name: a\n    privat: true\n", []string{`3: route "a": unknown key "privat" (did you mean "private"?)`}},
		{"match unknown key", "routes:\n  - name: a\n    match:\n      paths: /x\n", []string{`4: route "a".match: unknown key "paths" (did you mean "path"?)`}},
		{"bad glob", "routes:\n  - name: a\n    match:\n      path: /a/**/b\n", []string{`4: route "a" match.path: path pattern "/a/**/b": ** is only allowed as the last segment`}},
		{"bad param", "routes:\n  - match: {path: \"/p/{id\"}\n", []string{"2: routes[0] match.path:"}},
		{"private with ttl", "routes:\n  - name: acct\n    match: {path: /account}\n    private: true\n    ttl: 5m\n",
			[]string{`5: route "acct" ttl: a private route is never shared`}},
		{"private with cdn", "routes:\n  - name: acct\n    match: {path: /account}\n    private: true\n    cdn: max-age=60\n",
			[]string{"5: route \"acct\" cdn: a private route"}},
		{"bad browser", "default:\n  browser: public, max-age=1m\n", []string{"2: default browser: cache-control \"public, max-age=1m\": max-age needs a number of seconds"}},
		{"browser typo", "default:\n  browser: public, maxage=60\n", []string{`did you mean "max-age"`}},
		{"no-store with max-age", "default:\n  browser: no-store, max-age=60\n", []string{"2: default browser: cache-control \"no-store, max-age=60\": no-store conflicts with max-age"}},
		{"private browser with cdn", "default:\n  browser: private, max-age=60\n  cdn: max-age=60\n", []string{"3: default cdn: browser says private"}},
		{"ttl word", "default:\n  ttl: forever\n", []string{`2: default.ttl (a duration, "origin" or "auto"): invalid duration "forever"`}},
		{"bad tenant in match", "routes:\n  - name: a\n    match: {tenant: [acme, Berg]}\n", []string{"3: route \"a\" match.tenant[1]: invalid invalidation request: tenant \"Berg\""}},
		{"bad method", "routes:\n  - name: a\n    match:\n      methods: [GET, get]\n", []string{`4: route "a" match.methods[1]: method "get" must be upper case`}},
		{"unknown placeholder", "routes:\n  - name: p\n    match: {path: \"/p/{id}\"}\n    tags:\n      - \"p:{id}\"\n      - \"p:{sku}\"\n",
			[]string{"6: route \"p\" tags[1]: tag template \"p:{sku}\": unknown placeholder {sku} (known: {tenant}, {host}, {path}, {id})"}},
		{"bad tag", "default:\n  tags: [\"a b\"]\n", []string{"2: default tags[0]: tag template \"a b\": a tag may not contain"}},
		{"catch-all first", "routes:\n  - name: all\n  - name: x\n    match: {path: /x}\n",
			[]string{"4: route \"x\" match: unreachable: rule 1 (all) before it matches every request this rule matches"}},
		{"shadowed", "routes:\n  - name: products\n    match: {path: /products}\n  - name: product\n    match:\n      path: \"/products/{id}\"\n      methods: GET\n",
			[]string{"5: route \"product\" match: unreachable: rule 1 (products)"}},
		{"duplicate rule name", "routes:\n  - name: a\n    match: {path: /a}\n  - name: a\n    match: {path: /b}\n", []string{`4: route "a" name: rule name "a" is already used by rule 1`}},
		{"default with match", "default:\n  match: {path: /}\n", []string{"2: default match: the default rule has no match"}},
		{"bad locale", "default:\n  locales: [en, \"de_DE\"]\n", []string{`2: default locales[1]: invalid locale "de_DE"`}},
		{"session cookie", "session_cookies: [sessionid, \"a;b\"]\n", []string{`1: session_cookies: invalid cookie name "a;b"`}},
		{"tenant mode", "tenants:\n  by: cookie\n", []string{`2: tenants.by: unknown tenant mode "cookie"`}},
		{"tenant header", "tenants:\n  by: header\n", []string{"2: tenants.header: by: header needs a valid header name"}},
		{"tenant host map", "tenants:\n  hosts:\n    shop.acme.com: acme\n    shop.berg.com: Berg\n", []string{`4: tenants.hosts: host "shop.berg.com": invalid invalidation request: tenant "Berg"`}},
		{"tenant fallback", "tenants:\n  fallback: \"-\"\n", []string{}},
		{"unknown provider", "cdn:\n  provider: cloudflair\n", []string{`2: cdn.provider: unknown provider "cloudflair" (none, cloudflare, fastly, akamai, varnish); did you mean "cloudflare"?`}},
		{"provider needs zone", "cdn:\n  provider: cloudflare\n", []string{"2: cdn.provider cloudflare needs cdn.cloudflare.zone"}},
		{"zone id", "cdn:\n  provider: cloudflare\n  cloudflare:\n    zones:\n      acme: nope\n", []string{"5: cdn.cloudflare: zone id \"nope\" must be 32"}},
		{"zone tenant", "cdn:\n  provider: cloudflare\n  cloudflare:\n    zones:\n      ACME: 0123456789abcdef0123456789abcdef\n", []string{"5: cdn.cloudflare.zones: invalid invalidation request: tenant \"ACME\""}},
		{"cloudflare plan", "cdn:\n  provider: cloudflare\n  cloudflare:\n    zone: 0123456789abcdef0123456789abcdef\n    plan: gold\n", []string{`5: cdn.cloudflare.plan: unknown plan "gold"`}},
		{"section without provider", "cdn:\n  fastly:\n    service_id: x\n", []string{`2: cdn.fastly is configured but cdn.provider is "none"`}},
		{"varnish second url", "cdn:\n  provider: varnish\n  varnish:\n    urls:\n      - http://a:1\n      - ftp://b\n", []string{`6: cdn.varnish.urls[1]: node URL "ftp://b": need http://host:port`}},
		{"fastly base url", "cdn:\n  provider: fastly\n  fastly:\n    api_token: t\n    service_id: s\n    base_url: api.fastly.com\n", []string{`6: cdn.fastly.base_url: "api.fastly.com" is not an http(s) URL`}},
		{"varnish url", "cdn:\n  provider: varnish\n  varnish:\n    urls: [\"varnish:6081\"]\n", []string{"4: cdn.varnish.urls"}},
		{"varnish stats url", "cdn:\n  provider: varnish\n  varnish:\n    urls: [http://v:1]\n    stats_urls: [\"v:9\"]\n", []string{`5: cdn.varnish.stats_urls[0]: "v:9": need an http(s) URL`}},
		{"cdn header", "cdn:\n  header: Cache-Control\ndefault:\n  cdn: max-age=1\n", []string{"2: cdn.header: CDN directives cannot go in Cache-Control"}},
		{"cdn host", "cdn:\n  hosts:\n    acme: https://acme.example\n", []string{"3: cdn.hosts"}},
		{"event placeholder", "events:\n  rules:\n    - type: company.updated\n      tags: [\"x:{data.id}\", \"y:{nope}\"]\n", []string{"4: events.rules[0].tags[1]: tag template \"y:{nope}\": unknown placeholder {nope}"}},
		{"event type missing", "events:\n  rules:\n    - tags: [x]\n", []string{"3: events.rules[0]: type is required"}},
		{"event type twice", "events:\n  rules:\n    - type: a\n      tags: [x]\n    - type: a\n      tags: [y]\n", []string{`5: events.rules[1].type: type "a" already has a rule`}},
		{"event replace nothing", "events:\n  rules:\n    - type: a\n      replace_default: true\n", []string{"4: events.rules[0].replace_default: replace_default with no tags"}},
		{"cache name", "cache_name: \"my cache\"\n", []string{`1: cache_name: "my cache" must be a token starting with a letter`}},
		{"cache name not a Via token", "cache_name: edge:1\n", []string{`1: cache_name: "edge:1" must be a token starting with a letter`}},
		{"cache name digit first", "cache_name: 1edge\n", []string{`1: cache_name: "1edge" must be a token starting with a letter`}},
		{"server header two lines", "server_header: \"a\\nb\"\n", []string{`1: server_header: "a\nb" must be one line`}},
		{"many errors, line order", "listn: 1\nl1:\n  max_bytes: x\ncdn:\n  provider: nope\n",
			[]string{"1: config: unknown key", "3: l1.max_bytes", "5: cdn.provider"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("bad.yaml", []byte(tt.src), env())
			if len(tt.want) == 0 {
				if tt.name == "tenant fallback" {
					// "-" is a valid tenant name.
					if err != nil {
						t.Fatalf("unexpected error: %v", err)
					}
				}
				return
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("Parse = %v, %v; want Errors", f, err)
			}
			if f != nil {
				t.Errorf("a File came back with errors")
			}
			lines := strings.Split(err.Error(), "\n")
			for _, l := range lines {
				if !strings.HasPrefix(l, "bad.yaml:") {
					t.Errorf("line without FILE:LINE: %q", l)
				}
			}
			i := 0
			for _, w := range tt.want {
				found := false
				for ; i < len(lines) && !found; i++ {
					found = strings.Contains(lines[i], "bad.yaml:"+w) || !strings.Contains(w, ":") && strings.Contains(lines[i], w) ||
						strings.Contains(w, ":") && !startsWithDigit(w) && strings.Contains(lines[i], w)
				}
				if !found {
					t.Errorf("want %q in order, got:\n%s", w, err)
				}
			}
		})
	}
}

func startsWithDigit(s string) bool { return s != "" && s[0] >= '0' && s[0] <= '9' }

func aliasBomb(key string) string {
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 9; i++ {
		fmt.Fprintf(&b, "a%d: &a%d [", i, i)
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]\n")
	}
	b.WriteString(key + ": *a8\n")
	return b.String()
}

// TestParseAliasBomb: a document whose aliases expand to billions of nodes
// is rejected quickly with a bounded list of errors.
func TestParseAliasBomb(t *testing.T) {
	for _, key := range []string{"session_cookies", "routes", "l1"} {
		src := aliasBomb(key)
		start := time.Now()
		_, err := Parse("bomb.yaml", []byte(src), env())
		if err == nil {
			t.Fatalf("%s: alias bomb accepted", key)
		}
		if n := strings.Count(err.Error(), "\n"); n > 100 || time.Since(start) > 5*time.Second {
			t.Errorf("%s: %d error lines in %v", key, n, time.Since(start))
		}
	}
}

func TestParseFeatures(t *testing.T) {
	src := `
defaults: &pub
  browser: public, max-age=60
  cdn: max-age=600
routes:
  - name: a
    match: { path: /a, methods: GET, host: "*.example.com", cookie: ab, header: X-Variant }
    <<: *pub
  - name: b
    match: { path: /b }
    <<: *pub
    cdn: max-age=5
    ttl: origin
redis:
  url: redis://:${REDIS_PASSWORD}@127.0.0.1:6379/0
server_header: false
session_cookies: []
`
	// "defaults" is not a key; use a real one for the anchor instead.
	src = strings.Replace(src, "defaults: &pub", "default: &pub", 1)
	f, err := Parse("x.yaml", []byte(src), env("REDIS_PASSWORD", "pw"))
	if err != nil {
		t.Fatal(err)
	}
	a, b := f.Routes[0], f.Routes[1]
	if a.Browser != "public, max-age=60" || a.CDN != "max-age=600" || fmt.Sprint(a.Match.Methods) != "[GET]" ||
		fmt.Sprint(a.Match.Hosts) != "[*.example.com]" || fmt.Sprint(a.Match.Cookies) != "[ab]" {
		t.Errorf("route a = %+v", a)
	}
	if b.CDN != "max-age=5" || b.Browser != "public, max-age=60" || b.TTL != nil {
		t.Errorf("route b (explicit key wins over merge) = %+v", b)
	}
	if string(f.Redis.URL) != "redis://:pw@127.0.0.1:6379/0" {
		t.Errorf("redis url not expanded")
	}
	if f.ServerHeader == nil || *f.ServerHeader != "" {
		t.Errorf("server_header: false should remove the header")
	}
	if f.SessionCookies == nil || len(f.SessionCookies) != 0 {
		t.Errorf("session_cookies: [] must be an empty non-nil list, got %#v", f.SessionCookies)
	}
}

// TestParseCache: the cache section reaches the config; absent, the
// targeted fields stay nil (the gateway's default order).
func TestParseCache(t *testing.T) {
	f, err := Parse("x.yaml", []byte("cache:\n  heuristic_freshness: true\n  keep: 10m\n  targeted_fields: [CDN-Cache-Control]\n"), env())
	if err != nil {
		t.Fatal(err)
	}
	if !f.Cache.HeuristicFreshness || f.Cache.Keep != 10*time.Minute || fmt.Sprint(f.Cache.TargetedFields) != "[CDN-Cache-Control]" {
		t.Errorf("cache = %+v", f.Cache)
	}
	f, err = Parse("x.yaml", []byte("listen: 127.0.0.1:8080\n"), env())
	if err != nil {
		t.Fatal(err)
	}
	if f.Cache.HeuristicFreshness || f.Cache.TargetedFields != nil {
		t.Errorf("defaults: %+v", f.Cache)
	}
}

// TestParseOriginOverride: a rule's origin mode reaches the policy, a bad
// one is refused at its line, and a TTL that may not take effect is a
// warning at the ttl's line, not an error.
func TestParseOriginOverride(t *testing.T) {
	src := "routes:\n  - name: rails\n    match: { path: /r }\n    ttl: 1h\n    origin: override\n  - name: plain\n    match: { path: /p }\n    ttl: 0s\n"
	f, err := Parse("x.yaml", []byte(src), env())
	if err != nil {
		t.Fatal(err)
	}
	if f.Routes[0].Origin != policy.OriginOverride {
		t.Errorf("origin = %q", f.Routes[0].Origin)
	}
	if len(f.Warnings) != 1 || !strings.HasPrefix(f.Warnings[0].Error(), "x.yaml:8: warning: route \"plain\" ttl:") {
		t.Errorf("warnings = %v", f.Warnings)
	}
	_, err = Parse("x.yaml", []byte("default:\n  ttl: 1h\n  origin: ignore\n"), env())
	if err == nil || !strings.Contains(err.Error(), "x.yaml:3: default origin: origin must be") {
		t.Errorf("bad origin mode: %v", err)
	}
}

// TestParseCDNRetry: the CDN retry settings reach the config, and a bad
// one is refused at its line.
func TestParseCDNRetry(t *testing.T) {
	f, err := Parse("x.yaml", []byte("cdn:\n  retry_backoff: 20ms\n  retry_backoff_max: 2s\n  call_timeout: 5s\n"), env())
	if err != nil {
		t.Fatal(err)
	}
	if f.CDN.RetryBackoff != 20*time.Millisecond || f.CDN.RetryBackoffMax != 2*time.Second || f.CDN.CallTimeout != 5*time.Second {
		t.Errorf("cdn retry settings = %v %v %v", f.CDN.RetryBackoff, f.CDN.RetryBackoffMax, f.CDN.CallTimeout)
	}
	_, err = Parse("x.yaml", []byte("cdn:\n  retry_backoff: -1s\n"), env())
	if err == nil || !strings.Contains(err.Error(), "2: cdn.retry_backoff") {
		t.Errorf("negative backoff: %v", err)
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	f := &File{Admin: Admin{Token: "tok"}, Redis: Redis{URL: "redis://:pw@h:1"},
		NATS: NATS{URL: "nats://n:4222", User: "u", Password: "natspw"}}
	var b strings.Builder
	fmt.Fprintf(&b, "%v %+v %#v %s %v %+v %#v", f, f, f, f.Admin.Token, f.NATS.Conn(), f.NATS.Conn(), f.NATS.Conn())
	slog.New(slog.NewTextHandler(&b, nil)).Info("x", "token", f.Admin.Token, "file", f, "nats", f.NATS.Conn())
	slog.New(slog.NewJSONHandler(&b, nil)).Info("x", "nats", f.NATS.Conn(), "file", f)
	if s := b.String(); strings.Contains(s, "tok ") || strings.Contains(s, "pw@") || strings.Contains(s, "\"tok\"") || strings.Contains(s, "=tok") || strings.Contains(s, "natspw") {
		t.Errorf("secret printed: %s", s)
	}
}

// The NATS credentials reach the connection config, and Validate (after
// overrides, without lines) refuses the combinations the loader refuses.
func TestNATSCredentials(t *testing.T) {
	f, err := Parse("x.yaml", []byte("origin: http://o:1\nnats:\n  url: nats://n:4222\n  user: app\n  password: ${P}\n"), env("P", "secret"))
	if err != nil {
		t.Fatal(err)
	}
	if c := f.NATS.Conn(); c.URL != "nats://n:4222" || c.User != "app" || c.Password != "secret" {
		t.Fatalf("Conn() = %+v", c)
	}
	tests := []struct {
		name string
		set  func(n *NATS)
		want string
	}{
		{"ok", func(n *NATS) {}, ""},
		{"token too", func(n *NATS) { n.Token = "t" }, "choose one of user/password, token"},
		{"no password", func(n *NATS) { n.Password = "" }, "user and password go together"},
		{"embedded", func(n *NATS) { n.URL = "" }, "credentials are for a standalone server"},
		{"nkey alone", func(n *NATS) { n.User, n.Password, n.NkeySeed = "", "", "/x.nk" }, ""},
	}
	for _, tt := range tests {
		g := *f
		tt.set(&g.NATS)
		err := g.Validate()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: Validate = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestValidateAfterOverrides(t *testing.T) {
	f, err := Parse("x.yaml", []byte("cdn:\n  provider: fastly\n  fastly:\n    service_id: svc\n    api_token: ${T}\n"), env("T", "t"))
	if err != nil {
		t.Fatal(err)
	}
	f.CDN.Fastly.APIToken = "" // as if changed in code after loading
	err = f.Validate()
	if err == nil || !strings.Contains(err.Error(), "origin is required") || !strings.Contains(err.Error(), "cdn.fastly.api_token: an API token") {
		t.Errorf("Validate = %v", err)
	}
	f.Origin = "http://127.0.0.1:8081"
	f.CDN.Fastly.APIToken = "t"
	if err := f.Validate(); err != nil {
		t.Errorf("Validate after overrides = %v", err)
	}
	f.Listen = "nope"
	if err := f.Validate(); err == nil || !strings.Contains(err.Error(), "x.yaml: listen:") {
		t.Errorf("Validate(bad listen) = %v", err)
	}
}

func TestParseSizeAndDuration(t *testing.T) {
	sizes := map[string]int64{"0": 0, "65536": 65536, "512KiB": 512 << 10, "256MiB": 256 << 20, "1GB": 1e9, "2 gib": 2 << 30, "1_000": 1000, "64k": 64 << 10}
	for s, want := range sizes {
		if got, err := ParseSize(s); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "MiB", "1.5GiB", "-1", "1XB", "99999999999999999999"} {
		if _, err := ParseSize(s); err == nil {
			t.Errorf("ParseSize(%q) accepted", s)
		}
	}
	durs := map[string]time.Duration{"0": 0, "90s": 90 * time.Second, "1h30m": 90 * time.Minute, "7d": 7 * 24 * time.Hour}
	for s, want := range durs {
		if got, err := ParseDuration(s); err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "60", "1.5", "-1s", "1w", "xd"} {
		if _, err := ParseDuration(s); err == nil {
			t.Errorf("ParseDuration(%q) accepted", s)
		}
	}
}

func TestDemoFileIsCommitted(t *testing.T) {
	data, err := os.ReadFile("testdata/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), "staff_preview") || !strings.Contains(string(data), "private: true") {
		t.Error("demo.yaml lost its staff preview or private route")
	}
}

// A setting that flags or variables set after Load is held to the same
// package rule by Validate: the gateway's and the L1's checks are not
// repeated here, and none is skipped because the value came from a flag.
func TestValidateAppliesPackageRulesAfterOverrides(t *testing.T) {
	empty := "a\nb"
	f := &File{Origin: "http://127.0.0.1:3000", CacheName: "my cache", ServerHeader: &empty,
		Cache: Cache{TargetedFields: []string{"Cache-Control"}}, L1: L1{MaxBytes: -1}}
	err := f.Validate()
	for _, want := range []string{"cache_name: ", "server_header: ", "cache.targeted_fields[0]: ", "l1.max_bytes: "} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate = %v, want %q named", err, want)
		}
	}
}

// events.coordinator: false makes a gateway-only node, which needs a NATS
// server that coordinating nodes share; anything but a boolean is refused
// where it is written.
func TestEventsCoordinator(t *testing.T) {
	const origin = "origin: http://127.0.0.1:8081\n"
	for _, tc := range []struct {
		name, yaml string
		parseErr   string // "" if it parses
		noCoord    bool
		invalid    string // "" if it validates
	}{
		{"default", origin, "", false, ""},
		{"true", origin + "events:\n  coordinator: true\n", "", false, ""},
		{"false with a shared server", origin + "nats:\n  url: nats://127.0.0.1:4222\nevents:\n  coordinator: false\n", "", true, ""},
		{"false on the embedded server", origin + "events:\n  coordinator: false\n", "", true, "events.coordinator: false needs a NATS server shared"},
		{"not a boolean", origin + "events:\n  coordinator: sometimes\n", "x.yaml:3: events.coordinator must be true or false", false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse("x.yaml", []byte(tc.yaml), env())
			if tc.parseErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.parseErr) {
					t.Fatalf("Parse = %v, want %q", err, tc.parseErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if f.Events.NoCoordinator != tc.noCoord {
				t.Errorf("NoCoordinator = %v, want %v", f.Events.NoCoordinator, tc.noCoord)
			}
			err = f.Validate()
			switch {
			case tc.invalid == "" && err != nil:
				t.Errorf("Validate = %v", err)
			case tc.invalid != "" && (err == nil || !strings.Contains(err.Error(), tc.invalid)):
				t.Errorf("Validate = %v, want %q", err, tc.invalid)
			}
		})
	}
}
