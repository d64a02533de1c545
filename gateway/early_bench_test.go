package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cachegate/cachegate/gateway"
)

// BenchmarkHotURLAcrossExpiry measures what readers of one hot URL see
// across several of its expiries, with early refresh (beta 1) and without:
// 4 clients each asking every 5 ms for 7 s, an origin that takes 50 ms, a
// max-age of 2 s. It reports the client latency's p50, p99 and maximum and
// how many requests waited on the origin (not a hit). Run it once:
//
//	go test -run '^$' -bench HotURLAcrossExpiry -benchtime 1x ./gateway/
func BenchmarkHotURLAcrossExpiry(b *testing.B) {
	for _, c := range []struct {
		name string
		beta float64
	}{{"early_refresh", 1}, {"off", -1}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				lat, misses := hotURL(b, c.beta)
				slices.Sort(lat)
				q := func(p float64) float64 {
					return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
				}
				b.ReportMetric(q(0.5), "p50-ms")
				b.ReportMetric(q(0.99), "p99-ms")
				b.ReportMetric(q(1), "max-ms")
				b.ReportMetric(float64(misses), "misses")
				b.ReportMetric(float64(len(lat)), "requests")
			}
		})
	}
}

func hotURL(b *testing.B, beta float64) ([]time.Duration, int) {
	o := startOrigin(b, func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond)
		w.Header().Set("Cache-Control", "max-age=2")
		io.WriteString(w, strings.Repeat("x", 2048))
	})
	g := startGateway(b, o, func(cfg *gateway.Config) { cfg.EarlyRefreshBeta = beta })
	g.get(b, "/hot")
	var (
		mu     sync.Mutex
		lat    []time.Duration
		misses int
		wg     sync.WaitGroup
	)
	end := time.Now().Add(7 * time.Second)
	for range 4 {
		wg.Go(func() {
			tick := time.NewTicker(5 * time.Millisecond)
			defer tick.Stop()
			for now := range tick.C {
				if now.After(end) {
					return
				}
				start := time.Now()
				res := g.get(b, "/hot")
				d := time.Since(start)
				mu.Lock()
				lat = append(lat, d)
				if !strings.Contains(res.cacheStatus(), "hit") {
					misses++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(lat) == 0 {
		b.Fatal(fmt.Errorf("no request measured"))
	}
	return lat, misses
}
