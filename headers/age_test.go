package headers

import (
	"net/http"
	"testing"
	"time"
)

func TestCurrentAge(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name           string
		age, date      string
		req, resp, now time.Time
		want           time.Duration
	}{
		{"resident only", "", "", t0, t0, t0.Add(7 * time.Second), 7 * time.Second},
		{"age header plus delay", "10", "", t0, t0.Add(2 * time.Second), t0.Add(2 * time.Second), 12 * time.Second},
		{"apparent age from date", "", t0.Add(-30 * time.Second).Format(http.TimeFormat), t0, t0, t0, 30 * time.Second},
		{"clock skew ignored", "", t0.Add(time.Hour).Format(http.TimeFormat), t0, t0, t0.Add(time.Second), time.Second},
		{"bad age ignored", "x", "", t0, t0, t0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			if tt.age != "" {
				h.Set("Age", tt.age)
			}
			if tt.date != "" {
				h.Set("Date", tt.date)
			}
			if got := CurrentAge(h, tt.req, tt.resp, tt.now); got != tt.want {
				t.Fatalf("got %v want %v", got, tt.want)
			}
		})
	}
	if FormatAge(-time.Second) != "0" || FormatAge(1500*time.Millisecond) != "1" {
		t.Fatal("FormatAge")
	}
}

func FuzzCurrentAge(f *testing.F) {
	f.Add("10", "Mon, 02 Jan 2006 15:04:05 GMT")
	f.Add("-1", "garbage")
	f.Fuzz(func(t *testing.T, age, date string) {
		now := time.Now()
		h := http.Header{"Age": {age}, "Date": {date}}
		if got := CurrentAge(h, now, now, now); got < 0 {
			t.Fatalf("negative age %v", got)
		}
	})
}
