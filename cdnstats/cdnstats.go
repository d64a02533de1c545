// Package cdnstats reads the CDN's own cache hit ratio from the providers'
// analytics APIs, for the dashboard's CDN card and GET /api/v1/cdn/stats:
// Cloudflare's GraphQL Analytics API (httpRequests1hGroups: requests and
// cachedRequests of the zone), Fastly's real-time analytics (the last
// 120 seconds of the service: hits, misses, requests) and Varnish's
// counters as varnishstat -j prints them (MAIN.cache_hit, MAIN.cache_miss),
// served over HTTP by each node.
//
// The numbers are the providers' and mean what each provider means: a
// Cloudflare zone's figures cover every host of the zone, not only the
// traffic cachegate serves. Answers are cached for CacheFor, since the
// analytics APIs are rate limited and the dashboard asks every few seconds.
package cdnstats

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// Defaults.
const (
	DefaultCacheFor = 30 * time.Second
	DefaultTimeout  = 10 * time.Second
	// maxBody bounds an analytics answer read into memory.
	maxBody = 4 << 20
)

// Sample is one provider's figures over a window.
type Sample struct {
	Provider string `json:"provider"`
	// Requests the provider served in the window; Hits of them from its
	// cache; HitRatio is Hits over the lookups the provider counts (Fastly
	// and Varnish: hits and misses, passes excluded; Cloudflare: cached
	// over all requests).
	Requests uint64  `json:"requests"`
	Hits     uint64  `json:"hits"`
	HitRatio float64 `json:"hit_ratio"`
	// WindowSeconds is what the figures cover (Varnish: since the node
	// started).
	WindowSeconds float64 `json:"window_seconds"`
	// Error says why the figures could not be read; the others are zero.
	Error string `json:"error,omitempty"`
	// Time is when the figures were read.
	Time time.Time `json:"time"`
}

// Source is one provider's analytics.
type Source interface {
	Name() string
	Read(ctx context.Context) (Sample, error)
}

// Reader reads every source, caching the answers for CacheFor.
type Reader struct {
	sources  []Source
	cacheFor time.Duration

	mu      sync.Mutex
	last    []Sample
	readAt  time.Time
	reading chan struct{} // closed when the read in progress ends
}

// NewReader returns a Reader of sources; cacheFor 0 = DefaultCacheFor.
func NewReader(cacheFor time.Duration, sources ...Source) *Reader {
	if cacheFor <= 0 {
		cacheFor = DefaultCacheFor
	}
	return &Reader{sources: sources, cacheFor: cacheFor}
}

// Configured reports whether any provider's analytics are set up.
func (r *Reader) Configured() bool { return r != nil && len(r.sources) > 0 }

// Samples returns each source's latest figures, reading them again when
// older than CacheFor; a source that fails has its Error set. Concurrent
// callers share one read.
func (r *Reader) Samples(ctx context.Context) []Sample {
	r.mu.Lock()
	if r.last != nil && time.Since(r.readAt) < r.cacheFor {
		defer r.mu.Unlock()
		return append([]Sample(nil), r.last...)
	}
	if wait := r.reading; wait != nil {
		r.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		return append([]Sample(nil), r.last...)
	}
	done := make(chan struct{})
	r.reading = done
	r.mu.Unlock()

	out := make([]Sample, len(r.sources))
	var wg sync.WaitGroup
	for i, src := range r.sources {
		wg.Go(func() {
			cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), DefaultTimeout)
			defer cancel()
			s, err := src.Read(cctx)
			if err != nil {
				s = Sample{Provider: src.Name(), Error: err.Error()}
			}
			s.Provider, s.Time = src.Name(), time.Now()
			out[i] = s
		})
	}
	wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.last, r.readAt, r.reading = out, time.Now(), nil
	close(done)
	return append([]Sample(nil), out...)
}

func ratio(n, d uint64) float64 {
	if d == 0 {
		return 0
	}
	return float64(n) / float64(d)
}

// do sends req and returns the body of a 2xx answer; other
// answers are errors carrying the status and the start of the body.
func do(client *http.Client, req *http.Request) ([]byte, error) {
	if client == nil {
		client = &http.Client{Timeout: DefaultTimeout}
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		snippet := string(b)
		if len(snippet) > 200 {
			snippet = snippet[:200]
		}
		return nil, fmt.Errorf("HTTP %d: %s", resp.StatusCode, snippet)
	}
	return b, nil
}

var errNoData = errors.New("the answer holds no figures")
