package gateway

import (
	"context"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/cachegate/cachegate/headers"
	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/stats"
	"github.com/cachegate/cachegate/tagging"
)

// Assembled pages kept for reuse. Assembling a page costs a lookup per
// fragment through the policy, the key and the layers, then the parts'
// hash: several times a whole page's hit. So a page whose shell and every
// fragment were fresh L1 hits is kept, assembled, with the identity of
// each entry it was made from: the shell's and each fragment's *Entry as
// L1 returned it (the primary key's variant record too, for a fragment
// with Vary). Entries are immutable and a layer stores a new one for every
// fill, so the same pointer is the same response. The next request for
// the page reuses it only when
//
//   - its shell is again a fresh L1 hit on the very same entry, with the
//     same ETag after the rule's rewriting, and its host and target are
//     the same (the includes resolve alike);
//   - it agrees with the kept request on every header field that could
//     select another fragment: those the policy's decisions read (a
//     Policy that names them, RequestHeaders; for one that does not,
//     every field the fragments are asked with), Accept-Language where a
//     fragment's route has locales, and each fragment's Vary'd fields;
//   - each fragment's key still holds the same entry in L1, fresh now.
//
// An L1 Get is the liveness test: an invalidated entry (its tags, its
// tenant, a Clear, L1 switched off) is not returned, a softly
// invalidated one is returned as a copy, a refill stores another entry,
// and an expired one fails the freshness test; each makes the page
// assembled again. Nothing of a user is kept: a page with a private
// fragment, or any fragment answered otherwise than from L1 (a fetch, an
// L2 hit), is never kept. A request with Cache-Control or Pragma is
// assembled afresh (its directives change what counts as fresh).
//
// Memory: a kept page holds its assembled body and keeps its entries
// alive, so its size counts both (each entry's Size, even when L1 still
// counts it too). Kept pages have their own budget, esiPageBudget, not
// L1's: at most that many bytes are held, and a page over esiPageMax is
// not kept. The table is direct-mapped by shell, two ways per slot,
// lock-free; a page that does not fit makes room by dropping kept pages
// in turn (a clock hand).

const (
	esiPageSlots  = 1024      // a power of two
	esiPageBudget = 8 << 20   // bytes held by kept pages, entries included
	esiPageMax    = 256 << 10 // the largest page kept, entries included
	esiPageBase   = 512       // a kept page's own structures
	esiDepBytes   = 256       // a fragment's record, beyond its strings
)

// esiPages is the table of kept pages. Its zero value is empty and ready.
type esiPages struct {
	slots [esiPageSlots]atomic.Pointer[esiPage]
	used  atomic.Int64  // bytes of the pages held (esiPage.size)
	hand  atomic.Uint64 // the next slot to drop for room
	// reused counts pages answered from a kept assembly.
	reused atomic.Uint64
}

// esiPage is one kept assembly.
type esiPage struct {
	shell        *Entry
	shellETag    string // the shell's ETag as the client got it
	host, target string
	// names are the header fields compared, values their values in the
	// request the page was assembled for; with allFields, every field the
	// fragments were asked with is compared (anonymous, below).
	names     []string
	values    [][]string
	allFields bool
	anonymous http.Header

	deps []esiDep
	// counts are the deps' stats handles, each with how many deps share
	// it: counted at once on reuse.
	counts []esiCount
	view   assembledView
	body   []byte
	size   int64
	status atomic.Pointer[statusPair] // the last Cache-Status (cacheStatus)
}

// esiCount is a stats handle and how many fragments of a page count on it.
type esiCount struct {
	rec stats.Request
	n   uint64
}

// esiDep is one fragment entry a kept page was made from.
type esiDep struct {
	tenant, key string
	record      *Entry // the variant record under key, for a fragment with Vary
	variantKey  string
	entry       *Entry
	d           policy.Decision
	rec         stats.Request // counted again on reuse (esiPage.counts), as Cached counts
	// until is when entry stops being fresh for d, as evaluate found it
	// (its age grows with the clock, its lifetime is fixed); zero when
	// its lifetime may change (a learnt TTL): evaluate decides each time.
	until time.Time
}

// WriteTo writes the page's body.
func (p *esiPage) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(p.body)
	return int64(n), err
}

// slot returns the two ways of shell's slot.
func (t *esiPages) slot(shell *Entry) (*atomic.Pointer[esiPage], *atomic.Pointer[esiPage]) {
	// The address is stable: a kept page keeps its shell alive, so no
	// other entry can be at the address while a page names it.
	h := uint64(uintptr(unsafe.Pointer(shell))) * 0x9E3779B97F4A7C15
	i := (h >> 32) & (esiPageSlots - 1) &^ 1
	return &t.slots[i], &t.slots[i+1]
}

// find returns the page kept for shell that r may reuse, and its way.
func (t *esiPages) find(shell *Entry, shellETag string, r *http.Request) (*esiPage, *atomic.Pointer[esiPage]) {
	a, b := t.slot(shell)
	for _, way := range [2]*atomic.Pointer[esiPage]{a, b} {
		if p := way.Load(); p != nil && p.shell == shell && p.matches(r, shellETag) {
			return p, way
		}
	}
	return nil, nil
}

