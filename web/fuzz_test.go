package web

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/invalidation"
	"github.com/cachegate/cachegate/stats"
)

// FuzzPurgeBody: whatever the body, POST /api/v1/purge answers 202 for a
// valid request and 400 or 413 with a JSON error otherwise; never a 5xx.
func FuzzPurgeBody(f *testing.F) {
	for _, seed := range []string{
		`{"tenant":"acme","tags":["company:acme"]}`,
		`{"tenant":"acme","urls":["/a?b=1"],"prefixes":["/x"],"everything":false}`,
		`{"tenant":"acme","everything":true}`,
		`{"tenant":"acme","tag":"x"}`,
		`{"tenant":"ACME","tags":["a b"]}`,
		`{"tenant":"acme","tags":["x"]}{}`,
		`{"id":"../x","tenant":"acme","tags":["x"]}`,
		`null`, `[]`, `"x"`, ``, `{`,
	} {
		f.Add(seed)
	}
	e := newEnv(f, func(c *Config) { c.MaxBodyBytes, c.Logger = 4096, nil })
	h := e.srv.Handler()
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest("POST", "/api/v1/purge", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case http.StatusAccepted:
			var r invalidation.Request
			if err := json.Unmarshal([]byte(body), &r); err != nil || r.Validate() != nil {
				t.Fatalf("202 for %q", body)
			}
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			var eb errBody
			if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Error == "" {
				t.Fatalf("%d without a JSON error for %q: %s", rec.Code, body, rec.Body)
			}
		default:
			t.Fatalf("status %d for %q: %s", rec.Code, body, rec.Body)
		}
	})
}

func busyRecorder(tenants, routes int) *stats.Recorder {
	rec := stats.New()
	for i := 0; i < tenants; i++ {
		for j := 0; j < 3; j++ {
			rec.Begin(fmt.Sprintf("tenant-%d", i), fmt.Sprintf("r%d", (i*3+j)%routes), fmt.Sprintf("/r%d/x", (i*3+j)%routes)).Hit(stats.L1)
		}
	}
	return rec
}

// BenchmarkTick is the sampler's work per live tick with full tables:
// one snapshot, the live figures, and a history bucket.
func BenchmarkTick(b *testing.B) {
	rec := busyRecorder(stats.DefaultMaxTenants, stats.DefaultMaxRoutes)
	h := newHistory(720, DefaultMaxSeries)
	t0 := time.Now()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		snap := rec.Snapshot()
		snap.Time = t0.Add(time.Duration(i) * DefaultSampleInterval)
		h.observe(snap, DefaultSampleInterval)
		_ = h.live(snap)
	}
}

// BenchmarkHistoryJSON is the cost of GET /api/v1/history with a full
// hour of buckets.
func BenchmarkHistoryJSON(b *testing.B) {
	rec := busyRecorder(stats.DefaultMaxTenants, stats.DefaultMaxRoutes)
	h := newHistory(720, DefaultMaxSeries)
	t0 := time.Now()
	for i := 0; i < 721; i++ {
		rec.Begin(fmt.Sprintf("tenant-%d", i%50), "default", "/").Hit(stats.L1)
		snap := rec.Snapshot()
		snap.Time = t0.Add(time.Duration(i) * DefaultSampleInterval)
		h.observe(snap, DefaultSampleInterval)
	}
	b.ReportAllocs()
	var n int
	for b.Loop() {
		out, _ := json.Marshal(HistoryResponse{Samples: h.samples()})
		n = len(out)
	}
	b.ReportMetric(float64(n), "bytes/response")
}
