package headers

import (
	"net/http"
	"testing"
	"time"
)

func TestParseTargeted(t *testing.T) {
	tests := []struct {
		in    string
		valid bool
		want  string // CacheControl.String of the result
	}{
		{"max-age=60", true, "max-age=60"},
		{"no-store", true, "no-store"},
		{"private, max-age=5", true, "private, max-age=5"},
		{"no-cache, s-maxage=10", true, "no-cache, s-maxage=10"},
		{"max-age=4294967296", true, "max-age=2147483647"},      // over 2^31
		{"max-age=999999999999999", true, "max-age=2147483647"}, // 15 digits
		{"max-age=9999999999999999", false, ""},                 // 16 digits: not an sf-integer
		{"max-age=-1", true, ""},                                // wrong value: directive ignored
		{"max-age=1.5", true, ""},
		{`max-age="60"`, true, ""}, // a string is not an integer
		{"no-store=?0", true, ""},
		{"no-store=?1", true, "no-store"},
		{"no-store;a=1, max-age=3;b", true, "no-store, max-age=3"},
		{"must-revalidate, stale-if-error=30, stale-while-revalidate=5", true, "must-revalidate, stale-while-revalidate=5, stale-if-error=30"},
		{"unknown=tok/en, max-age=1", true, "max-age=1"},
		{"Max-Age=60", false, ""}, // keys are lower case
		{"max-age=60,", false, ""},
		{"max-age=60;", false, ""},
		{"max-age = 60", false, ""},
		{"max-age=60 no-store", false, ""},
		{`max-age="60`, false, ""},
		{"", false, ""},
		{"max-age=:aGk=:, no-cache", true, "no-cache"},
	}
	for _, tt := range tests {
		cc, ok := ParseTargeted([]string{tt.in})
		if ok != tt.valid {
			t.Errorf("%q: valid %v, want %v", tt.in, ok, tt.valid)
			continue
		}
		if ok && cc.String() != tt.want {
			t.Errorf("%q: got %q, want %q", tt.in, cc.String(), tt.want)
		}
		if ok && !cc.Targeted {
			t.Errorf("%q: not marked targeted", tt.in)
		}
	}
	// Several field lines are one dictionary.
	if cc, ok := ParseTargeted([]string{"max-age=5", "no-cache"}); !ok || cc.String() != "no-cache, max-age=5" {
		t.Errorf("two lines: %q %v", cc.String(), ok)
	}
}

func TestCacheDirectives(t *testing.T) {
	fields := []string{"Cachegate-Cache-Control", "Cdn-Cache-Control"}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name     string
		h        http.Header
		want     string
		lifetime time.Duration
		explicit bool
	}{
		{"cache-control alone", http.Header{"Cache-Control": {"max-age=5"}}, "max-age=5", 5 * time.Second, true},
		{"own field first", http.Header{"Cachegate-Cache-Control": {"max-age=1"}, "Cdn-Cache-Control": {"max-age=2"}, "Cache-Control": {"max-age=3"}}, "max-age=1", time.Second, true},
		{"then the cdn field", http.Header{"Cdn-Cache-Control": {"no-store"}, "Cache-Control": {"max-age=3"}}, "no-store", 0, false},
		{"invalid own field ignored", http.Header{"Cachegate-Cache-Control": {"max-age=1;;"}, "Cdn-Cache-Control": {"max-age=2"}}, "max-age=2", 2 * time.Second, true},
		{"private replaces", http.Header{"Cachegate-Cache-Control": {"private"}, "Cache-Control": {"public, max-age=3"}}, "private", 0, false},
		{"targeted field replaces expires too", http.Header{"Cachegate-Cache-Control": {"no-cache"}, "Expires": {now.Add(time.Hour).Format(http.TimeFormat)}}, "no-cache", 0, false},
		{"unlisted field is not read", http.Header{"Surrogate-Control": {"max-age=9"}, "Cache-Control": {"max-age=3"}}, "max-age=3", 3 * time.Second, true},
	}
	for _, tt := range tests {
		cc := CacheDirectives(tt.h, fields)
		if cc.String() != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, cc.String(), tt.want)
		}
		if l, ok := FreshnessLifetime(cc, tt.h, now); l != tt.lifetime || ok != tt.explicit {
			t.Errorf("%s: lifetime %v,%v want %v,%v", tt.name, l, ok, tt.lifetime, tt.explicit)
		}
	}
}

func TestCheckTargetedField(t *testing.T) {
	for name, ok := range map[string]bool{
		"Cachegate-Cache-Control": true, "CDN-Cache-Control": true, "X-My_Cache": true,
		"": false, "Cache-Control": false, "cache-control": false, "Bad Name": false, "a:b": false,
	} {
		if err := CheckTargetedField(name); (err == nil) != ok {
			t.Errorf("%q: %v", name, err)
		}
	}
}

// FuzzParseTargeted: what parses is marked targeted and has no negative
// or oversized durations; nothing panics.
func FuzzParseTargeted(f *testing.F) {
	for _, s := range []string{"max-age=60", "no-store, private", "max-age=4294967296", `a="x\"y";p=?1, b=:AA==:`, "max-age=1.25", "-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cc, ok := ParseTargeted([]string{s})
		if !ok {
			return
		}
		if !cc.Targeted {
			t.Fatal("not marked targeted")
		}
		for _, d := range []time.Duration{cc.MaxAge, cc.SMaxAge, cc.StaleIfError, cc.StaleWhileRevalidate} {
			if d < 0 || d > maxDelta {
				t.Fatalf("%q: duration %v", s, d)
			}
		}
	})
}
