package gateway

import (
	"cmp"
	"iter"
	"net/http"
	"slices"
)

// header is a stored response's header in its compact form: field names
// and values alternate (name, value, name, value, ...), one pair per field
// line, names canonical, sorted by name with a field's lines in their
// order. An L1 entry holds one for its whole life, so it is kept to two
// string headers (32 bytes) per line: an http.Header costs a map, its
// group of slots and a slice per field, about 480 bytes for five fields
// where this costs 160. Every entry reader that needs a map gets a fresh
// one (Entry.Header); the hit path copies the pairs (copyTo) without
// building one.
type header []string

// makeHeader is h's compact form; h is not retained.
func makeHeader(h http.Header) header {
	n := 0
	for _, vs := range h {
		n += len(vs)
	}
	if n == 0 {
		return nil
	}
	// Sorting the names rather than the pairs needs no allocation for a
	// usual header (the names fit buf).
	var buf [24]string
	names := buf[:0]
	for k := range h {
		names = append(names, k)
	}
	slices.SortFunc(names, func(a, b string) int {
		return cmp.Compare(http.CanonicalHeaderKey(a), http.CanonicalHeaderKey(b))
	})
	f := make(header, 0, 2*n)
	for _, k := range names {
		c := http.CanonicalHeaderKey(k)
		for _, v := range h[k] {
			f = append(f, c, v)
		}
	}
	return f
}

// normalize makes f's names canonical and sorts its pairs by name, keeping
// the order of a field's lines: the form every reader relies on.
func (f header) normalize() {
	sorted := true
	for i := 0; i < len(f); i += 2 {
		f[i] = http.CanonicalHeaderKey(f[i])
		if i > 0 && f[i] < f[i-2] {
			sorted = false
		}
	}
	if sorted {
		return
	}
	type pair struct{ name, value string }
	ps := make([]pair, len(f)/2)
	for i := range ps {
		ps[i] = pair{f[2*i], f[2*i+1]}
	}
	slices.SortStableFunc(ps, func(a, b pair) int { return cmp.Compare(a.name, b.name) })
	for i, p := range ps {
		f[2*i], f[2*i+1] = p.name, p.value
	}
}

// index is the position of name's first pair in f, or -1; name must be
// canonical.
func (f header) index(name string) int {
	for i := 0; i < len(f); i += 2 {
		if f[i] == name {
			return i
		}
	}
	return -1
}

// get is the first value of the canonical name, or "".
func (f header) get(name string) string {
	if i := f.index(name); i >= 0 {
		return f[i+1]
	}
	return ""
}

// values are the values of the canonical name, or nil. A field of one
// line is a slice of f itself (capacity 1, so an append copies): no
// allocation. The caller must not write through it.
func (f header) values(name string) []string {
	i := f.index(name)
	if i < 0 {
		return nil
	}
	return f.valuesAt(i)
}

// valuesAt are the values of the field whose first pair is at i, and the
// position of the next field's.
func (f header) valuesAt(i int) []string {
	if i+2 >= len(f) || f[i+2] != f[i] {
		return f[i+1 : i+2 : i+2]
	}
	var vs []string
	for j := i; j < len(f) && f[j] == f[i]; j += 2 {
		vs = append(vs, f[j+1])
	}
	return vs
}

// copyTo sets each of f's fields in h, replacing what h had under its
// name. A single-line field's value slice is shared with f (see values):
// whoever edits h must replace slices, never write into them, as
// clientHeaders does.
func (f header) copyTo(h http.Header) {
	for i := 0; i < len(f); {
		vs := f.valuesAt(i)
		h[f[i]] = vs
		i += 2 * len(vs)
	}
}

// clone is f as a fresh http.Header the caller owns, values included.
func (f header) clone() http.Header {
	h := make(http.Header, len(f)/2)
	if len(f) == 0 {
		return h
	}
	// One backing array for every value, as http.Header.Clone does.
	vals := make([]string, 0, len(f)/2)
	for i := 0; i < len(f); i += 2 {
		vals = append(vals, f[i+1])
		k := f[i]
		if old := h[k]; len(old) > 0 {
			// The field's earlier lines are right before this one in vals.
			h[k] = vals[len(vals)-len(old)-1 : len(vals) : len(vals)]
			continue
		}
		h[k] = vals[len(vals)-1 : len(vals) : len(vals)]
	}
	return h
}

// size is what f holds: the pairs' string headers and each string's
// bytes, rounded up as an allocation is. Names and values shared with
// other entries (canonical names, interned values) are counted in full,
// so it stays an upper bound.
func (f header) size() int {
	const (
		perString   = 16 // a string header in the pairs' array
		stringRound = 8  // allocation rounding of a string's bytes
	)
	n := cap(f) * perString
	for _, s := range f {
		n += len(s) + stringRound
	}
	return n
}

// Header returns a copy of the entry's header that the caller owns and may
// change: a stored entry's own header cannot be changed. It is built on
// each call; the hit path does not use it.
func (e *Entry) Header() http.Header { return e.header.clone() }

// HeaderValue is the first value of the header field name, or "", as
// http.Header.Get finds it, without building a map.
func (e *Entry) HeaderValue(name string) string {
	return e.header.get(http.CanonicalHeaderKey(name))
}

// HeaderFields yields each line of the entry's header, name and value,
// sorted by name, a field's lines in their order. Names are canonical.
func (e *Entry) HeaderFields() iter.Seq2[string, string] {
	return func(yield func(string, string) bool) {
		for i := 0; i < len(e.header); i += 2 {
			if !yield(e.header[i], e.header[i+1]) {
				return
			}
		}
	}
}

// HeaderLen is the number of lines of the entry's header.
func (e *Entry) HeaderLen() int { return len(e.header) / 2 }

// SetHeader sets the entry's header to h's fields. h is not retained: later
// changes to it do not reach the entry. Call it only while building an
// entry, before any layer holds it: a stored entry is shared and immutable.
func (e *Entry) SetHeader(h http.Header) { e.header = makeHeader(h) }

// SetHeaderFields sets the entry's header from lines, field names and
// values alternating (name, value, name, value, ...), for a decoder that
// builds the lines in one allocation: the entry keeps lines, which the
// caller must not use afterwards. Names are canonicalized and the lines
// sorted by name as SetHeader leaves them. Call it only while building an
// entry, as SetHeader. It panics when lines has an odd length.
func (e *Entry) SetHeaderFields(lines []string) {
	if len(lines)%2 != 0 {
		panic("gateway: SetHeaderFields needs name and value pairs")
	}
	if len(lines) == 0 {
		e.header = nil
		return
	}
	f := header(lines)
	f.normalize()
	e.header = f
}
