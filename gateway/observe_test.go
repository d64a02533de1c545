package gateway

import (
	"strings"
	"testing"
)

func TestValidRequestID(t *testing.T) {
	for _, tt := range []struct {
		id string
		ok bool
	}{
		{"client-id-1", true},
		{"0af7651916cd43dd8448eb211c80319c", true},
		{"00-0af7651916cd43dd-b7ad6b7169203331-01:x_y.z", true},
		{strings.Repeat("a", maxRequestIDLen), true},
		{"", false},
		{strings.Repeat("a", maxRequestIDLen+1), false},
		{"has space", false},
		{"new\nline", false},
		{"quote\"", false},
		{"ünïcode", false},
	} {
		if got := validRequestID(tt.id); got != tt.ok {
			t.Errorf("validRequestID(%q) = %v, want %v", tt.id, got, tt.ok)
		}
	}
	if a, b := newRequestID(), newRequestID(); a == b || !validRequestID(a) || len(a) != 32 {
		t.Errorf("generated ids %q and %q: want two different valid 32-character ids", a, b)
	}
}

func TestStatusClass(t *testing.T) {
	for code, want := range map[int]string{100: "1xx", 200: "2xx", 204: "2xx", 304: "3xx", 404: "4xx", 599: "5xx", 600: "other", 0: "other"} {
		if got := statusClass(code); got != want {
			t.Errorf("statusClass(%d) = %q, want %q", code, got, want)
		}
	}
}

// TestAccessLogSampling: a sample of 0.2 keeps about a fifth of the
// requests, and every server error.
func TestAccessLogSampling(t *testing.T) {
	g := &Gateway{cfg: Config{AccessLogSample: 0.2}}
	kept := 0
	for range 10000 {
		if g.sampled(200) {
			kept++
		}
		if !g.sampled(503) {
			t.Fatal("a server error was not logged")
		}
	}
	// 10,000 draws at p=0.2: 2,000 ± 40 (one standard deviation); the bounds
	// are over 10 deviations away.
	if kept < 1500 || kept > 2500 {
		t.Errorf("kept %d of 10000 at a sample of 0.2", kept)
	}
	if all := (&Gateway{cfg: Config{AccessLogSample: 1}}); !all.sampled(200) {
		t.Error("a sample of 1 dropped a request")
	}
}
