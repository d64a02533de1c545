package headers

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// CacheControl is a parsed Cache-Control field (RFC 9111 5.2), request or
// response. Durations are set only when their Has flag is true.
//
// Parsing is hand-written rather than taken from a library because the hit
// path parses the stored response's field on every hit: this parser does not
// allocate, and it applies RFC 9111's conservative reading of bad input.
type CacheControl struct {
	NoStore         bool
	NoCache         bool // also set by a qualified no-cache="field" (treated as unqualified)
	Private         bool // also set by a qualified private="field"
	Public          bool
	MustRevalidate  bool
	ProxyRevalidate bool
	NoTransform     bool
	OnlyIfCached    bool
	Immutable       bool
	// MustUnderstand (RFC 9111 5.2.2.3): store only a status whose caching
	// rules the cache implements; for such a status, no-store is ignored.
	MustUnderstand bool
	// Targeted: the directives came from a targeted field (RFC 9213),
	// which replaces Cache-Control and Expires alike.
	Targeted bool

	MaxAge, SMaxAge, MinFresh, MaxStale             time.Duration
	HasMaxAge, HasSMaxAge, HasMinFresh, HasMaxStale bool
	StaleWhileRevalidate, StaleIfError              time.Duration
	HasStaleWhileRevalidate, HasStaleIfError        bool
}

// maxDelta caps delta-seconds at 2^31 seconds, as RFC 9111 1.2.2 allows.
const maxDelta = time.Duration(math.MaxInt32) * time.Second

// ParseCacheControl parses the field lines of a Cache-Control field. It
// always returns a usable value; err describes the first malformed
// directive. Following RFC 9111 4.2.1 it is conservative with bad input: an
// invalid or repeated max-age/s-maxage counts as 0 (stale), a repeated
// directive keeps the most restrictive value, unknown directives are ignored.
func ParseCacheControl(lines []string) (CacheControl, error) {
	var cc CacheControl
	var firstErr error
	fail := func(err error) {
		if firstErr == nil {
			firstErr = err
		}
	}
	for _, line := range lines {
		for len(line) > 0 {
			var item string
			item, line = nextItem(line)
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			name, value, hasValue := strings.Cut(item, "=")
			name = strings.TrimSpace(name)
			value = strings.TrimSpace(value)
			if quoted, ok := unquote(value); ok {
				value = quoted
			} else if hasValue {
				fail(fmt.Errorf("cache-control: directive %q: unterminated quoted string", name))
			}
			if err := cc.apply(name, value, hasValue); err != nil {
				fail(err)
			}
		}
	}
	return cc, firstErr
}

// nextItem splits off one comma-separated item, not splitting inside a
// quoted string (no-cache="a, b").
func nextItem(s string) (item, rest string) {
	inQuote := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && inQuote:
			i++
		case c == '"':
			inQuote = !inQuote
		case c == ',' && !inQuote:
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

func unquote(v string) (string, bool) {
	if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
		return v[1 : len(v)-1], true
	}
	if len(v) > 0 && v[0] == '"' {
		return v, false
	}
	return v, true
}

