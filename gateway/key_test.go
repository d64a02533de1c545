package gateway

import (
	"net/http"
	"reflect"
	"testing"
	"time"
)

func TestKeys(t *testing.T) {
	if primaryKey("acme", "", "/a?b") == primaryKey("berg", "", "/a?b") {
		t.Fatal("tenants share a key")
	}
	if primaryKey("acme", "de", "/a") == primaryKey("acme", "en", "/a") {
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
	h := http.Header{"Surrogate-Key": {"a  b", "c"}, "Cache-Tag": {"d, e,,a"}}
	if got := originTags(h); !reflect.DeepEqual(got, []string{"a", "b", "c", "d", "e", "a"}) {
		t.Fatalf("origin tags %v", got)
	}
	got := entryTags([]string{"a", "b", "a"}, []string{"rule", "bad tag"}, "/x/y?q=1")
	want := []string{"a", "b", "rule", "url:/x/y?q=1", "path:/", "path:/x", "path:/x/y"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("entry tags %v want %v", got, want)
	}
	if got := explicitTags(want); !reflect.DeepEqual(got, []string{"a", "b", "rule"}) {
		t.Fatalf("explicit %v", got)
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
