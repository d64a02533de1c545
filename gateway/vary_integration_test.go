package gateway_test

import (
	"io"
	"net/http"
	"testing"
)

// With no locales in the policy, requests whose Vary'd headers are
// equivalent (case, whitespace, order of weights, q spelling, field lines)
// share one variant, and the origin is sent the normalized value the
// variant is keyed by (so it cannot answer two spellings differently); a
// different preference is another variant.
func TestEquivalentVaryValuesShareAVariant(t *testing.T) {
	for _, c := range []struct {
		header          string
		first           string
		same            [][]string // field lines
		other           string
		sent, otherSent string // what the origin is sent
	}{
		{"Accept-Language", "de-DE, en;q=0.8", [][]string{{"EN;q=0.80 ,DE-de"}, {"de-de", "en;Q=0.8"}, {"de-DE, en;q=0.8, fr;q=0"}}, "en, de-DE",
			"de-de,en;q=0.8", "en,de-de"},
		{"Accept-Charset", "utf-8, ISO-8859-1;q=0.5", [][]string{{"iso-8859-1;q=0.500 , UTF-8"}}, "iso-8859-1",
			"utf-8,iso-8859-1;q=0.5", "iso-8859-1"},
		{"Accept", "text/html, application/json;q=0.5", [][]string{{"application/json;q=0.50,TEXT/HTML"}}, "application/json",
			"text/html,application/json;q=0.5", "application/json"},
	} {
		t.Run(c.header, func(t *testing.T) {
			o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=60")
				w.Header().Set("Vary", c.header)
				io.WriteString(w, r.Header.Get(c.header))
			})
			g := startGateway(t, o, nil)
			if r := g.get(t, "/page", c.header+": "+c.first); r.body != c.sent {
				t.Fatalf("the origin was sent %s: %q, want %q", c.header, r.body, c.sent)
			} else {
				wantStatus(t, r, "stored")
			}
			for _, lines := range c.same {
				hdr := make([]string, len(lines))
				for i, l := range lines {
					hdr[i] = c.header + ": " + l
				}
				r := g.get(t, "/page", hdr...)
				wantStatus(t, r, "hit")
				if r.body != c.sent {
					t.Fatalf("%q got the variant the origin made for %q", lines, r.body)
				}
			}
			if r := g.get(t, "/page", c.header+": "+c.other); r.body != c.otherSent {
				t.Fatalf("%q got the variant the origin made for %q", c.other, r.body)
			}
			if got := o.requests.Load(); got != 2 {
				t.Fatalf("origin saw %d requests, want 2 (one per variant)", got)
			}
		})
	}
}