// drop removes p from way, if it is still there.
func (t *esiPages) drop(way *atomic.Pointer[esiPage], p *esiPage) {
	if way.CompareAndSwap(p, nil) {
		t.used.Add(-p.size)
	}
}

// keep stores p, within the budget.
func (t *esiPages) keep(p *esiPage) {
	if p.size > esiPageMax {
		return
	}
	// An empty way, else either: two variants of a page, or two pages
	// whose shells share the slot, can be kept side by side.
	a, b := t.slot(p.shell)
	way := a
	switch {
	case a.Load() == nil:
	case b.Load() == nil || t.hand.Load()&1 == 1:
		way = b
	}
	if old := way.Load(); old != nil {
		t.drop(way, old)
	}
	// Reserve first, so the pages held never exceed the budget.
	for tries := 0; !t.reserve(p.size); tries++ {
		if tries == 2*esiPageSlots {
			return
		}
		s := &t.slots[t.hand.Add(1)&(esiPageSlots-1)]
		if old := s.Load(); old != nil {
			t.drop(s, old)
		}
	}
	if !way.CompareAndSwap(nil, p) {
		t.used.Add(-p.size) // another request kept its page there
	}
}

// reserve counts n more bytes held, unless that would exceed the budget.
func (t *esiPages) reserve(n int64) bool {
	for {
		u := t.used.Load()
		if u+n > esiPageBudget {
			return false
		}
		if t.used.CompareAndSwap(u, u+n) {
			return true
		}
	}
}

// matches reports whether r may reuse p (its shell already checked).
func (p *esiPage) matches(r *http.Request, shellETag string) bool {
	if r.Host != p.host || shellETag != p.shellETag || requestTarget(r) != p.target {
		return false
	}
	if p.allFields {
		n := 0
		for k, vs := range r.Header {
			if notToShell(k, true) {
				continue
			}
			n++
			if !slices.Equal(vs, p.anonymous[k]) {
				return false
			}
		}
		return n == len(p.anonymous)
	}
	for i, name := range p.names {
		if !slices.Equal(r.Header[name], p.values[i]) {
			return false
		}
	}
	return true
}

// keepable reports whether r's page may be kept or reused at all.
func keepable(r *http.Request) bool {
	return len(r.Header["Cache-Control"]) == 0 && len(r.Header["Pragma"]) == 0
}

// live reports whether every fragment of p is still the entry it was
// assembled from, fresh in L1 at now (when the shell was found fresh);
// then it counts them as Cached does.
func (g *Gateway) live(ctx context.Context, p *esiPage, now time.Time) bool {
	for i := range p.deps {
		dp := &p.deps[i]
		e, _, err := g.cfg.L1.Get(ctx, dp.tenant, dp.key)
		if err != nil || e == nil {
			return false
		}
		if dp.record != nil {
			if e != dp.record {
				return false
			}
			if e, _, err = g.cfg.L1.Get(ctx, dp.tenant, dp.variantKey); err != nil {
				return false
			}
		}
		if e != dp.entry {
			return false
		}
		if !dp.until.IsZero() {
			if !now.Before(dp.until) {
				return false
			}
		} else if !g.freshFor(dp.d, e, now) {
			return false
		}
	}
	for _, c := range p.counts {
		c.rec.RepeatHits(c.n, stats.L1)
	}
	g.m.l1Hits.Add(float64(len(p.deps)))
	return true
}

// freshFor reports whether e is fresh at now for a request without
// Cache-Control decided d.
func (g *Gateway) freshFor(d policy.Decision, e *Entry, now time.Time) bool {
	x := exchange{d: d}
	return g.evaluate(&x, e, now).use == useFresh
}

// reuse answers r from the page kept for its shell, if there is one that
// is still right; false leaves r to be assembled.
func (g *Gateway) reuse(w http.ResponseWriter, r *http.Request, b *esiBuffer) bool {
	h := w.Header()
	p, way := g.esiPages.find(b.entry, firstValue(h["Etag"]), r)
	if p == nil {
		return false
	}
	if !g.live(r.Context(), p, b.now) {
		// It will never be right again: its entries are gone or changed.
		g.esiPages.drop(way, p)
		return false
	}
	g.esiPages.reused.Add(1)
	g.writeAssembled(w, r, b.status, p.cacheStatus(firstValue(h["Cache-Status"])), &p.view, p)
	return true
}

// statusPair is a shell's Cache-Status value and the page's made of it.
type statusPair struct {
	shell string
	page  []string
}

// cacheStatus is the page's Cache-Status for the shell's value: shells
// served within the same second share theirs (hitStatusValue), so the
// last one is kept rather than concatenated again.
func (p *esiPage) cacheStatus(shell string) []string {
	if last := p.status.Load(); last != nil && last.shell == shell {
		return last.page
	}
	sp := &statusPair{shell: shell, page: []string{shell + p.view.status}}
	p.status.Store(sp)
	return sp.page
}

