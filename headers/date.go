package headers

import (
	"errors"
	"time"
)

// ErrBadDate is returned for an HTTP-date that is none of the three forms
// RFC 9110 5.6.7 defines.
var ErrBadDate = errors.New("not an HTTP-date")

var (
	dayNames  = [7]string{"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"}
	longDays  = [7]string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
	monthList = [12]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}
)

// ParseHTTPDate parses an HTTP-date strictly (RFC 9110 5.6.7): the
// IMF-fixdate "Sun, 06 Nov 1994 08:49:37 GMT", or one of the two obsolete
// forms recipients must still accept, RFC 850 "Sunday, 06-Nov-94 08:49:37
// GMT" and asctime "Sun Nov  6 08:49:37 1994". now resolves RFC 850's
// two-digit year: a year more than 50 years ahead of now is the most recent
// past year with the same last two digits.
//
// net/http's ParseTime is not used: it accepts one-digit hours, extra
// spaces and other spellings that RFC 9111 5.3 says a cache must read as
// an invalid date, i.e. already expired.
func ParseHTTPDate(s string, now time.Time) (time.Time, error) {
	var p dateParser
	switch {
	case len(s) == 29 && s[3] == ',':
		p = dateParser{s: s}
		wd := p.day(dayNames[:], 3)
		p.lit(", ")
		d := p.num(2)
		p.lit(" ")
		m := p.month()
		p.lit(" ")
		y := p.num(4)
		p.lit(" ")
		return p.finish(wd, y, m, d, true)
	case len(s) == 24 && s[3] == ' ':
		p = dateParser{s: s}
		wd := p.day(dayNames[:], 3)
		p.lit(" ")
		m := p.month()
		p.lit(" ")
		var d int
		if p.ok() && p.s[p.i] == ' ' {
			p.i++
			d = p.num(1)
		} else {
			d = p.num(2)
		}
		p.lit(" ")
		t := p.clock()
		p.lit(" ")
		y := p.num(4)
		return p.result(wd, y, m, d, t)
	default:
		p = dateParser{s: s}
		wd := p.longDay()
		p.lit(", ")
		d := p.num(2)
		p.lit("-")
		m := p.month()
		p.lit("-")
		y := p.num(2)
		p.lit(" ")
		t := p.clock()
		p.lit(" GMT")
		if p.err == nil {
			y += now.Year() / 100 * 100
			if y > now.Year()+50 {
				y -= 100
			}
		}
		return p.result(wd, y, m, d, t)
	}
}

type dateParser struct {
	s   string
	i   int
	err error
}

func (p *dateParser) ok() bool { return p.err == nil && p.i < len(p.s) }

func (p *dateParser) fail() {
	if p.err == nil {
		p.err = ErrBadDate
	}
}

func (p *dateParser) lit(l string) {
	if p.err != nil || len(p.s)-p.i < len(l) || p.s[p.i:p.i+len(l)] != l {
		p.fail()
		return
	}
	p.i += len(l)
}

func (p *dateParser) num(digits int) int {
	n := 0
	for range digits {
		if !p.ok() || p.s[p.i] < '0' || p.s[p.i] > '9' {
			p.fail()
			return 0
		}
		n = n*10 + int(p.s[p.i]-'0')
		p.i++
	}
	return n
}

func (p *dateParser) day(names []string, n int) int {
	if p.err == nil && len(p.s)-p.i >= n {
		for i, d := range names {
			if p.s[p.i:p.i+n] == d {
				p.i += n
				return i
			}
		}
	}
	p.fail()
	return 0
}

func (p *dateParser) longDay() int {
	for i, d := range longDays {
		if len(p.s)-p.i >= len(d) && p.s[p.i:p.i+len(d)] == d {
			p.i += len(d)
			return i
		}
	}
	p.fail()
	return 0
}

func (p *dateParser) month() time.Month {
	if p.err == nil && len(p.s)-p.i >= 3 {
		for i, m := range monthList {
			if p.s[p.i:p.i+3] == m {
				p.i += 3
				return time.Month(i + 1)
			}
		}
	}
	p.fail()
	return 0
}

// clock parses hh:mm:ss, two digits each.
func (p *dateParser) clock() [3]int {
	var t [3]int
	t[0] = p.num(2)
	p.lit(":")
	t[1] = p.num(2)
	p.lit(":")
	t[2] = p.num(2)
	return t
}

func (p *dateParser) finish(wd, y int, m time.Month, d int, gmt bool) (time.Time, error) {
	t := p.clock()
	if gmt {
		p.lit(" GMT")
	}
	return p.result(wd, y, m, d, t)
}

// result checks that what was parsed is a real instant. The day name is
// checked for its spelling only, not against the date: a wrong weekday is
// an origin's typo, not a different instant.
func (p *dateParser) result(_, y int, m time.Month, d int, c [3]int) (time.Time, error) {
	if p.err != nil || p.i != len(p.s) {
		return time.Time{}, ErrBadDate
	}
	// RFC 9110 allows a leap second (ss 60), which time.Date normalises.
	if d < 1 || c[0] > 23 || c[1] > 59 || c[2] > 60 {
		return time.Time{}, ErrBadDate
	}
	t := time.Date(y, m, d, c[0], c[1], min(c[2], 59), 0, time.UTC)
	if t.Day() != d || t.Month() != m {
		return time.Time{}, ErrBadDate // 31 Feb
	}
	return t.Add(time.Duration(c[2]-min(c[2], 59)) * time.Second), nil
}
