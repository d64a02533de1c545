package gateway

import (
	"net/http"
	"slices"
	"time"

	"github.com/cachegate/cachegate/headers"
	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/stats"
)

// writeEntry answers the client from a stored entry, with its age and
// the Cache-Status value status.
func (g *Gateway) writeEntry(w http.ResponseWriter, x *exchange, e *Entry, age time.Duration, status string) {
	g.writeStored(w, x, e, []string{headers.FormatAge(age)}, []string{status})
}

// softStatus is the Cache-Status of an entry a soft invalidation made
// stale, served from layer while one refill runs: fwd=stale, the refill
// being the forward, and the flag soft.
func (g *Gateway) softStatus(layer string, f freshness) string {
	s := newStatus(g.cfg.CacheName)
	s.token("fwd", fwdStale)
	s.token("detail", layer)
	s.int("ttl", seconds(f.lifetime-f.age))
	s.flag("soft")
	return s.String()
}

// writeHit answers a hit (fresh or stale) on layer, with Age and
// Cache-Status values shared with the other hits of the same age and ttl.
func (g *Gateway) writeHit(w http.ResponseWriter, x *exchange, e *Entry, layer string, f freshness) {
	g.writeStored(w, x, e, g.ageValue(ageSeconds(f.age)), g.hitStatusValue(layer, seconds(f.lifetime-f.age)))
}

