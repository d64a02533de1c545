package headers

import (
	"net/http"
	"strconv"
	"strings"
	"time"
)

// AgeValue reads the Age field (RFC 9111 5.1). Age is a singleton, but a
// list (on one line or several) is read by its first member; a first
// member that is not a non-negative integer makes the field ignored (ok
// false). Values past 2^31 count as 2^31 seconds.
func AgeValue(lines []string) (age time.Duration, ok bool) {
	if len(lines) == 0 {
		return 0, false
	}
	first, _, _ := strings.Cut(lines[0], ",")
	d, err := parseDelta(strings.Trim(first, " \t"))
	if err != nil {
		return 0, false
	}
	return d, true
}

// CurrentAge computes a stored response's current age (RFC 9111 4.2.3)
// from its Age and Date fields and the times the request was sent and the
// response received, at now. Negative intermediate values count as 0; an
// invalid Date is ignored.
func CurrentAge(h http.Header, requestTime, responseTime, now time.Time) time.Duration {
	ageValue, _ := AgeValue(h["Age"])
	var apparent time.Duration
	if date, ok := singleDate(h["Date"], responseTime); ok {
		if apparent = responseTime.Sub(date); apparent < 0 {
			apparent = 0
		}
	}
	responseDelay := responseTime.Sub(requestTime)
	if responseDelay < 0 {
		responseDelay = 0
	}
	corrected := ageValue + responseDelay
	initial := max(apparent, corrected)
	resident := now.Sub(responseTime)
	if resident < 0 {
		resident = 0
	}
	return initial + resident
}

// singleDate parses a singleton date field given as its field lines: more
// than one line is as invalid as a malformed date.
func singleDate(lines []string, now time.Time) (time.Time, bool) {
	if len(lines) != 1 {
		return time.Time{}, false
	}
	t, err := ParseHTTPDate(lines[0], now)
	return t, err == nil
}

// maxAgeSeconds is what Age says of an age that overflows (RFC 9111 5.1).
const maxAgeSeconds = 1 << 31

// FormatAge renders an age as the Age field's delta-seconds, 2^31 at most.
func FormatAge(age time.Duration) string {
	if age < 0 {
		age = 0
	}
	return strconv.FormatInt(min(int64(age/time.Second), maxAgeSeconds), 10)
}