func (cc *CacheControl) apply(name, value string, hasValue bool) error {
	switch {
	case strings.EqualFold(name, "no-store"):
		cc.NoStore = true
	case strings.EqualFold(name, "no-cache"):
		cc.NoCache = true
	case strings.EqualFold(name, "private"):
		cc.Private = true
	case strings.EqualFold(name, "public"):
		cc.Public = true
	case strings.EqualFold(name, "must-revalidate"):
		cc.MustRevalidate = true
	case strings.EqualFold(name, "proxy-revalidate"):
		cc.ProxyRevalidate = true
	case strings.EqualFold(name, "no-transform"):
		cc.NoTransform = true
	case strings.EqualFold(name, "only-if-cached"):
		cc.OnlyIfCached = true
	case strings.EqualFold(name, "immutable"):
		cc.Immutable = true
	case strings.EqualFold(name, "must-understand"):
		cc.MustUnderstand = true
	case strings.EqualFold(name, "max-age"):
		return setDelta(&cc.MaxAge, &cc.HasMaxAge, name, value, hasValue, true)
	case strings.EqualFold(name, "s-maxage"):
		return setDelta(&cc.SMaxAge, &cc.HasSMaxAge, name, value, hasValue, true)
	case strings.EqualFold(name, "min-fresh"):
		return setDelta(&cc.MinFresh, &cc.HasMinFresh, name, value, hasValue, false)
	case strings.EqualFold(name, "max-stale"):
		if !hasValue { // any staleness is acceptable
			cc.MaxStale, cc.HasMaxStale = maxDelta, true
			return nil
		}
		return setDelta(&cc.MaxStale, &cc.HasMaxStale, name, value, hasValue, true)
	case strings.EqualFold(name, "stale-while-revalidate"):
		return setDelta(&cc.StaleWhileRevalidate, &cc.HasStaleWhileRevalidate, name, value, hasValue, true)
	case strings.EqualFold(name, "stale-if-error"):
		return setDelta(&cc.StaleIfError, &cc.HasStaleIfError, name, value, hasValue, true)
	}
	return nil
}

// setDelta sets a delta-seconds directive. A bad value becomes 0 (the most
// restrictive reading); a repeated one keeps the smaller value when
// smallerWins, the larger otherwise (min-fresh: larger is stricter).
func setDelta(d *time.Duration, has *bool, name, value string, hasValue, smallerWins bool) error {
	v, err := parseDelta(value)
	if !hasValue {
		err = fmt.Errorf("cache-control: %s needs a value", name)
	}
	if err != nil {
		v = 0
		err = fmt.Errorf("cache-control: %s=%q: %w", name, value, err)
	}
	if *has && (smallerWins && *d <= v || !smallerWins && *d >= v) {
		return err
	}
	*d, *has = v, true
	return err
}

var errDelta = fmt.Errorf("not a non-negative integer number of seconds")

func parseDelta(s string) (time.Duration, error) {
	if s == "" {
		return 0, errDelta
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errDelta
		}
	}
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil || n > math.MaxInt32 {
		return maxDelta, nil // overflow: RFC 9111 1.2.2, treat as 2^31
	}
	return time.Duration(n) * time.Second, nil
}

// String formats cc canonically (directives in a fixed order), for logs and
// tests.
func (cc CacheControl) String() string {
	var b strings.Builder
	add := func(s string) {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s)
	}
	flags := []struct {
		on   bool
		name string
	}{
		{cc.Public, "public"}, {cc.Private, "private"}, {cc.NoStore, "no-store"},
		{cc.NoCache, "no-cache"}, {cc.MustRevalidate, "must-revalidate"},
		{cc.ProxyRevalidate, "proxy-revalidate"}, {cc.NoTransform, "no-transform"},
		{cc.OnlyIfCached, "only-if-cached"}, {cc.Immutable, "immutable"},
		{cc.MustUnderstand, "must-understand"},
	}
	for _, f := range flags {
		if f.on {
			add(f.name)
		}
	}
	deltas := []struct {
		on   bool
		name string
		d    time.Duration
	}{
		{cc.HasMaxAge, "max-age", cc.MaxAge}, {cc.HasSMaxAge, "s-maxage", cc.SMaxAge},
		{cc.HasMinFresh, "min-fresh", cc.MinFresh}, {cc.HasMaxStale, "max-stale", cc.MaxStale},
		{cc.HasStaleWhileRevalidate, "stale-while-revalidate", cc.StaleWhileRevalidate},
		{cc.HasStaleIfError, "stale-if-error", cc.StaleIfError},
	}
	for _, d := range deltas {
		if d.on {
			add(d.name + "=" + strconv.FormatInt(int64(d.d/time.Second), 10))
		}
	}
	return b.String()
}
