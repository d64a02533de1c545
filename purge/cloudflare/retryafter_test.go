package cloudflare

import (
	"net/http"
	"testing"
	"time"
)

func TestRetryAfter(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"7", 7 * time.Second},
		{"1.5", 1500 * time.Millisecond},
		{"-3", 0},
		{"soon", 0},
		{time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat), 0},
	}
	for _, tt := range tests {
		if got := retryAfter(tt.in); got != tt.want {
			t.Errorf("retryAfter(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
	future := time.Now().Add(time.Minute).UTC().Format(http.TimeFormat)
	if got := retryAfter(future); got < 58*time.Second || got > time.Minute {
		t.Errorf("retryAfter(date a minute ahead) = %v", got)
	}
}

func FuzzRetryAfter(f *testing.F) {
	for _, s := range []string{"", "1", "120", "1e3", "NaN", "Inf", "-1", "Wed, 21 Oct 2015 07:28:00 GMT"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if d := retryAfter(s); d < 0 {
			t.Fatalf("retryAfter(%q) = %v < 0", s, d)
		}
	})
}
