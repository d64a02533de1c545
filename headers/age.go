package headers

import (
	"net/http"
	"strconv"
	"time"
)

// CurrentAge computes a stored response's current age (RFC 9111 4.2.3)
// from its Age and Date fields and the times the request was sent and the
// response received, at now. Negative intermediate values count as 0.
func CurrentAge(h http.Header, requestTime, responseTime, now time.Time) time.Duration {
	var ageValue time.Duration
	if v := h.Get("Age"); v != "" {
		if d, err := parseDelta(v); err == nil {
			ageValue = d
		}
	}
	var apparent time.Duration
	if date, err := http.ParseTime(h.Get("Date")); err == nil {
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

// FormatAge renders an age as the Age field's delta-seconds.
func FormatAge(age time.Duration) string {
	if age < 0 {
		age = 0
	}
	return strconv.FormatInt(int64(age/time.Second), 10)
}
