package entrycodec

import (
	"errors"
	"fmt"
	"math"
	"time"
	"unsafe"

	"github.com/cachegate/cachegate/gateway"
)

// The entry codec. Layout (all integers uvarint unless noted):
//
//	magic 'c', version 1
//	status, request time (zigzag seconds, nanoseconds), response time
//	(same), FetchGen
//	body length, body bytes
//	meta: header key count, header value count, tag count, vary count,
//	then header keys each followed by its value count and values, tags,
//	vary names; every string is length-prefixed
//
// The meta strings come last so that decoding copies them in one string
// and slices it; the body is copied into a slice of its own, so an entry
// kept in L1 after an L2 hit holds exactly its bytes and nothing more.

const (
	codecMagic   = 'c'
	codecVersion = 1
)

var ErrCorrupt = errors.New("corrupt entry encoding")

func corrupt(what string) error { return fmt.Errorf("%w: %s", ErrCorrupt, what) }

// Encode returns the binary encoding of e.
func Encode(e *gateway.Entry) []byte {
	// The header's lines come sorted by name, a field's lines together:
	// a field is a run of one name, written as its key, its line count
	// (runs, counted here) and its values.
	var runs0 [32]int
	runs, nvals := runs0[:0], 0
	size := 2 + 5*binaryMax + len(e.Body) + 4*binaryMax
	last := ""
	for k, v := range e.HeaderFields() {
		if nvals == 0 || k != last {
			size += binaryMax + len(k) + binaryMax
			runs = append(runs, 0)
			last = k
		}
		runs[len(runs)-1]++
		size += binaryMax + len(v)
		nvals++
	}
	for _, s := range e.Tags {
		size += binaryMax + len(s)
	}
	for _, s := range e.Vary {
		size += binaryMax + len(s)
	}
	b := make([]byte, 0, size+2*binaryMax)
	b = append(b, codecMagic, codecVersion)
	b = appendUvarint(b, uint64(e.Status))
	b = appendTime(b, e.RequestTime)
	b = appendTime(b, e.ResponseTime)
	b = appendUvarint(b, e.FetchGen)
	b = appendUvarint(b, uint64(len(e.Body)))
	b = append(b, e.Body...)
	b = appendUvarint(b, uint64(len(runs)))
	b = appendUvarint(b, uint64(nvals))
	b = appendUvarint(b, uint64(len(e.Tags)))
	b = appendUvarint(b, uint64(len(e.Vary)))
	line := 0
	for k, v := range e.HeaderFields() {
		if line == 0 {
			b = appendString(b, k)
			b = appendUvarint(b, uint64(runs[0]))
		}
		b = appendString(b, v)
		if line++; line == runs[0] {
			runs, line = runs[1:], 0
		}
	}
	for _, s := range e.Tags {
		b = appendString(b, s)
	}
	for _, s := range e.Vary {
		b = appendString(b, s)
	}
	return b
}

const binaryMax = 10 // longest uvarint

func appendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendString(b []byte, s string) []byte {
	return append(appendUvarint(b, uint64(len(s))), s...)
}

func appendTime(b []byte, t time.Time) []byte {
	sec := t.Unix()
	return appendUvarint(appendUvarint(b, uint64(sec<<1)^uint64(sec>>63)), uint64(t.Nanosecond()))
}

// Decode parses an encoding from Encode. Corrupt or truncated
// input returns an error wrapping ErrCorrupt, never a panic, and never
// allocates more than a small multiple of len(b).
func Decode[T string | []byte](b T) (*gateway.Entry, error) {
	d := decoder[T]{b: b}
	if len(b) < 2 || b[0] != codecMagic {
		return nil, corrupt("bad magic")
	}
	if b[1] != codecVersion {
		return nil, corrupt(fmt.Sprintf("unknown version %d", b[1]))
	}
	d.off = 2
	e := &gateway.Entry{}
	status := d.uvarint()
	if status > 999 {
		return nil, corrupt("status out of range")
	}
	e.Status = int(status)
	e.RequestTime = d.time()
	e.ResponseTime = d.time()
	e.FetchGen = d.uvarint()
	n := d.count(1)
	if d.err != nil {
		return nil, d.err
	}
	if n > 0 {
		e.Body = bodyOf(b[d.off : d.off+n])
	}
	d.off += n

	// One copy of all meta strings; the strings below are slices of it.
	meta := decoder[string]{b: string(b[d.off:])}
	nkeys, nvals, ntags, nvary := meta.count(2), meta.count(1), meta.count(1), meta.count(1)
	if meta.err == nil && nkeys*2+nvals+ntags+nvary > len(meta.b) {
		return nil, corrupt("counts exceed the data")
	}
	if meta.err != nil {
		return nil, meta.err
	}
	// The header's lines (name and value pairs), tags and vary names in
	// one allocation.
	strs := make([]string, 2*nvals+ntags+nvary)
	if nkeys > 0 {
		lines := strs[: 2*nvals : 2*nvals]
		strs = strs[2*nvals:]
		n := 0
		for range nkeys {
			k := meta.string()
			c := meta.count(1)
			if c > nvals-n || meta.err != nil {
				return nil, corrupt("header value count")
			}
			for ; c > 0; c-- {
				lines[2*n], lines[2*n+1] = k, meta.string()
				n++
			}
		}
		if n != nvals {
			return nil, corrupt("header value count mismatch")
		}
		if meta.err != nil {
			return nil, meta.err
		}
		e.SetHeaderFields(lines)
	} else if nvals != 0 {
		return nil, corrupt("header values without keys")
	}
	if ntags > 0 {
		e.Tags = strs[:ntags:ntags]
		for i := range e.Tags {
			e.Tags[i] = meta.string()
		}
	}
	if nvary > 0 {
		e.Vary = strs[ntags:]
		for i := range e.Vary {
			e.Vary[i] = meta.string()
		}
	}
	if meta.err != nil {
		return nil, meta.err
	}
	if meta.off != len(meta.b) {
		return nil, corrupt("trailing bytes")
	}
	return e, nil
}

// bodyOf is the body bytes of an encoding. A []byte input is copied: its
// owner may reuse it. A string is immutable and, as Redis replies are, not
// shared with anything that writes: the body aliases it instead of copying
// 2 KiB or more per L2 hit. Entries are immutable, so nothing writes
// through the alias.
func bodyOf[T string | []byte](b T) []byte {
	switch v := any(b).(type) {
	case string:
		return unsafe.Slice(unsafe.StringData(v), len(v))
	case []byte:
		return append([]byte(nil), v...)
	}
	panic("unreachable")
}

type decoder[T string | []byte] struct {
	b   T
	off int
	err error
}

func (d *decoder[T]) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if d.off >= len(d.b) {
			d.err = corrupt("truncated")
			return 0
		}
		c := d.b[d.off]
		d.off++
		if shift == 63 && c > 1 {
			break
		}
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v
		}
	}
	d.err = corrupt("varint overflow")
	return 0
}

// count reads a length or count that needs at least min bytes per unit in
// what is left, so corrupt counts cannot make us allocate.
func (d *decoder[T]) count(min int) int {
	v := d.uvarint()
	if d.err != nil {
		return 0
	}
	if v > uint64(len(d.b)-d.off)/uint64(min) {
		d.err = corrupt("length exceeds the data")
		return 0
	}
	return int(v)
}

func (d *decoder[T]) string() string {
	n := d.count(1)
	if d.err != nil {
		return ""
	}
	s := string(d.b[d.off : d.off+n]) // no copy when T is string
	d.off += n
	return s
}

func (d *decoder[T]) time() time.Time {
	z := d.uvarint()
	nsec := d.uvarint()
	if d.err != nil {
		return time.Time{}
	}
	if nsec >= 1e9 {
		d.err = corrupt("nanoseconds out of range")
		return time.Time{}
	}
	sec := int64(z>>1) ^ -int64(z&1)
	if sec < -62135596800 || sec > math.MaxInt64/2 {
		d.err = corrupt("time out of range")
		return time.Time{}
	}
	return time.Unix(sec, int64(nsec)).UTC()
}
