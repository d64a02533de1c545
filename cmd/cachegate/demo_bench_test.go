package main

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"
	"time"
)

// BenchmarkDemoEditBurst measures, on the running demo (its own config,
// origin with its 20 ms latency, gateway, embedded NATS and coordinator),
// the share of client requests that waited on the origin during a burst
// of edits, with warming and soft purge each off and on.
//
// One client browses acme's site sequentially: 3,000 requests over its
// profile page (assembled from a shell and two fragments), the listing
// and the five detail pages, Zipf(1.1) in that order of popularity, 70%
// English and 30% German; every 50 requests an editor's change of one of
// the five companies (Zipf(1.1), acme most) is published with wait
// (company.updated: company:<id> and company, so the listing and, for
// acme, the profile page's shell and its detail page). Before the
// measured run every page is fetched once in both locales.
//
// A request waited when its Cache-Status says it was forwarded (fwd=,
// collapsed included) other than a soft-invalidated page served at once
// ("; soft"), or, for the assembled profile page, when one of its
// fragments was not a hit. One iteration is the whole run: use
// -benchtime=1x.
func BenchmarkDemoEditBurst(b *testing.B) {
	const requests, every = 3000, 50
	paths := []string{"/", "/companies", "/companies/acme", "/companies/nordbolt", "/companies/fluxpipe", "/companies/toolhaus", "/companies/sealwise"}
	companies := []string{"acme", "nordbolt", "fluxpipe", "toolhaus", "sealwise"}
	for _, mode := range []struct {
		name       string
		warm, soft bool
	}{
		{"neither", false, false},
		{"warming", true, false},
		{"soft-purge", false, true},
		{"both", true, true},
	} {
		b.Run(mode.name, func(b *testing.B) {
			args := []string{"--traffic=false"}
			if mode.warm {
				args = append(args, "--config", demoConfigWarming(b))
			}
			for range b.N {
				d := startDemo(b, args...)
				for _, p := range paths {
					for _, lang := range []string{"en", "de"} {
						d.get(b, "acme", p, "Accept-Language: "+lang)
					}
				}
				fetched, _ := d.originStats(b)
				r := rand.New(rand.NewPCG(3, 5))
				pages := rand.NewZipf(r, 1.1, 1, uint64(len(paths)-1))
				edits := rand.NewZipf(rand.New(rand.NewPCG(9, 9)), 1.1, 1, uint64(len(companies)-1))
				var waited, home, homeWaited, stale, edited int
				var editTime time.Duration
				begin := time.Now()
				for i := range requests {
					if i > 0 && i%every == 0 {
						t0 := time.Now()
						d.publishEdit(b, companies[edits.Uint64()], mode.soft)
						editTime += time.Since(t0)
						edited++
					}
					path, lang := paths[pages.Uint64()], "en"
					if r.IntN(10) < 3 {
						lang = "de"
					}
					resp := d.get(b, "acme", path, "Accept-Language: "+lang)
					if resp.status != http.StatusOK {
						b.Fatalf("%s: %v", path, resp)
					}
					w := waitedOnOrigin(b, resp)
					if strings.HasSuffix(resp.cacheStatus(), "; soft") || strings.Contains(resp.cacheStatus(), "; soft;") {
						stale++
					}
					if w {
						waited++
					}
					if path == "/" {
						home++
						if w {
							homeWaited++
						}
					}
				}
				elapsed := time.Since(begin)
				total, _ := d.originStats(b)
				b.ReportMetric(float64(waited)/requests, "waited-share")
				b.ReportMetric(float64(homeWaited)/float64(home), "home-waited-share")
				b.ReportMetric(float64(stale)/requests, "soft-stale-share")
				b.ReportMetric(float64(total-fetched), "origin-fetches")
				b.ReportMetric(float64(edited)/elapsed.Seconds(), "edits/s")
				b.Logf("%s: %d of %d requests waited (%.1f%%); home page %d of %d (1 in %s); %d served soft-stale; %d origin fetches; %d edits in %v (%.1f/s, %v publishing)",
					mode.name, waited, requests, 100*float64(waited)/requests, homeWaited, home, oneIn(home, homeWaited),
					stale, total-fetched, edited, elapsed.Round(time.Millisecond), float64(edited)/elapsed.Seconds(), editTime.Round(time.Millisecond))
				d.stop(b)
			}
		})
	}
}

// waitedOnOrigin reports whether the client's request waited on an origin
// fetch: a forward (collapsed included) other than a soft-invalidated
// page served at once, or an assembled page one of whose fragments was
// not a hit.
func waitedOnOrigin(t testing.TB, r reply) bool {
	cs := r.cacheStatus()
	if m := fragmentsRE.FindStringSubmatch(cs); m != nil {
		n, hits := fragments(t, r)
		if hits < n {
			return true
		}
		cs = strings.TrimSuffix(cs, m[0])
	}
	if strings.HasSuffix(cs, "; soft") {
		return false
	}
	return strings.Contains(cs, "fwd=")
}

func oneIn(n, k int) string {
	if k == 0 {
		return "none"
	}
	return fmt.Sprintf("%.0f", float64(n)/float64(k))
}

// publishEdit publishes an editor's change of company on acme's
// marketplace through the admin API, as the demo's own editor does (with
// wait), softly when soft.
func (d *demo) publishEdit(t testing.TB, company string, soft bool) {
	t.Helper()
	body := fmt.Sprintf(`{"tenant":"acme","type":"company.updated","entity":"company","key":%q,"soft":%v}`, company, soft)
	r := send(t, http.MethodPost, d.admin, "", "/api/v1/events?wait=1", strings.NewReader(body),
		"Authorization: Bearer "+d.token, "Content-Type: application/json")
	if r.status != http.StatusOK {
		t.Fatalf("publishing the edit of %s: %v: %s", company, r, r.body)
	}
}
