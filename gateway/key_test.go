package gateway

import (
	"log/slog"
	"net/http"
	"reflect"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

func TestKeys(t *testing.T) {
	if primaryKey("acme", "acme", "", "/a?b") == primaryKey("berg", "berg", "", "/a?b") {
		t.Fatal("tenants share a key")
	}
	if primaryKey("acme", "acme", "de", "/a") == primaryKey("acme", "acme", "en", "/a") {
		t.Fatal("locales share a key")
	}
	vary := []string{"Accept-Encoding", "Accept-Language"}
	a := variantKey("k", vary, http.Header{"Accept-Encoding": {"gzip, deflate, br"}, "Accept-Language": {"de-DE"}}, []string{"en", "de"})
	b := variantKey("k", vary, http.Header{"Accept-Encoding": {"br;q=1, gzip;q=0.5"}, "Accept-Language": {"de"}}, []string{"en", "de"})
	c := variantKey("k", vary, http.Header{"Accept-Encoding": {"gzip"}, "Accept-Language": {"de"}}, []string{"en", "de"})
	if a != b || a == c {
		t.Fatalf("variant keys %q %q %q", a, b, c)
	}
}

func TestTags(t *testing.T) {
	m, err := newMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	g := &Gateway{cfg: Config{Logger: slog.New(slog.DiscardHandler)}, m: m}
	x := &exchange{target: "/x"}
	h := http.Header{"Surrogate-Key": {"a  b", "c ~00"}, "Cache-Tag": {"d, e,,a, bad\x01tag"}}
	if got := g.originTags(x, h); !reflect.DeepEqual(got, []string{"a", "b", "c", "d", "e"}) {
		t.Fatalf("origin tags %v", got)
	}
	var c dto.Metric
	if err := m.rejectedTags.Write(&c); err != nil {
		t.Fatal(err)
	}
	if n := c.GetCounter().GetValue(); n != 2 {
		t.Fatalf("rejected tags counted %v, want 2 (reserved ~00 and the invalid one)", n)
	}
	got := entryTags([]string{"a", "b", "a"}, []string{"rule", "bad tag"}, "/x/y?q=1")
	want := []string{"a", "b", "rule", "url:/x/y?q=1", "path:/", "path:/x", "path:/x/y"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("entry tags %v want %v", got, want)
	}
}

func TestSameHostTarget(t *testing.T) {
	tests := []struct {
		ref, want string
		ok        bool
	}{
		{"/new?x=1", "/new?x=1", true},
		{"sibling", "/a/sibling", true},
		{"http://acme/abs", "/abs", true},
		{"https://ACME/abs", "/abs", true},
		{"http://evil/abs", "", false},
		{"", "", false},
		{"http://[bad", "", false},
	}
	for _, tt := range tests {
		got, ok := sameHostTarget("acme", "/a/b", tt.ref)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%q: got %q %v", tt.ref, got, ok)
		}
	}
}

func TestSeconds(t *testing.T) {
	for d, want := range map[float64]int64{59.99: 60, 60: 60, 0: 0, -0.2: 0, -5.2: -5} {
		if got := seconds(secondsDuration(d)); got != want {
			t.Errorf("%v: %d want %d", d, got, want)
		}
	}
}

func secondsDuration(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }
