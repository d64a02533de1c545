package chaos_test

import (
	"testing"
	"time"
)

// The checker's own rules, on synthetic histories: a checker that reports
// false stale reads, or misses true ones, would make the suite worthless.

func TestStaleAgainst(t *testing.T) {
	t0 := time.Now()
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	applied200 := edit{page: 1, version: 2, outcome: applied, sent: ms(0), returned: ms(100)}
	tests := []struct {
		name string
		r    read
		e    edit
		want bool
	}{
		{"began after the 200, older version", read{start: ms(101), page: 1, status: 200, version: 1}, applied200, true},
		{"began after the 200, same version", read{start: ms(101), page: 1, status: 200, version: 2}, applied200, false},
		{"began after the 200, newer version", read{start: ms(101), page: 1, status: 200, version: 3}, applied200, false},
		{"began exactly at the return", read{start: ms(100), page: 1, status: 200, version: 1}, applied200, false},
		{"began before the return, answered after", read{start: ms(99), page: 1, status: 200, version: 1}, applied200, false},
		{"began before the publish", read{start: ms(-5), page: 1, status: 200, version: 0}, applied200, false},
		{"another page", read{start: ms(200), page: 2, status: 200, version: 0}, applied200, false},
		{"a 5xx is an error, not stale", read{start: ms(200), page: 1, status: 502, version: -1}, applied200, false},
		{"no answer is an error, not stale", read{start: ms(200), page: 1, status: 0, version: -1}, applied200, false},
		{"504 durable: not yet applied", read{start: ms(200), page: 1, status: 200, version: 1},
			edit{page: 1, version: 2, outcome: durable, returned: ms(100)}, false},
		{"503 refused", read{start: ms(200), page: 1, status: 200, version: 1},
			edit{page: 1, version: 2, outcome: refused, returned: ms(100)}, false},
		{"publish failed", read{start: ms(200), page: 1, status: 200, version: 1},
			edit{page: 1, version: 2, outcome: failed, returned: ms(100)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.r.staleAgainst(tt.e); got != tt.want {
				t.Errorf("stale = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestTally(t *testing.T) {
	t0 := time.Now()
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	pages := []string{"a", "b", "c", "d"}
	edits := []edit{
		{page: 0, phase: 0, version: 1, outcome: applied, sent: ms(0), returned: ms(10)},
		{page: 1, phase: 1, version: 1, outcome: durable, status: 504, returned: ms(30000)},
		{page: 2, phase: 1, version: 1, outcome: refused, status: 503},
		{page: 3, phase: 1}, // created, never edited
	}
	reads := []read{
		{phase: 0, page: 0, start: ms(5), status: 200, version: 0},      // before the return: fine
		{phase: 1, page: 0, start: ms(11), status: 200, version: 0},     // stale, counted in the read's phase
		{phase: 1, page: 1, start: ms(40000), status: 200, version: 0},  // not applied: not stale (a loss is checked apart)
		{phase: 1, page: 2, start: ms(40000), status: 0, version: -1},   // no answer
		{phase: 1, page: 0, start: ms(40000), status: 502, version: -1}, // an error answer, not stale
	}
	results := []*phaseResult{{}, {}}
	tally(results, edits, reads, pages)
	p0, p1 := results[0], results[1]
	if p0.reads != 1 || p0.stale != 0 || p0.edits != 1 || p0.accepted != 1 || len(p0.latencies) != 1 || p0.latencies[0] != 10*time.Millisecond {
		t.Errorf("phase 0: %+v", p0)
	}
	if p1.reads != 4 || p1.stale != 1 || p1.noAnswers != 1 || p1.errorAnswers != 1 || p1.edits != 2 || p1.accepted != 1 || p1.refused != 1 {
		t.Errorf("phase 1: %+v", p1)
	}
	if len(p1.staleCases) != 1 {
		t.Errorf("phase 1 stale evidence: %q", p1.staleCases)
	}
}

func TestPercentile(t *testing.T) {
	var ds []time.Duration
	for i := 1; i <= 100; i++ {
		ds = append(ds, time.Duration(i)*time.Millisecond)
	}
	tests := []struct {
		ds   []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 0.5, 0},
		{ds, 0.5, 50 * time.Millisecond},
		{ds, 0.99, 99 * time.Millisecond},
		{ds, 1, 100 * time.Millisecond},
		{ds[:1], 0.99, time.Millisecond},
		{[]time.Duration{3, 1, 2}, 0.5, 2},
	}
	for _, tt := range tests {
		if got := percentile(tt.ds, tt.p); got != tt.want {
			t.Errorf("percentile(%d values, %v) = %v, want %v", len(tt.ds), tt.p, got, tt.want)
		}
	}
}

func TestOutcomeAccepted(t *testing.T) {
	for o, want := range map[outcome]bool{published: false, applied: true, durable: true, refused: false, failed: false} {
		if o.accepted() != want {
			t.Errorf("outcome %d accepted = %v, want %v", o, o.accepted(), want)
		}
	}
}
