package policy_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/demo/origin"
	"github.com/cachegate/cachegate/internal/nodetest"
)

// demoConfig is the demo's policy file, as shipped.
func demoConfig(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("../../config/testdata/demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// withCloudflare configures the Cloudflare CDN in a copy of the demo file
// (purges go to an address nothing listens on: these tests purge nothing).
func withCloudflare(t testing.TB, yaml string) string {
	t.Helper()
	const none = "  provider: none   # cloudflare | fastly | akamai | varnish | none\n"
	if !strings.Contains(yaml, none) {
		t.Fatal("demo.yaml changed: no cdn.provider line to replace")
	}
	return strings.Replace(yaml, none, `  provider: cloudflare
  cloudflare:
    api_token: cf-test-token-0123456789
    base_url: http://127.0.0.1:9
    zone: 0123456789abcdef0123456789abcdef
`, 1)
}

// parse parses a config as serve --config does, the admin token from a
// fake environment.
func parse(t testing.TB, name, yaml string) *config.File {
	t.Helper()
	f, err := config.Parse(name, []byte(yaml), func(k string) (string, bool) {
		if k == "CACHEGATE_ADMIN_TOKEN" {
			return nodetest.Token, true
		}
		return "", false
	})
	if err != nil {
		t.Fatalf("%s rejected:\n%v", name, err)
	}
	return f
}

// demoOrigin serves the demo marketplace on 127.0.0.1, without latency,
// its profile page assembled from fragments as in the demo.
func demoOrigin(t testing.TB) (*origin.Origin, string) {
	t.Helper()
	o, err := origin.New(origin.Config{Latency: -1, ESI: true}) // as the demo runs it
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(o.Handler())
	t.Cleanup(srv.Close)
	return o, srv.URL
}

var client = &http.Client{
	Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64},
	CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	},
}

type result struct {
	status int
	header http.Header
	body   string
}

func (r result) cacheStatus() string { return r.header.Get("Cache-Status") }

// get sends GET path to the node with Host host and the header lines
// given ("Name: value").
func get(t testing.TB, base, host, path string, lines ...string) result {
	t.Helper()
	r, err := do(base, http.MethodGet, host, path, lines...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func do(base, method, host, path string, lines ...string) (result, error) {
	req, err := http.NewRequest(method, base+path, nil)
	if err != nil {
		return result{}, err
	}
	req.Host = host
	for _, l := range lines {
		k, v, _ := strings.Cut(l, ":")
		req.Header.Add(k, strings.TrimSpace(v))
	}
	resp, err := client.Do(req)
	if err != nil {
		return result{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return result{}, err
	}
	return result{resp.StatusCode, resp.Header, string(body)}, nil
}

// wantHeaders checks each named field exactly (its values joined by ", ");
// "-" means absent.
func wantHeaders(t testing.TB, what string, r result, want map[string]string) {
	t.Helper()
	for k, w := range want {
		got := strings.Join(r.header.Values(k), ", ")
		if w == "-" && got != "" || w != "-" && got != w {
			t.Errorf("%s: %s = %q, want %q", what, k, got, w)
		}
	}
}
