package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testenv"
)

// demoConfigWarming writes the demo's config with warming after
// invalidations on, and returns its path.
func demoConfigWarming(t testing.TB) string {
	t.Helper()
	demoYAML, err := os.ReadFile("demo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	on := strings.Replace(string(demoYAML), "warm:\n  enabled: false", "warm:\n  enabled: true", 1)
	if on == string(demoYAML) {
		t.Fatal("demo.yaml has no warm: enabled: false to turn on")
	}
	cfg := filepath.Join(t.TempDir(), "demo.yaml")
	if err := os.WriteFile(cfg, []byte(on), 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestWarmCommand: cachegate warm requests every URL of a file or a
// sitemap through the admin API, shows progress, and the next client
// request of each is a hit; a URL of another tenant is refused.
func TestWarmCommand(t *testing.T) {
	t.Parallel()
	d := startDemo(t, "--traffic=false", "--config", demoConfigWarming(t))
	op := func(t *testing.T, args ...string) (int, string, string) {
		t.Helper()
		return runCmd(t, append(args, "--admin", "http://"+d.admin, "--token", d.token)...)
	}
	type result struct {
		Total, Done, Fetched, Fresh, Skipped, Failed int
	}
	check := func(t *testing.T, code int, stdout, stderr string, want result) {
		t.Helper()
		var got result
		if err := json.Unmarshal([]byte(stdout), &got); code != 0 || err != nil || got != want {
			t.Fatalf("warm: exit %d, %+v (%v), want %+v\nstdout %s\nstderr %s", code, got, err, want, stdout, stderr)
		}
		if line := fmt.Sprintf("warm: %d/%d done", want.Total, want.Total); !strings.Contains(stderr, line) {
			t.Errorf("stderr %q does not show the progress %q", stderr, line)
		}
	}

	t.Run("file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "urls.txt")
		list := "# after the deploy\nhttp://" + d.host("acme") + "/companies\n\n/companies/acme\n/account\n"
		if err := os.WriteFile(file, []byte(list), 0o600); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := op(t, "warm", "--tenant", "acme", "--urls", file, "--host", d.host("acme"))
		// /account is a private route: skipped, never requested.
		check(t, code, stdout, stderr, result{Total: 3, Done: 3, Fetched: 2, Skipped: 1})
		for _, p := range []string{"/companies", "/companies/acme"} {
			if r := d.get(t, "acme", p); !r.isHit() {
				t.Errorf("acme %s after warm: %v, want a hit", p, r)
			}
		}
	})

	t.Run("sitemap", func(t *testing.T) {
		var site *httptest.Server
		site = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/xml")
			switch r.URL.Path {
			case "/sitemap.xml":
				fmt.Fprintf(w, `<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><sitemap><loc>%s/pages.xml</loc></sitemap></sitemapindex>`, site.URL)
			case "/pages.xml":
				fmt.Fprintf(w, `<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>http://%[1]s/companies</loc></url><url><loc> http://%[1]s/companies/acme </loc></url></urlset>`, d.host("berg"))
			default:
				http.NotFound(w, r)
			}
		}))
		t.Cleanup(site.Close)
		code, stdout, stderr := op(t, "warm", "--tenant", "berg", "--sitemap", site.URL+"/sitemap.xml")
		check(t, code, stdout, stderr, result{Total: 2, Done: 2, Fetched: 2})
		if r := d.get(t, "berg", "/companies"); !r.isHit() {
			t.Errorf("berg /companies after warm: %v, want a hit", r)
		}
		if code, _, stderr := op(t, "warm", "--tenant", "berg", "--sitemap", site.URL+"/missing.xml"); code == 0 || !strings.Contains(stderr, "404") {
			t.Errorf("a missing sitemap: exit %d, %s", code, stderr)
		}
	})

	t.Run("another tenant's URL is refused", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "urls.txt")
		if err := os.WriteFile(file, []byte("http://"+d.host("berg")+"/\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		code, _, stderr := op(t, "warm", "--tenant", "acme", "--urls", file)
		if code == 0 || !strings.Contains(stderr, `belongs to tenant "berg"`) {
			t.Errorf("exit %d, stderr %s", code, stderr)
		}
	})

	t.Run("an event's tags are warmed before any reader asks", func(t *testing.T) {
		// Origin stats count per path across tenants: use a path only
		// this subtest requests.
		d.warm(t, "acme", "/companies/berg")
		_, before := d.originStats(t)
		fetched := warmFetched(t, d)
		code, stdout, stderr := op(t, "publish", "--tenant", "acme", "--tag", "company:berg", "--wait")
		if code != 0 {
			t.Fatalf("publish: exit %d: %s%s", code, stdout, stderr)
		}
		// The refetch is done once the gateway counts it.
		testenv.WaitFor(t, 10*time.Second, func() error {
			if n := warmFetched(t, d); n != fetched+1 {
				return fmt.Errorf("%d refetches counted, want %d", n, fetched+1)
			}
			return nil
		})
		if _, after := d.originStats(t); after["/companies/berg"] != before["/companies/berg"]+1 {
			t.Errorf("origin saw /companies/berg %d times, want %d (the fill and the refetch)", after["/companies/berg"], before["/companies/berg"]+1)
		}
		if r := d.get(t, "acme", "/companies/berg"); !r.isHit() {
			t.Errorf("acme /companies/berg after the event: %v, want a hit (warmed)", r)
		}
	})

	t.Run("usage", func(t *testing.T) {
		if code, _, _ := op(t, "warm", "--tenant", "acme"); code != 2 {
			t.Errorf("neither --urls nor --sitemap: exit %d, want 2", code)
		}
	})
}

// warmFetched reads cachegate_warm_total{outcome="fetched"} from /metrics.
func warmFetched(t *testing.T, d *demo) int {
	t.Helper()
	r := get(t, d.admin, "", "/metrics", "Authorization: Bearer "+d.token)
	const series = `cachegate_warm_total{outcome="fetched"} `
	i := strings.Index(r.body, series)
	if i < 0 {
		t.Fatalf("/metrics has no %s", series)
	}
	v, _, _ := strings.Cut(r.body[i+len(series):], "\n")
	n, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("%s%q: %v", series, v, err)
	}
	return n
}
