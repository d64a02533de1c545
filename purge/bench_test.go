package purge_test

import (
	"fmt"
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/cachegate/cachegate/invalidation"
)

// BenchmarkTenThousandTagsInOneSecond: 1,000 purges of 10 tags each,
// paced evenly over one second, with the default 300 ms window, against
// the Cloudflare fake on loopback. It reports the API calls per 10,000
// tags and the latency from Enqueue to the call reaching the fake.
func BenchmarkTenThousandTagsInOneSecond(b *testing.B) {
	b.Run("audit=off", func(b *testing.B) { benchTenThousand(b, false) })
	b.Run("audit=on", func(b *testing.B) { benchTenThousand(b, true) })
}

func benchTenThousand(b *testing.B, withAudit bool) {
	e := newEnv(b)
	cfg := e.fastCfg()
	cfg.Window = 300 * time.Millisecond
	if !withAudit {
		cfg.Auditor = nil
	}
	e.start(e.queue, cfg)
	const reqs, per = 1000, 10
	var lat []time.Duration
	calls := 0
	b.ResetTimer()
	for n := range b.N {
		before := len(e.cf.Calls())
		enq := make([]time.Time, reqs)
		ticker := time.NewTicker(time.Second / reqs)
		work := make(chan int)
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				for i := range work {
					r := invalidation.Request{ID: fmt.Sprintf("bench-%d-%d", n, i), Tenant: "acme"}
					for k := range per {
						r.Tags = append(r.Tags, fmt.Sprintf("n%d:%d", n, i*per+k))
					}
					enq[i] = time.Now()
					if err := e.queue.Enqueue(b.Context(), r); err != nil {
						b.Error(err)
					}
				}
			})
		}
		for i := range reqs {
			<-ticker.C
			work <- i
		}
		close(work)
		wg.Wait()
		ticker.Stop()
		e.queueEmpty(30 * time.Second)
		got := e.cf.Calls()[before:]
		calls += len(got)
		sentAt := map[string]time.Time{}
		for _, c := range got {
			for _, tag := range c.Items {
				if _, ok := sentAt[tag]; !ok {
					sentAt[tag] = c.Time
				}
			}
		}
		for i := range reqs {
			// A purge is sent when the call carrying its last tag is.
			var last time.Time
			for k := range per {
				t, ok := sentAt[fmt.Sprintf("acme:n%d:%d", n, i*per+k)]
				if !ok {
					b.Fatalf("tag %d of purge %d never sent", k, i)
				}
				if t.After(last) {
					last = t
				}
			}
			lat = append(lat, last.Sub(enq[i]))
		}
	}
	b.StopTimer()
	slices.Sort(lat)
	q := func(p float64) float64 {
		return float64(lat[int(math.Ceil(p*float64(len(lat))))-1]) / float64(time.Millisecond)
	}
	b.ReportMetric(float64(calls)/float64(b.N), "calls/10k-tags")
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(1), "max-ms")
}