// writeStored answers the client from a stored entry: its header (the
// values shared, not copied: entries are immutable; header.copyTo), Age,
// the public headers, Cache-Status, then 304 when the client's validators
// match, else the ranges asked for (ranges.go), else status and body (none
// for HEAD). age and status are the Age and Cache-Status field values,
// which may be shared with other responses (nothing appends to them).
func (g *Gateway) writeStored(w http.ResponseWriter, x *exchange, e *Entry, age, status []string) {
	h := w.Header()
	// With nothing in h yet and no internal header in the entry, there is
	// nothing for clientHeaders to strip.
	plain := len(h) == 0 && e.derived != nil && e.derived.plain
	// Likewise its Surrogate-Control is the entry's, read when derived.
	var known *derived
	if len(h) == 0 {
		known = e.derived
	}
	e.header.copyTo(h)
	h["Age"] = age
	// Only storable responses become entries, but a stored one may still
	// keep the origin's directives (a 500 with max-age).
	d, tags := x.d, e.Tags
	m := g.derive(e)
	share := m.share
	if d.OverrideOrigin {
		share = m.shareOverride
	}
	if share != headers.SharePublic {
		var public bool
		if d, public = sharedDecision(d, share); !public {
			tags = nil
		}
	}
	if !e.SoftSince.IsZero() {
		// Content a soft invalidation replaced, served within its window:
		// no cache downstream (a CDN refetching after its own purge, a
		// browser) may keep it past the window.
		d.Bypass, d.BypassReason = true, "soft-invalidated"
	}
	g.responseHeaders(h, d, tags, plain, known)
	h["Cache-Status"] = status
	if g.notModified(x, e) {
		delete(h, "Content-Length")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if len(x.req["Range"]) > 0 && rangeRequested(x, e) {
		serveRange(w, x, e)
		return
	}
	w.WriteHeader(e.Status)
	if x.method != http.MethodHead {
		if ow, ok := w.(*observedWriter); !ok || !ow.holdEntry(e) {
			w.Write(e.Body)
		}
	}
}

// notModified evaluates the client's conditionals against e, counting the
// browser layer: a 304 is a browser-cache hit, a conditional that does not
// match a miss.
func (g *Gateway) notModified(x *exchange, e *Entry) bool {
	if !conditional(x.req) {
		return false
	}
	f := e.header
	if headers.NotModifiedBy(x.method, x.req, e.Status, f.get("Etag"), f.values("Last-Modified"), f.values("Date")) {
		x.rec.Hit(stats.Browser)
		return true
	}
	x.rec.Miss(stats.Browser)
	return false
}

// clientHeaders is the one place where a response's header is rewritten
// for its client (and the CDN in front): policy.ApplyResponse with the
// decision d that applies to this response, then the CDN's tag header for
// a public response, then Server and Via per config. tags are the
// response's tenant-local tags; nil emits none.
//
// Without a CDN (no TagEmitter), what the origin addressed to one
// (CDN-Cache-Control, Surrogate-Control, ...) is removed first: those
// headers are internal between origin and cache. Directives the policy
// sets for a CDN are still sent, because the operator asked for them.
//
// h may share value slices with an immutable entry: everything here
// replaces a slice or deletes a key, never appends in place.
func (g *Gateway) clientHeaders(h http.Header, d policy.Decision, tags []string) {
	g.responseHeaders(h, d, tags, false, nil)
}

// responseHeaders is clientHeaders; plain says h holds no internal header.
// m, when not nil, is the derived values of the entry h is a fresh copy
// of: its fields (derived.fields) are the ones to rewrite.
func (g *Gateway) responseHeaders(h http.Header, d policy.Decision, tags []string, plain bool, m *derived) {
	if !plain || d.ESI != "" {
		// Before the internal headers go: it reads Surrogate-Control,
		// which a plain entry does not have.
		if m != nil && m.fields != nil {
			g.markESI(h, d, true, m.fields.surrogate)
		} else {
			g.markESI(h, d, false, nil)
		}
	}
	if !plain {
		// tagging.StripInternalHeaders, with the names canonicalized once
		// in New: the hit path allocates nothing for it. The gateway's own
		// targeted field goes whether or not a CDN is in front. A copy of
		// an entry deletes the fields the entry has, found when derived.
		internal, own := g.rules.internal, g.rules.own
		if m != nil && m.fields != nil {
			internal, own = m.fields.internal, m.fields.own
		}
		if g.cfg.TagEmitter == nil {
			for _, k := range internal {
				delete(h, k)
			}
		}
		for _, k := range own {
			delete(h, k)
		}
	}
	policy.ApplyResponse(d, h)
	if g.cfg.TagEmitter != nil && len(tags) > 0 && !d.Private && !d.Bypass {
		g.cfg.TagEmitter.Emit(h, d.Tenant, tags)
	}
	g.identify(h)
}

// identify sets Server and Via per config, on every response the gateway
// sends, its own error answers included.
func (g *Gateway) identify(h http.Header) {
	if s := g.cfg.ServerHeader; s != nil {
		if *s == "" {
			delete(h, "Server")
		} else {
			h["Server"] = []string{*s}
		}
	}
	if g.cfg.Via {
		if vs := h["Via"]; len(vs) > 0 {
			h["Via"] = append(slices.Clip(vs), g.via)
		} else {
			// Shared by every response: its length is its capacity, so
			// whoever appends to it gets a copy.
			h["Via"] = g.viaValue
		}
	}
}

// responseDecision is the decision a response fresh from the origin (or
// an entry whose header a 304 just updated) is rewritten by, and whether
// its tags go to the CDN. It is x's decision, except that the gateway never
// tells a client or a CDN to share what it would not share itself
// (headers.ShareAs):
//   - Set-Cookie: sent as private, whatever the rule says (a rule's
//     browser and CDN directives would otherwise make a CDN keep one
//     user's cookie for a day);
//   - an origin's "private" or "no-store", Vary: *, or a status a cache
//     may not store: the origin's Cache-Control stands, unchanged; only
//     the tag headers are removed;
//   - methods other than GET and HEAD: likewise, unless private.
func responseDecision(x *exchange, status int, h http.Header) (policy.Decision, bool) {
	d := x.d
	if d.Private || d.Bypass {
		return d, false
	}
	if x.kind == kindMethod {
		return plainDecision(d), false
	}
	cc, _ := headers.ParseCacheControl(h["Cache-Control"])
	return sharedDecision(d, headers.ShareAs(status, h, cc, d.OverrideOrigin))
}

// sharedDecision is d for a response that may be shared as s.
func sharedDecision(d policy.Decision, s headers.Share) (policy.Decision, bool) {
	switch s {
	case headers.SharePrivate:
		d.Private, d.PrivateReason = true, "response:set-cookie"
		return d, false
	case headers.ShareOrigin:
		return plainDecision(d), false
	}
	return d, true
}

// plainDecision keeps of d only what names the response: nothing of the
// rule's directives or tags applies.
func plainDecision(d policy.Decision) policy.Decision {
	return policy.Decision{Rule: d.Rule, Tenant: d.Tenant, ESI: d.ESI}
}
