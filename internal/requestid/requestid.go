// Package requestid owns the request id's rules, shared by the gateway and
// the admin listener: which client-sent ids are kept, and how a new one is
// made.
package requestid

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
)

// Header carries the request id: kept from the client when it is a valid
// id, generated otherwise, returned to the client and logged.
const Header = "X-Request-Id"

// MaxLen bounds a client's request id: longer ones are replaced, so that a
// client cannot grow log lines or origin headers at will.
const MaxLen = 128

// Valid reports whether a client's id may be kept: 1 to MaxLen characters
// of letters, digits and - _ . : (UUIDs, trace ids, ULIDs).
func Valid(s string) bool {
	if len(s) == 0 || len(s) > MaxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return true
}

// Len is the length of a generated id.
const Len = 32

// New is 128 random bits in hex. math/rand/v2's generator is ChaCha8
// seeded by the OS: unpredictable enough for a correlation id, and without
// crypto/rand's system call on the request path.
func New() string {
	var h [Len]byte
	Generate(&h)
	return string(h[:])
}

// Generate writes a new id (New's) into h, for a caller that keeps its
// bytes together with other values in one allocation.
func Generate(h *[Len]byte) {
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], rand.Uint64())
	hex.Encode(h[:], b[:])
}

// FromClient is the client's id when valid, or a new one.
func FromClient(s string) string {
	if Valid(s) {
		return s
	}
	return New()
}
