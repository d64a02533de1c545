package admission

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
)

// DefaultWindow is the number of distinct keys a generation holds when
// New is given zero: 2 generations of 2^20 keys, about 2.5 MiB.
const DefaultWindow = 1 << 20

const (
	bitsPerKey = 10 // about 1% false positives with 4 hashes
	hashes     = 4
)

// bloom is one generation.
type bloom struct {
	words []atomic.Uint64
	mask  uint64 // bits-1; bits is a power of two
	added atomic.Int64
}

func newBloom(window int) *bloom {
	bits := uint64(1)
	for bits < uint64(window)*bitsPerKey {
		bits <<= 1
	}
	return &bloom{words: make([]atomic.Uint64, bits/64), mask: bits - 1}
}

// test reports whether every bit of h is set; set sets them and reports
// whether any was newly set (the key was new).
func (b *bloom) test(h uint64) bool {
	h1, h2 := h, h>>32|h<<32
	for i := range uint64(hashes) {
		bit := (h1 + i*h2) & b.mask
		if b.words[bit/64].Load()&(1<<(bit%64)) == 0 {
			return false
		}
	}
	return true
}

func (b *bloom) set(h uint64) bool {
	h1, h2 := h, h>>32|h<<32
	added := false
	for i := range uint64(hashes) {
		bit := (h1 + i*h2) & b.mask
		m := uint64(1) << (bit % 64)
		if b.words[bit/64].Or(m)&m == 0 {
			added = true
		}
	}
	return added
}

type generations struct{ cur, prev *bloom }

// Filter remembers the keys seen in about the last two Windows of
// distinct keys.
type Filter struct {
	seed   maphash.Seed
	window int
	gens   atomic.Pointer[generations]
	mu     sync.Mutex // rotation
}

// New returns a Filter whose generations hold window keys each (zero:
// DefaultWindow).
func New(window int) *Filter {
	if window <= 0 {
		window = DefaultWindow
	}
	f := &Filter{seed: maphash.MakeSeed(), window: window}
	f.gens.Store(&generations{cur: newBloom(window), prev: newBloom(window)})
	return f
}

// Seen records key and reports whether it had been recorded before, within
// the window (false positives about 1%: a key seen once then reads as seen
// again; never the other way round within the window).
func (f *Filter) Seen(key string) bool {
	h := maphash.String(f.seed, key)
	g := f.gens.Load()
	if g.cur.test(h) {
		return true
	}
	before := g.prev.test(h)
	if g.cur.set(h) && g.cur.added.Add(1) >= int64(f.window) {
		f.rotate(g)
	}
	return before
}

// rotate starts a fresh generation once, whoever sees g full first.
func (f *Filter) rotate(g *generations) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.gens.Load() == g {
		f.gens.Store(&generations{cur: newBloom(f.window), prev: g.cur})
	}
}
