package web

import (
	"strings"
	"testing"
)

// A soft purge or event waited for says that readers may still see the
// old content within the window, never that the layers dropped it; the
// soft field reaches the purger.
func TestSoftAnswersSayWhatReadersSee(t *testing.T) {
	e := newEnv(t, nil)
	cases := []struct {
		name, path, body string
		want, not        string
	}{
		{"soft purge", "/api/v1/purge?wait=1", `{"tenant":"acme","tags":["x"],"soft":true}`, "may see the old content", "dropped"},
		{"hard purge", "/api/v1/purge?wait=1", `{"tenant":"acme","tags":["x"]}`, "L1 dropped", "old content"},
		{"soft event", "/api/v1/events?wait=1", `{"tenant":"acme","tags":["x"],"soft":true}`, "may see the old content", "dropped"},
		{"hard event", "/api/v1/events?wait=1", `{"tenant":"acme","tags":["x"]}`, "L1 dropped", "old content"},
		{"soft purge, not waited for", "/api/v1/purge", `{"tenant":"acme","tags":["x"],"soft":true}`, "durable", "dropped"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, _, b := e.do(t, "POST", c.path, c.body, bearer(testToken))
			if code >= 300 {
				t.Fatalf("status %d: %s", code, b)
			}
			g := decode[acceptedResponse](t, b).Guarantee
			if !strings.Contains(g, c.want) || strings.Contains(g, c.not) {
				t.Fatalf("guarantee %q: want %q, not %q", g, c.want, c.not)
			}
		})
	}
	req, _ := e.purger.last()
	if !req.Soft {
		t.Fatalf("the purger got %+v, not soft", req)
	}
}

// With several regions, an answer that says applied says where: the
// region whose coordinators answered.
func TestAnswersSayTheirRegion(t *testing.T) {
	for _, region := range []string{"", "west"} {
		e := newEnv(t, func(c *Config) { c.Region = region })
		for _, path := range []string{"/api/v1/purge?wait=1", "/api/v1/events?wait=1"} {
			code, _, b := e.do(t, "POST", path, `{"tenant":"acme","tags":["x"]}`, bearer(testToken))
			if code != 200 {
				t.Fatalf("%s: status %d: %s", path, code, b)
			}
			g := decode[acceptedResponse](t, b).Guarantee
			if scoped := strings.Contains(g, "in region west only"); scoped != (region != "") {
				t.Errorf("region %q, %s: guarantee %q", region, path, g)
			}
		}
	}
}
