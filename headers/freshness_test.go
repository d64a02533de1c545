package headers

import (
	"net/http"
	"testing"
	"time"
)

func TestFreshnessLifetime(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	date := now.Format(http.TimeFormat)
	tests := []struct {
		name   string
		header map[string]string
		want   time.Duration
		ok     bool
	}{
		{"none: no heuristic", map[string]string{"Last-Modified": date}, 0, false},
		{"s-maxage wins", map[string]string{"Cache-Control": "max-age=10, s-maxage=20"}, 20 * time.Second, true},
		{"max-age", map[string]string{"Cache-Control": "max-age=10"}, 10 * time.Second, true},
		{"max-age over expires", map[string]string{"Cache-Control": "max-age=10", "Expires": now.Add(time.Hour).Format(http.TimeFormat)}, 10 * time.Second, true},
		{"expires minus date", map[string]string{"Date": date, "Expires": now.Add(time.Minute).Format(http.TimeFormat)}, time.Minute, true},
		{"expires in the past", map[string]string{"Date": date, "Expires": now.Add(-time.Minute).Format(http.TimeFormat)}, 0, true},
		{"invalid expires is expired", map[string]string{"Expires": "0"}, 0, true},
		{"expires without date uses response time", map[string]string{"Expires": now.Add(30 * time.Second).Format(http.TimeFormat)}, 30 * time.Second, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.header {
				h.Set(k, v)
			}
			cc, _ := ParseCacheControl(h.Values("Cache-Control"))
			got, ok := FreshnessLifetime(cc, h, now)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("got %v,%v want %v,%v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestMustRevalidateShared(t *testing.T) {
	for s, want := range map[string]bool{
		"max-age=1": false, "must-revalidate": true, "proxy-revalidate": true, "s-maxage=5": true,
	} {
		cc, _ := ParseCacheControl([]string{s})
		if got := cc.MustRevalidateShared(); got != want {
			t.Errorf("%q: got %v want %v", s, got, want)
		}
	}
}
