package gateway

import (
	"net/http"
	"slices"
	"time"

	"github.com/cachegate/cachegate/headers"
	"github.com/cachegate/cachegate/stats"
)

// writeEntry answers the client from a stored entry: its header (shared,
// not copied: entries are immutable), Age, the public headers, Cache-Status,
// then 304 when the client's validators match, else status and body (none
// for HEAD).
func (g *Gateway) writeEntry(w http.ResponseWriter, x *exchange, e *Entry, age time.Duration, status string) {
	h := w.Header()
	for k, vs := range e.Header {
		h[k] = vs
	}
	h["Age"] = []string{headers.FormatAge(age)}
	g.publicHeaders(h, x, e.Tags)
	h["Cache-Status"] = []string{status}
	if g.notModified(x, e) {
		delete(h, "Content-Length")
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.WriteHeader(e.Status)
	if x.method != http.MethodHead {
		w.Write(e.Body)
	}
}

// notModified evaluates the client's conditionals against e, counting the
// browser layer: a 304 is a browser-cache hit, a conditional that does not
// match a miss.
func (g *Gateway) notModified(x *exchange, e *Entry) bool {
	if !conditional(x.req) {
		return false
	}
	if headers.NotModified(x.method, x.req, e.Status, e.Header) {
		x.rec.Hit(stats.Browser)
		return true
	}
	x.rec.Miss(stats.Browser)
	return false
}

// publicHeaders sets what a public response tells the client and the CDN:
// policy's Cache-Control for browsers and for the CDN, the CDN's tag header
// through the TagEmitter, and never the origin's tag headers.
func (g *Gateway) publicHeaders(h http.Header, x *exchange, tags []string) {
	for _, t := range tagHeaders {
		delete(h, t)
	}
	if x.locale != "" && !varies(h, "Accept-Language") {
		// The key has the locale even when the origin does not say it
		// varies: downstream caches must know too.
		h["Vary"] = append(slices.Clip(h["Vary"]), "Accept-Language")
	}
	if x.d.BrowserCacheControl != "" {
		h["Cache-Control"] = []string{x.d.BrowserCacheControl}
	}
	if x.d.CDNCacheControl != "" && x.d.CDNCacheControlHeader != "" {
		h.Set(x.d.CDNCacheControlHeader, x.d.CDNCacheControl)
	}
	if g.cfg.TagEmitter != nil {
		if t := explicitTags(tags); len(t) > 0 {
			g.cfg.TagEmitter.Emit(h, x.d.Tenant, t)
		}
	}
}

func varies(h http.Header, name string) bool {
	names, star := headers.ParseVary(h)
	return star || slices.Contains(names, name)
}

// privateHeaders makes a response uncacheable anywhere and strips its tags.
func (g *Gateway) privateHeaders(h http.Header) {
	for _, t := range tagHeaders {
		h.Del(t)
	}
	h.Set("Cache-Control", "private, no-store")
	h.Del("Expires")
	h.Del("Surrogate-Control")
	h.Del("CDN-Cache-Control")
}
