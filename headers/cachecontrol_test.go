package headers

import (
	"strings"
	"testing"
	"time"
)

func TestParseCacheControl(t *testing.T) {
	tests := []struct {
		name    string
		lines   []string
		want    string // canonical String()
		wantErr string
	}{
		{"empty", nil, "", ""},
		{"public max-age", []string{"public, max-age=300"}, "public, max-age=300", ""},
		{"case and space", []string{" Max-Age = 60 ,NO-STORE"}, "no-store, max-age=60", ""},
		{"several lines", []string{"private", "s-maxage=10"}, "private, s-maxage=10", ""},
		{"quoted value", []string{`max-age="120"`}, "max-age=120", ""},
		{"qualified no-cache with comma", []string{`no-cache="Set-Cookie, X-A", max-age=5`}, "no-cache, max-age=5", ""},
		{"bad max-age is stale", []string{"max-age=abc"}, "max-age=0", `max-age="abc"`},
		{"negative max-age is stale", []string{"max-age=-1"}, "max-age=0", "max-age"},
		{"missing value", []string{"max-age"}, "max-age=0", "needs a value"},
		{"repeated keeps smallest", []string{"max-age=100, max-age=10"}, "max-age=10", ""},
		{"overflow caps", []string{"max-age=99999999999999999999"}, "max-age=2147483647", ""},
		{"swr sie", []string{"max-age=1, stale-while-revalidate=30, stale-if-error=600"}, "max-age=1, stale-while-revalidate=30, stale-if-error=600", ""},
		{"max-stale no value", []string{"max-stale"}, "max-stale=2147483647", ""},
		{"unknown ignored", []string{"foo=bar, immutable"}, "immutable", ""},
		{"unterminated quote", []string{`max-age="10`}, "max-age=0", "unterminated"},
		{"empty items", []string{",,, must-revalidate,"}, "must-revalidate", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cc, err := ParseCacheControl(tt.lines)
			if got := cc.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
			if tt.wantErr == "" && err != nil {
				t.Errorf("unexpected error %v", err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("error %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseCacheControlDoesNotAllocate(t *testing.T) {
	lines := []string{"public, max-age=300, stale-while-revalidate=30"}
	if n := testing.AllocsPerRun(100, func() { _, _ = ParseCacheControl(lines) }); n != 0 {
		t.Fatalf("%v allocations per parse, want 0", n)
	}
}

func FuzzParseCacheControl(f *testing.F) {
	for _, s := range []string{
		"public, max-age=300", `no-cache="a, b"`, "max-age=abc", `max-age="`, "s-maxage=99999999999999999999",
		"max-stale", "stale-if-error=1,stale-while-revalidate=2", `"`, `\`, ",,,",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		cc, _ := ParseCacheControl([]string{s})
		for _, d := range []time.Duration{cc.MaxAge, cc.SMaxAge, cc.MinFresh, cc.MaxStale, cc.StaleIfError, cc.StaleWhileRevalidate} {
			if d < 0 || d > maxDelta {
				t.Fatalf("%q: duration %v out of range", s, d)
			}
		}
		// The canonical form must parse to the same value.
		again, err := ParseCacheControl([]string{cc.String()})
		if err != nil || again != cc {
			t.Fatalf("%q: round trip %q gave %+v, %v; want %+v", s, cc.String(), again, err, cc)
		}
	})
}
