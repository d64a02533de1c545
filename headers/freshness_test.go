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
		{"expires with extra spaces is expired", map[string]string{"Date": date, "Expires": "Fri,  02 Jan 2026 03:05:05 GMT"}, 0, true},
		{"expires with a one-digit hour is expired", map[string]string{"Date": date, "Expires": "Fri, 02 Jan 2026 4:04:05 GMT"}, 0, true},
		{"expires with dashes is expired", map[string]string{"Date": date, "Expires": "Fri, 02-Jan-2026 04:04:05 GMT"}, 0, true},
		{"expires in RFC 850 form is read", map[string]string{"Date": date, "Expires": "Friday, 02-Jan-26 03:05:05 GMT"}, time.Minute, true},
		{"expires in asctime form is read", map[string]string{"Date": date, "Expires": "Fri Jan  2 03:05:05 2026"}, time.Minute, true},
		{"invalid date: response time", map[string]string{"Date": "Fri, 02 Jan 2026 3:00:00 GMT", "Expires": now.Add(time.Minute).Format(http.TimeFormat)}, time.Minute, true},
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
	// Expires is a singleton: two field lines, even equal, are invalid.
	exp := now.Add(time.Minute).Format(http.TimeFormat)
	if got, ok := FreshnessLifetime(CacheControl{}, http.Header{"Expires": {exp, exp}}, now); got != 0 || !ok {
		t.Fatalf("two Expires lines: got %v,%v want expired", got, ok)
	}
}

func TestHeuristicLifetime(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	lm := now.Add(-100 * time.Hour).Format(http.TimeFormat)
	tests := []struct {
		name   string
		status int
		header http.Header
		want   time.Duration
	}{
		{"a tenth of the last-modified age", 200, http.Header{"Last-Modified": {lm}}, 10 * time.Hour},
		{"measured at date", 200, http.Header{"Last-Modified": {lm}, "Date": {now.Add(-50 * time.Hour).Format(http.TimeFormat)}}, 5 * time.Hour},
		{"no last-modified", 200, http.Header{}, 0},
		{"future last-modified", 200, http.Header{"Last-Modified": {now.Add(time.Hour).Format(http.TimeFormat)}}, 0},
		{"not heuristically cacheable", 302, http.Header{"Last-Modified": {lm}}, 0},
		{"invalid last-modified", 200, http.Header{"Last-Modified": {"yesterday"}}, 0},
	}
	for _, tt := range tests {
		if got := HeuristicLifetime(tt.status, tt.header, now); got != tt.want {
			t.Errorf("%s: got %v want %v", tt.name, got, tt.want)
		}
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
