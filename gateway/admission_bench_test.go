package gateway_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/gateway/memstore"
	"github.com/cachegate/cachegate/gateway/redisstore"
	"github.com/cachegate/cachegate/internal/testenv"
	"github.com/cachegate/cachegate/stats"
)

// BenchmarkL2AdmissionZipf measures what l2.admission: frequent saves: a
// Zipf(1.1) workload of 200,000 requests over 100,000 URLs of 2 KiB, with
// an L1 of 4 MiB (so L2 serves what L1 evicted), once per mode, each on a
// fresh real Redis. It reports Redis' used_memory above an empty server's,
// the keys L2 holds, and the share of requests answered without the origin.
// One iteration is the whole workload: run with -benchtime=1x.
func BenchmarkL2AdmissionZipf(b *testing.B) {
	const (
		urls     = 100000
		requests = 200000
	)
	body := strings.Repeat("x", 2048)
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "max-age=3600")
		w.Header().Set("Surrogate-Key", "page")
		w.Write([]byte(body))
	}))
	b.Cleanup(origin.Close)
	u, _ := url.Parse(origin.URL)
	for _, mode := range []string{gateway.AdmitAlways, gateway.AdmitFrequent} {
		b.Run(mode, func(b *testing.B) {
			for range b.N {
				r := testenv.StartRedis(b)
				rc := redisstore.Config{Addrs: []string{r.Addr}}
				rdb, err := redisstore.NewClient(rc)
				if err != nil {
					b.Fatal(err)
				}
				base := usedMemory(b, rdb.Info(context.Background(), "memory").Val())
				l2, err := redisstore.New(rdb, rc, nil)
				if err != nil {
					b.Fatal(err)
				}
				l1, err := memstore.New(memstore.Config{MaxBytes: 4 << 20})
				if err != nil {
					b.Fatal(err)
				}
				st := stats.New()
				g, err := gateway.New(gateway.Config{Origin: u, L1: l1, L2: l2, FillLock: l2, L2Admission: mode, Stats: st})
				if err != nil {
					b.Fatal(err)
				}
				h := g.Handler()
				z := rand.NewZipf(rand.New(rand.NewPCG(7, 7)), 1.1, 1, urls-1)
				start := time.Now()
				for range requests {
					req := httptest.NewRequest(http.MethodGet, "/p/"+strconv.FormatUint(z.Uint64(), 10), nil)
					req.Host = "acme"
					h.ServeHTTP(httptest.NewRecorder(), req)
				}
				elapsed := time.Since(start)
				g.Close()
				used := usedMemory(b, rdb.Info(context.Background(), "memory").Val()) - base
				keys := rdb.DBSize(context.Background()).Val()
				snap := st.Snapshot()
				b.ReportMetric(float64(used)/(1<<20), "L2-MiB")
				b.ReportMetric(float64(keys), "L2-keys")
				b.ReportMetric(snap.HitRatio, "hit-ratio")
				b.ReportMetric(float64(snap.Layers["l2"].Hits)/requests, "l2-hit-share")
				b.ReportMetric(float64(elapsed.Nanoseconds())/requests, "ns/req")
				rdb.Close()
			}
		})
	}
}

func usedMemory(b *testing.B, info string) int64 {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return n
		}
	}
	b.Fatal(fmt.Sprintf("no used_memory in INFO: %q", info))
	return 0
}
