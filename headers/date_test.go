package headers

import (
	"net/http"
	"testing"
	"time"
)

func TestParseHTTPDate(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	want := time.Date(1994, 11, 6, 8, 49, 37, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Time // zero: invalid
	}{
		{"Sun, 06 Nov 1994 08:49:37 GMT", want},
		{"Sunday, 06-Nov-94 08:49:37 GMT", want}, // RFC 850, obsolete but must be accepted
		{"Sun Nov  6 08:49:37 1994", want},       // asctime
		{"Sun Nov 16 08:49:37 1994", want.AddDate(0, 0, 10)},
		{"Thursday, 01-Jan-76 00:00:00 GMT", time.Date(2076, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"Saturday, 01-Jan-77 00:00:00 GMT", time.Date(1977, 1, 1, 0, 0, 0, 0, time.UTC)}, // > 50 years ahead: the past century
		{"Wed, 31 Dec 2008 23:59:60 GMT", time.Date(2009, 1, 1, 0, 0, 0, 0, time.UTC)},    // a leap second
		{"Sun,  06 Nov 1994 08:49:37 GMT", time.Time{}},                                   // extra space
		{"Sun, 06 Nov 1994  08:49:37 GMT", time.Time{}},
		{" Sun, 06 Nov 1994 08:49:37 GMT", time.Time{}},
		{"Sun, 06 Nov 1994 8:49:37 GMT", time.Time{}}, // one-digit hour
		{"Sun, 6 Nov 1994 08:49:37 GMT", time.Time{}},
		{"Sun, 06-Nov-1994 08:49:37 GMT", time.Time{}}, // dashes in an IMF-fixdate
		{"Sun, 06 Nov 1994 08:49:37 UTC", time.Time{}},
		{"Sun, 06 Nov 1994 08:49:37 +0000", time.Time{}},
		{"sun, 06 nov 1994 08:49:37 GMT", time.Time{}}, // case-sensitive
		{"Sun, 31 Feb 1994 08:49:37 GMT", time.Time{}},
		{"Sun, 06 Nov 1994 24:00:00 GMT", time.Time{}},
		{"0", time.Time{}},
		{"-1", time.Time{}},
		{"", time.Time{}},
		{"Sunday, 06-Nov-94 08:49:37 UTC", time.Time{}},
		{"Sun Nov 6 08:49:37 1994", time.Time{}},
	}
	for _, tt := range tests {
		got, err := ParseHTTPDate(tt.in, now)
		if tt.want.IsZero() {
			if err == nil {
				t.Errorf("%q: parsed as %v, want invalid", tt.in, got)
			}
			continue
		}
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("%q: got %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

// FuzzParseHTTPDate: whatever it accepts is a valid instant that formats
// back to the same IMF-fixdate when given as one, and it never panics.
func FuzzParseHTTPDate(f *testing.F) {
	for _, s := range []string{"Sun, 06 Nov 1994 08:49:37 GMT", "Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Sun, 06 Nov 1994 8:49:37 GMT", "0"} {
		f.Add(s)
	}
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseHTTPDate(s, now)
		if err != nil {
			return
		}
		if got.Location() != time.UTC {
			t.Fatalf("%q: not UTC: %v", s, got)
		}
		if len(s) == 29 && s[3] == ',' && s[23:25] != "60" {
			if back := got.Format(http.TimeFormat); back[5:] != s[5:] {
				t.Fatalf("%q parsed as %v, formats as %q", s, got, back)
			}
		}
	})
}

func TestAgeValue(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  time.Duration
		ok    bool
	}{
		{"none", nil, 0, false},
		{"integer", []string{"60"}, time.Minute, true},
		{"list: first member", []string{"9999, 1"}, 9999 * time.Second, true},
		{"lines: first line", []string{"9999", "1"}, 9999 * time.Second, true},
		{"negative ignored", []string{"-5"}, 0, false},
		{"fraction ignored", []string{"1.5"}, 0, false},
		{"text ignored", []string{"abc"}, 0, false},
		{"empty ignored", []string{""}, 0, false},
		{"whitespace around", []string{" 7 "}, 7 * time.Second, true},
		{"overflow is 2^31", []string{"99999999999999999999"}, maxDelta, true},
	}
	for _, tt := range tests {
		got, ok := AgeValue(tt.lines)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: got %v,%v want %v,%v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
	if got := FormatAge(4 * maxDelta); got != "2147483648" {
		t.Errorf("FormatAge of an overflow: %q", got)
	}
}

func FuzzAgeValue(f *testing.F) {
	for _, s := range []string{"0", "60", "9999, 1", "-1", "1e3", "4294967296"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, ok := AgeValue([]string{s})
		if !ok && d != 0 || d < 0 || d > maxDelta {
			t.Fatalf("%q: %v,%v", s, d, ok)
		}
	})
}

func FuzzFreshnessLifetime(f *testing.F) {
	f.Add("max-age=5", "Sun, 06 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 GMT")
	f.Add("", "Sun, 06 Nov 1994 08:49:37 GMT", "0")
	f.Add("s-maxage=1, max-age=99999999999", "", "")
	resp := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, cc, date, expires string) {
		h := http.Header{"Date": {date}, "Expires": {expires}}
		c, _ := ParseCacheControl([]string{cc})
		d, ok := FreshnessLifetime(c, h, resp)
		if d < 0 || !ok && d != 0 {
			t.Fatalf("%q %q %q: %v,%v", cc, date, expires, d, ok)
		}
	})
}
