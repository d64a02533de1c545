package gateway_test

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/gateway/memstore"
)

// BenchmarkWarmEdits measures the share of client requests that waited on
// the origin during a burst of edits, with warming off and on: 20,000
// sequential requests, half to 5 listing pages (tag "listing"; /list/0 is
// the home page), half to 100 item pages (tag item:<i>), both Zipf(1.1);
// every 100 requests an edit invalidates one item (drawn from the same
// Zipf) and the listings. The origin takes 5 ms per response. Warming
// runs off, with its default rates (10 per second per tenant) and with
// rates that never bind. One iteration is the whole run: use
// -benchtime=1x.
func BenchmarkWarmEdits(b *testing.B) {
	const requests, every = 20000, 100
	var fetches atomic.Int64
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		time.Sleep(5 * time.Millisecond) // the origin's render time
		tag := "listing"
		if id, ok := strings.CutPrefix(r.URL.Path, "/item/"); ok {
			tag = "item:" + id
		}
		w.Header().Set("Surrogate-Key", tag)
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Write([]byte("page"))
	}))
	b.Cleanup(origin.Close)
	u, _ := url.Parse(origin.URL)
	for _, mode := range []struct {
		name string
		warm gateway.WarmConfig
	}{
		{"warm-off", gateway.WarmConfig{}},
		{"warm-defaults", gateway.WarmConfig{Enabled: true}},
		{"warm-rate-1000", gateway.WarmConfig{Enabled: true, Rate: 1000, OriginRate: 1000, Burst: 100}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			for range b.N {
				fetches.Store(0)
				l1, err := memstore.New(memstore.Config{MaxBytes: 64 << 20})
				if err != nil {
					b.Fatal(err)
				}
				g, err := gateway.New(gateway.Config{Origin: u, L1: l1, Warm: mode.warm})
				if err != nil {
					b.Fatal(err)
				}
				h := g.Handler()
				r := rand.New(rand.NewPCG(3, 5))
				items := rand.NewZipf(r, 1.1, 1, 99)
				lists := rand.NewZipf(r, 1.1, 1, 4)
				edits := rand.NewZipf(rand.New(rand.NewPCG(9, 9)), 1.1, 1, 99)
				var waited, home, homeWaited int
				for i := range requests {
					if i > 0 && i%every == 0 {
						tags := []string{"listing", "item:" + strconv.FormatUint(edits.Uint64(), 10)}
						if err := g.InvalidateTags(context.Background(), "acme", tags...); err != nil {
							b.Fatal(err)
						}
					}
					path := "/item/" + strconv.FormatUint(items.Uint64(), 10)
					if r.IntN(2) == 0 {
						path = "/list/" + strconv.FormatUint(lists.Uint64(), 10)
					}
					req := httptest.NewRequest(http.MethodGet, path, nil)
					req.Host = "acme"
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					w := strings.Contains(rec.Header().Get("Cache-Status"), "fwd=")
					if w {
						waited++
					}
					if path == "/list/0" {
						home++
						if w {
							homeWaited++
						}
					}
				}
				g.Close()
				b.ReportMetric(float64(waited)/requests, "waited-share")
				b.ReportMetric(float64(homeWaited)/float64(home), "home-waited-share")
				b.ReportMetric(float64(fetches.Load()), "origin-fetches")
				s := g.WarmStats()
				b.ReportMetric(float64(s.Fetched), "warm-fetched")
				b.ReportMetric(float64(s.SkippedRate), "warm-skipped-rate")
			}
		})
	}
}