// notePage records what Cached answered for f's page: a fragment entry
// from L1 (a dependency), or anything else, which keeps the page from
// being kept.
func (f *fragmentFetcher) notePage(layer string, x *exchange, e *Entry, rec stats.Request, now time.Time, fr freshness) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if layer != stats.L1 || f.unkept {
		f.unkept = true
		return
	}
	dp := esiDep{tenant: x.d.Tenant, key: x.key, entry: e, d: x.d, rec: rec}
	if x.d.AutoTTL == nil {
		dp.until = now.Add(fr.lifetime - fr.age)
	}
	if x.varyRec != nil {
		dp.record = x.varyRec
		dp.variantKey = variantKey(x.key, x.vary, x.req, x.d.Locales)
		for _, name := range x.vary {
			f.names = append(f.names, http.CanonicalHeaderKey(name))
		}
	}
	if len(x.d.Locales) > 0 {
		f.names = append(f.names, "Accept-Language")
	}
	f.deps = append(f.deps, dp)
}

// unkeep marks f's page as not to be kept.
func (f *fragmentFetcher) unkeep() {
	f.mu.Lock()
	f.unkept = true
	f.mu.Unlock()
}

// keptPage builds the page to keep for r, from the shell entry, the
// fragments f noted and the assembled view and body.
func (g *Gateway) keptPage(r *http.Request, shell *Entry, shellETag string, f *fragmentFetcher, v assembledView, body []byte) *esiPage {
	p := &esiPage{shell: shell, shellETag: shellETag, host: r.Host, target: requestTarget(r),
		deps: f.deps, view: v, body: body}
	p.size = int64(esiPageBase + len(body) + shell.Size() + len(p.host) + len(p.target))
	names := f.names
	if pn, ok := g.cfg.Policy.(interface{ RequestHeaders() []string }); ok {
		names = append(names, pn.RequestHeaders()...)
	} else {
		p.allFields = true
		p.anonymous = f.anon.Header.Clone()
		for k, vs := range p.anonymous {
			p.size += int64(len(k) + esiDepBytes)
			for _, s := range vs {
				p.size += int64(len(s))
			}
		}
	}
	slices.Sort(names)
	for _, name := range slices.Compact(names) {
		if notToShell(name, true) {
			continue // never sent with a shared fragment
		}
		vs := slices.Clone(r.Header[name])
		p.names = append(p.names, name)
		p.values = append(p.values, vs)
		p.size += int64(len(name) + esiDepBytes)
		for _, s := range vs {
			p.size += int64(len(s))
		}
	}
	for _, dp := range p.deps {
		if i := slices.IndexFunc(p.counts, func(c esiCount) bool { return c.rec == dp.rec }); i >= 0 {
			p.counts[i].n++
		} else {
			p.counts = append(p.counts, esiCount{rec: dp.rec, n: 1})
		}
		p.size += int64(esiDepBytes + len(dp.key) + len(dp.variantKey) + dp.entry.Size())
		if dp.record != nil {
			p.size += int64(dp.record.Size())
		}
	}
	return p
}

// assembledView is what the answer of an assembled page sets in its
// shell's header (esi.go says what each is).
type assembledView struct {
	status  string   // appended to the shell's Cache-Status
	etag    []string // the ETag of the assembled body
	length  []string // its Content-Length
	private bool     // some fragment was private
}

func newAssembledView(fragments, hits int, etag string, size int, private bool) assembledView {
	return assembledView{
		status:  "; fragments=" + strconv.Itoa(fragments) + "; fragment-hits=" + strconv.Itoa(hits),
		etag:    []string{etag},
		length:  []string{strconv.Itoa(size)},
		private: private,
	}
}

// writeAssembled answers an assembled page: the shell's header in w
// rewritten per v, 304 when the client's validators match the assembled
// ETag, else status and body (none for HEAD). v's slices may be shared
// with other responses: nothing appends to them.
func (g *Gateway) writeAssembled(w http.ResponseWriter, r *http.Request, status int, cs []string, v *assembledView, body io.WriterTo) {
	h := w.Header()
	h["Cache-Status"] = cs
	h["Etag"] = v.etag
	delete(h, "Last-Modified")
	delete(h, "Accept-Ranges")
	h["Content-Length"] = v.length
	switch {
	case v.private:
		tagging.StripInternalHeaders(h)
		h["Cache-Control"] = []string{"private, no-store"}
	case g.cfg.TagEmitter != nil:
		tagging.StripInternalHeaders(h)
		// no-cache lets a browser keep the page with a revalidation; a
		// shell that said no-store (a bypass, a staff preview) keeps
		// saying it.
		if cc, _ := headers.ParseCacheControl(h["Cache-Control"]); cc.NoStore {
			h["Cache-Control"] = []string{"private, no-store"}
		} else {
			h["Cache-Control"] = []string{"private, no-cache"}
		}
	}
	if conditional(r.Header) && headers.NotModified(r.Method, r.Header, status, h) {
		delete(h, "Content-Length")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		body.WriteTo(w)
	}
}
