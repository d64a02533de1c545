package cdnstats_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/cdnstats"
	"github.com/cachegate/cachegate/internal/testenv"
	"github.com/cachegate/cachegate/purge/cloudflare/cloudflarefake"
	"github.com/cachegate/cachegate/purge/fastly/fastlyfake"
)

const zone = "0123456789abcdef0123456789abcdef"

func TestCloudflare(t *testing.T) {
	fake := cloudflarefake.New("cf-token-0123456789")
	t.Cleanup(fake.Close)
	fake.SetAnalytics(zone, cloudflarefake.ZoneTotals{Requests: 200, CachedRequests: 150})
	now := time.Date(2026, 1, 2, 10, 30, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	for _, tt := range []struct {
		name      string
		src       cdnstats.Cloudflare
		requests  uint64
		ratio     float64
		wantError string
	}{
		{"figures", cdnstats.Cloudflare{BaseURL: fake.URL(), APIToken: "cf-token-0123456789", Zone: zone, Now: clock}, 200, 0.75, ""},
		{"wrong token", cdnstats.Cloudflare{BaseURL: fake.URL(), APIToken: "nope", Zone: zone, Now: clock}, 0, 0, "not authorized"},
		{"unknown zone", cdnstats.Cloudflare{BaseURL: fake.URL(), APIToken: "cf-token-0123456789", Zone: "ffff", Now: clock}, 0, 0, "no figures"},
	} {
		s, err := tt.src.Read(context.Background())
		if tt.wantError != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantError) {
				t.Errorf("%s: err %v, want %q", tt.name, err, tt.wantError)
			}
			continue
		}
		// From 09:00, the start of the previous whole hour.
		if err != nil || s.Requests != tt.requests || s.HitRatio != tt.ratio || s.WindowSeconds != 90*60 {
			t.Errorf("%s: %+v %v", tt.name, s, err)
		}
	}
}

func TestFastly(t *testing.T) {
	fake := fastlyfake.New("fastly-key")
	t.Cleanup(fake.Close)
	fake.SetRealtime("svc1", []fastlyfake.Second{{Requests: 10, Hits: 6, Miss: 2, Pass: 2}, {Requests: 10, Hits: 9, Miss: 1}})
	s, err := (&cdnstats.Fastly{BaseURL: fake.URL(), APIToken: "fastly-key", ServiceID: "svc1"}).Read(context.Background())
	if err != nil || s.Requests != 20 || s.Hits != 15 || s.HitRatio != 15.0/18 || s.WindowSeconds != 2 {
		t.Errorf("figures: %+v %v", s, err)
	}
	if _, err := (&cdnstats.Fastly{BaseURL: fake.URL(), APIToken: "wrong", ServiceID: "svc1"}).Read(context.Background()); err == nil || !strings.Contains(err.Error(), "HTTP 401") {
		t.Errorf("wrong key: %v", err)
	}
	if _, err := (&cdnstats.Fastly{BaseURL: fake.URL(), APIToken: "fastly-key", ServiceID: "nope"}).Read(context.Background()); err == nil || !strings.Contains(err.Error(), "HTTP 404") {
		t.Errorf("unknown service: %v", err)
	}
}

// TestVarnish reads a real Varnish's counters through varnishstat -j.
func TestVarnish(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Cache-Control", "max-age=60")
		io.WriteString(w, "page")
	}))
	t.Cleanup(origin.Close)
	v := testenv.StartVarnish(t, origin.Listener.Addr().String(), filepath.Join("..", "deploy", "varnish", "cachegate.vcl"))
	bin := testenv.Binary(t, "varnishstat", "varnish")
	stats := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		out, err := exec.CommandContext(r.Context(), bin, "-j", "-n", v.Dir).Output()
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Write(out)
	}))
	t.Cleanup(stats.Close)
	// A miss, then two hits. StartVarnish's readiness probe was served
	// too, a miss of its own: the hits are exact, the misses at least one.
	for range 3 {
		resp, err := http.Get(v.URL + "/cdnstats-page")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	src := &cdnstats.Varnish{StatsURLs: []string{stats.URL}}
	testenv.WaitFor(t, 10*time.Second, func() error {
		// A worker going idle adds its counters to its pool's, and the
		// pool's reach the global ones only when no earlier push is under
		// way: counters of a worker that went idle during a push wait for
		// the next job. A POST is passed (neither a hit nor a miss), so it
		// moves them on without changing what is asserted.
		if resp, err := http.Post(v.URL+"/cdnstats-flush", "text/plain", nil); err == nil {
			resp.Body.Close()
		}
		s, err := src.Read(context.Background())
		if err != nil || s.Hits != 2 || s.Requests < 3 || s.HitRatio <= 0 || s.HitRatio > 2.0/3 || s.WindowSeconds <= 0 {
			return fmt.Errorf("varnish figures %+v %v", s, err)
		}
		return nil
	})
}

// countingSource counts its reads.
type countingSource struct{ n atomic.Int32 }

func (c *countingSource) Name() string { return "counting" }
func (c *countingSource) Read(context.Context) (cdnstats.Sample, error) {
	if c.n.Add(1) == 2 {
		return cdnstats.Sample{}, fmt.Errorf("down")
	}
	return cdnstats.Sample{Requests: 1}, nil
}

func TestReaderCachesAndReportsErrors(t *testing.T) {
	src := &countingSource{}
	r := cdnstats.NewReader(time.Hour, src)
	for range 3 {
		if s := r.Samples(context.Background()); len(s) != 1 || s[0].Requests != 1 || s[0].Provider != "counting" {
			t.Fatalf("samples %+v", s)
		}
	}
	if src.n.Load() != 1 {
		t.Errorf("%d reads within the cache time, want 1", src.n.Load())
	}
	r = cdnstats.NewReader(time.Nanosecond, src)
	if s := r.Samples(context.Background()); s[0].Error != "down" {
		t.Errorf("a failing source: %+v", s)
	}
	if (*cdnstats.Reader)(nil).Configured() || cdnstats.NewReader(0).Configured() || !r.Configured() {
		t.Error("Configured")
	}
}
