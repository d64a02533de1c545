package chaos_test

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// phaseResult is one line of the report: what the checker saw while one
// fault was injected and recovered from.
type phaseResult struct {
	name     string
	faultFor time.Duration

	reads, stale int
	// errorAnswers are answers other than 200 with a version (5xx mostly),
	// to reads and publishes; noAnswers are requests that got none
	// (connection refused by a killed instance, a timeout).
	errorAnswers, noAnswers  int
	edits, accepted, refused int
	lost                     int
	cdnMissing, cdnTwice     int
	latencies                []time.Duration

	// evidence: the first few cases of each problem, for the log.
	staleCases, lostCases, cdnCases, publishCases []string
}

// maxCases bounds the evidence kept per problem and phase.
const maxCases = 8

func note(cases *[]string, format string, a ...any) {
	if len(*cases) < maxCases {
		*cases = append(*cases, fmt.Sprintf(format, a...))
	}
}

// tally counts reads, stale reads and edits into their phases. A read
// belongs to the phase in which it began, an edit to the phase in which
// it was made.
func tally(results []*phaseResult, edits []edit, reads []read, pages []string) {
	for _, e := range edits {
		if e.version == 0 {
			continue // the page was created but its edit never started
		}
		res := results[e.phase]
		res.edits++
		switch e.outcome {
		case applied, visible: // visible: readers see it, L2 catches up
			res.accepted++
			res.latencies = append(res.latencies, e.returned.Sub(e.sent))
		case durable:
			res.accepted++
		case refused:
			res.refused++
		default:
			if e.status == 0 {
				res.noAnswers++
			} else {
				res.errorAnswers++
			}
			note(&res.publishCases, "page %s: publish answered %d %q", pages[e.page], e.status, e.detail)
		}
	}
	for _, r := range reads {
		res := results[r.phase]
		res.reads++
		if !r.ok() {
			if r.status == 0 {
				res.noAnswers++
			} else {
				res.errorAnswers++
			}
			continue
		}
		if e := edits[r.page]; r.staleAgainst(e) {
			res.stale++
			note(&res.staleCases, "instance %d, page %s: version %d, %v after the wait-publish of version %d returned 200; Cache-Status %q",
				r.inst, pages[r.page], r.version, r.start.Sub(e.returned).Round(time.Millisecond), e.version, r.cache)
		}
	}
}

// percentile is the nearest-rank p-th percentile (0 < p <= 1) of ds; 0 for
// none.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(float64(len(s))*p+0.999999) - 1
	return s[max(0, min(rank, len(s)-1))]
}

// failed reports whether the phase breaks the invalidation guarantee.
func (r *phaseResult) failed() bool {
	return r.stale > 0 || r.lost > 0 || r.cdnMissing > 0 || r.cdnTwice > 0
}

// table renders the results as Markdown, for the log and BENCHMARKS.md.
func table(form string, results []*phaseResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Chaos suite, %s form: 3 `cachegate serve` instances, standalone NATS (JetStream), Redis, Cloudflare fake.\n\n", form)
	b.WriteString("| fault | for | reads | stale reads | edits (accepted) | events lost | client errors: error answers / no answer | refused publishes | CDN tags missing | CDN tags twice | publish→applied p50 | p99 |\n")
	b.WriteString("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		fmt.Fprintf(&b, "| %s | %v | %d | %d | %d (%d) | %d | %d / %d | %d | %d | %d | %v | %v |\n",
			r.name, r.faultFor, r.reads, r.stale, r.edits, r.accepted, r.lost,
			r.errorAnswers, r.noAnswers, r.refused, r.cdnMissing, r.cdnTwice,
			percentile(r.latencies, 0.5).Round(time.Millisecond), percentile(r.latencies, 0.99).Round(time.Millisecond))
	}
	return b.String()
}
