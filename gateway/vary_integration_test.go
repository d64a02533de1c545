package gateway_test

import (
	"io"
	"net/http"
	"testing"
)

// With no locales in the policy, requests whose Vary'd headers are
// equivalent (case, whitespace, order of weights, q spelling, field lines)
// share one variant; a different preference is another variant.
func TestEquivalentVaryValuesShareAVariant(t *testing.T) {
	for _, c := range []struct {
		header string
		first  string
		same   [][]string // field lines
		other  string
	}{
		{"Accept-Language", "de-DE, en;q=0.8", [][]string{{"EN;q=0.80 ,DE-de"}, {"de-de", "en;Q=0.8"}, {"de-DE, en;q=0.8, fr;q=0"}}, "en, de-DE"},
		{"Accept", "text/html, application/json;q=0.5", [][]string{{"application/json;q=0.50,TEXT/HTML"}}, "application/json"},
	} {
		t.Run(c.header, func(t *testing.T) {
			o := startOrigin(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Cache-Control", "max-age=60")
				w.Header().Set("Vary", c.header)
				io.WriteString(w, r.Header.Get(c.header))
			})
			g := startGateway(t, o, nil)
			wantStatus(t, g.get(t, "/page", c.header+": "+c.first), "stored")
			for _, lines := range c.same {
				hdr := make([]string, len(lines))
				for i, l := range lines {
					hdr[i] = c.header + ": " + l
				}
				r := g.get(t, "/page", hdr...)
				wantStatus(t, r, "hit")
				if r.body != c.first {
					t.Fatalf("%q got the variant of %q", lines, r.body)
				}
			}
			if r := g.get(t, "/page", c.header+": "+c.other); r.body != c.other {
				t.Fatalf("%q got the variant of %q", c.other, r.body)
			}
			if got := o.requests.Load(); got != 2 {
				t.Fatalf("origin saw %d requests, want 2 (one per variant)", got)
			}
		})
	}
}
