package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/cachegate/cachegate/esi"
	"github.com/cachegate/cachegate/headers"
	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/stats"
	"github.com/cachegate/cachegate/uri"
)

// Fragments (ESI). A response is assembled when its rule says esi:
// assemble, or when its origin sends Surrogate-Control: content="ESI/1.0"
// and the rule does not say esi: pass. The shell is cached as the origin
// sent it, with its own key, TTL and tags; on the way out, markESI (called
// where every response header is rewritten) marks it, the writer holds it
// back (observedWriter.WriteHeader), and finishESI assembles it once serve
// returned: no fill lock or flight is held while fragments are fetched.
//
// Each include is resolved against the page's URL, on the page's host
// only: an include naming another host is refused (the fragment would be
// fetched from this gateway's one origin under another tenant's name, or
// not at all). Each is served through serve, as an ordinary GET with its
// own key, Vary, TTL and tags, so invalidating a fragment's tag refetches
// that fragment alone, and a stale fragment is used where its
// stale-if-error allows.
//
// Credentials: the shell of an esi: assemble route and every public
// fragment are requested without the user's Cookie and Authorization, so
// they are shared. A fragment is private when its route is private, or
// when its anonymous answer is not shareable (private, no-store, Vary on
// Cookie or Authorization, a bypass); it is then fetched again with the
// user's credentials, as a bypass (never looked up nor stored), and the
// page is answered "private, no-store". Declaring such fragments' routes
// private saves the anonymous request. Without esi: assemble, a shell the
// origin marked is fetched as the client asked it, credentials included.
//
// The assembled page: the shell's status and header; an ETag over the
// assembled body (esi.Result.ETag), no Last-Modified; Content-Length of
// the assembled body; Cache-Status with fragments=N and fragment-hits=H
// (fragments resolved at every depth, and how many came from a layer);
// the Surrogate-Control content="ESI/1.0" directive removed. With a CDN in
// front, an assembled page is sent "private, no-cache" without tags: the
// CDN's purge of a fragment's tag would not reach a page stored whole
// there (use esi: pass to have such a CDN assemble). A fragment that
// fails uses its alt, then onerror="continue", else the page is 502.
//
// A page whose shell and fragments were all fresh L1 hits is kept
// assembled and reused while each of those entries stays the same and
// fresh (esipage.go says when exactly).

// esiMarkHeader marks a response to assemble between responseHeaders and
// the writer; it never leaves the gateway. Its values say whether the
// shell was asked for without credentials (esiMarkAssemble).
const esiMarkHeader = "Cachegate-Esi-Assemble"

// esiMarkOrigin is the mark of a shell that only its origin's
// Surrogate-Control asked to assemble.
const esiMarkOrigin = "origin"

// surrogateField is a Surrogate-Control field as markESI reads it:
// whether it asks for ESI, and the field without that directive (nil for
// none left).
type surrogateField struct {
	esi  bool
	rest []string
}

func newSurrogateField(vs []string) *surrogateField {
	rest, found := surrogateESI(vs)
	f := &surrogateField{esi: found}
	if rest != "" {
		f.rest = []string{rest}
	}
	return f
}

// markESI marks h for assembly per d's rule and the origin's
// Surrogate-Control, whose ESI directive is consumed here: a CDN in front
// must not assemble the page again. Under esi: pass it stays for the CDN.
// known says sf is h's Surrogate-Control already read (a stored entry's,
// derived once; nil for none), so h's is not parsed again.
func (g *Gateway) markESI(h http.Header, d policy.Decision, known bool, sf *surrogateField) {
	delete(h, esiMarkHeader) // an origin cannot name what the gateway marks
	if d.ESI == policy.ESIPass {
		return
	}
	mark := d.ESI == policy.ESIAssemble
	originMark := false
	if !known {
		if sc, ok := h["Surrogate-Control"]; ok {
			sf = newSurrogateField(sc)
		}
	}
	if sf != nil && sf.esi {
		originMark = true
		if sf.rest == nil {
			delete(h, "Surrogate-Control")
		} else {
			h["Surrogate-Control"] = sf.rest // shared: nothing appends to it
		}
	}
	switch {
	case mark && !d.Private:
		// Its shell was asked for without credentials (serveShell).
		h[esiMarkHeader] = g.esiMarks[0]
	case mark || originMark:
		h[esiMarkHeader] = g.esiMarks[1]
	}
}

// surrogateESI reports whether Surrogate-Control asks for ESI processing
// (a content directive naming ESI/1.0, for any device), and the field
// without that directive.
func surrogateESI(vs []string) (string, bool) {
	var found bool
	var rest []string
	for _, v := range vs {
		for _, d := range strings.Split(v, ",") {
			d = strings.TrimSpace(d)
			name, val, _ := strings.Cut(d, "=")
			if strings.EqualFold(strings.TrimSpace(name), "content") && strings.Contains(strings.ToUpper(val), "ESI/1.0") {
				found = true
				continue
			}
			if d != "" {
				rest = append(rest, d)
			}
		}
	}
	return strings.Join(rest, ", "), found
}

// esiInternalKey marks the context of a request the gateway made itself
// for ESI (a shell without credentials, a fragment): an esi: assemble
// rule does not start another assembly from it.
type esiInternalKey struct{}

func esiInternal(ctx context.Context) bool { return ctx.Value(esiInternalKey{}) != nil }

// serveShell serves r's shell without the user's credentials, for an
// esi: assemble route; finishESI then assembles it for r. It reports
// false for a request that is already the gateway's own.
func (g *Gateway) serveShell(w http.ResponseWriter, r *http.Request, obs *observation, d policy.Decision) bool {
	if esiInternal(r.Context()) || r.Method != http.MethodGet && r.Method != http.MethodHead ||
		d.Private && d.PrivateReason == "route:"+d.Rule {
		// A private route's page is its user's, shell included.
		return false
	}
	g.serve(w, shellRequest(r, true), obs)
	return true
}

// shellRequest is r as the shell is asked for: GET, without the client's
// validators and ranges (the client's If-None-Match is for the assembled
// page, answered by finishESI), without Accept-Encoding (the shell is
// parsed, so it is fetched and stored decoded) and, with anonymous, without
// credentials.
func shellRequest(r *http.Request, anonymous bool) *http.Request {
	s := r.Clone(context.WithValue(r.Context(), esiInternalKey{}, true))
	s.Method = http.MethodGet
	for k := range s.Header {
		if notToShell(k, anonymous) {
			delete(s.Header, k)
		}
	}
	return s
}

// anonymousCopy is shellRequest(r, true) for a lookup alone (Cached):
// a shallow copy with its own header, whose context is r's.
func anonymousCopy(r *http.Request) *http.Request {
	s := *r
	s.Method = http.MethodGet
	s.Header = make(http.Header, len(r.Header))
	for k, vs := range r.Header {
		if !notToShell(k, true) {
			s.Header[k] = vs
		}
	}
	return &s
}

// notToShell reports whether the header named k (canonical) stays out of
// the gateway's own requests for a shell or a fragment.
func notToShell(k string, anonymous bool) bool {
	switch k {
	case "If-None-Match", "If-Modified-Since", "If-Match", "If-Unmodified-Since", "Range", "If-Range", "Accept-Encoding":
		return true
	case "Cookie", "Authorization", "Proxy-Authorization":
		return anonymous
	}
	return false
}

// esiBuffer is a response held back for assembly: its status and body
// (the header stays in the writer's map), bounded by limit.
type esiBuffer struct {
	status int
	body   bytes.Buffer
	limit  int64
	over   bool
	// entry is the stored entry whose body this is, held by reference
	// instead of copied (holdEntry); fresh says it was a fresh L1 hit,
	// whose assembly may be kept (esipage.go).
	entry *Entry
	fresh bool
	now   time.Time // when fresh: the instant the shell was found fresh
}

// bytes is the body held.
func (b *esiBuffer) bytes() []byte {
	if b.entry != nil {
		return b.entry.Body
	}
	return b.body.Bytes()
}

var errESITooLarge = errors.New("cachegate: ESI document larger than the maximum object size")

func (b *esiBuffer) Write(p []byte) (int, error) {
	if b.entry != nil {
		b.body.Write(b.entry.Body)
		b.entry, b.fresh = nil, false
	}
	if int64(b.body.Len()+len(p)) > b.limit {
		b.over = true
		return 0, errESITooLarge
	}
	return b.body.Write(p)
}

// holdESI is called by observedWriter.WriteHeader: a final status on a
// response marked for assembly is held back instead of written, and so is
// its body (observedWriter.Write), up to the largest object stored.
func (w *observedWriter) holdESI(code int) bool {
	if w.esi == nil {
		if w.status != 0 || code < 200 || len(w.Header()[esiMarkHeader]) == 0 {
			return false
		}
		w.esiBuf = esiBuffer{limit: w.esiLimit}
		w.esi = &w.esiBuf
	}
	if w.esi.status == 0 && code >= 200 {
		w.esi.status = code
	}
	return true
}

// holdEntry holds e's body for assembly, by reference (entries are
// immutable), when w holds back a response and has no body yet.
func (w *observedWriter) holdEntry(e *Entry) bool {
	b := w.esi
	if b == nil || b.entry != nil || b.body.Len() > 0 {
		return false
	}
	if int64(len(e.Body)) > b.limit {
		b.over = true
	} else {
		b.entry = e
	}
	return true
}

// markFresh notes that the response w holds back is e, a fresh L1 hit at
// now.
func markFresh(w http.ResponseWriter, e *Entry, now time.Time) {
	if ow, ok := w.(*observedWriter); ok && ow.esi != nil && ow.esi.entry == e {
		ow.esi.fresh, ow.esi.now = true, now
	}
}

// finishESI assembles a response serve left held back in w for r, and
// writes it.
func (g *Gateway) finishESI(w *observedWriter, r *http.Request, obs *observation) {
	b := w.esi
	h := w.Header()
	mode := h[esiMarkHeader]
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		// Only what the cache path serves is assembled.
		w.esi = nil
		delete(h, esiMarkHeader)
		w.WriteHeader(b.status)
		w.Write(b.bytes())
		return
	}
	anonymous := len(mode) > 0 && mode[0] == policy.ESIAssemble
	if b.status == http.StatusNotModified || b.status == http.StatusPartialContent ||
		r.Method == http.MethodHead && !anonymous || firstValue(h["Content-Encoding"]) != "" {
		// Not the whole decoded shell: ask for it as shellRequest does.
		// (An anonymous shell was already asked for so, as a GET.)
		clear(h)
		b = &esiBuffer{limit: b.limit}
		w.esi = b
		g.serve(w, shellRequest(r, anonymous), obs)
		if len(h[esiMarkHeader]) == 0 {
			// The shell is no longer one (it changed meanwhile).
			w.esi = nil
			w.WriteHeader(max(b.status, http.StatusOK))
			w.Write(b.bytes())
			return
		}
	}
	w.esi = nil
	delete(h, esiMarkHeader)
	if b.over {
		g.writeESIFailure(w, obs, errESITooLarge)
		return
	}
	// A page made of fresh L1 entries alone may be kept, and one kept
	// may answer it (esipage.go).
	keep := b.fresh && b.status == http.StatusOK && keepable(r)
	if keep && g.reuse(w, r, b) {
		return
	}
	shellETag := entityTag(b.status, h, b.bytes())
	f := &fragmentFetcher{g: g, client: r, anon: anonymousCopy(r), keep: keep}
	a := esi.Assembler{Fetcher: f, Docs: g.esiDocs, Timeout: g.cfg.ESITimeout, MaxDepth: g.cfg.ESIMaxDepth}
	res, err := a.Assemble(r.Context(), pageURL(r), b.bytes(), shellETag)
	if err != nil {
		g.writeESIFailure(w, obs, err)
		return
	}
	v := newAssembledView(res.Fragments, res.Hits, res.ETag, res.Size, res.Private)
	cs := []string{firstValue(h["Cache-Status"]) + v.status}
	if keep && !res.Private && !f.unkept && res.Size <= esiPageMax {
		body := res.Bytes()
		g.esiPages.keep(g.keptPage(r, b.entry, shellETag, f, v, body))
		g.writeAssembled(w, r, b.status, cs, &v, bytes.NewReader(body))
		return
	}
	g.writeAssembled(w, r, b.status, cs, &v, &res)
}

// firstValue is the first of a field's values, or "".
func firstValue(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// writeESIFailure answers a page that could not be assembled: 502.
func (g *Gateway) writeESIFailure(w http.ResponseWriter, obs *observation, err error) {
	g.m.count(obs, outcomeError)
	g.cfg.Logger.Warn("ESI assembly failed", "tenant", obs.tenant, "route", obs.route, "err", err)
	h := w.Header()
	clear(h)
	g.identify(h)
	h.Set("Cache-Status", g.cfg.CacheName+"; fwd=request; detail=esi-error")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusBadGateway)
	fmt.Fprintf(w, "cachegate: the page's fragments could not be assembled: %v\n", err)
}

// pageURL is r's URL as includes are resolved against it.
func pageURL(r *http.Request) string { return "http://" + r.Host + r.URL.RequestURI() }

// fragmentFetcher fetches includes through the gateway's own serve, for
// one client request.
type fragmentFetcher struct {
	g      *Gateway
	client *http.Request // the user's request: the credentials of private fragments
	anon   *http.Request // shellRequest(client, true), the model of Cached's lookups

	// keep: the page may be kept (esipage.go); then Cached notes the
	// entries it answers from, and anything else unkeeps the page.
	keep   bool
	mu     sync.Mutex
	deps   []esiDep
	names  []string // header fields that selected a fragment's entry
	unkept bool
}

var _ esi.CachedFetcher = (*fragmentFetcher)(nil)

// Cached answers an include from a fresh entry of L1 or L2, as serve's
// lookup finds it, with none of serve's writing: most fragments of a page
// are such hits. Anything else (a miss, stale, private, a Vary on
// credentials) is left to Fetch.
func (f *fragmentFetcher) Cached(base, src string) (esi.Fragment, bool) {
	target, err := f.resolve(base, src)
	if err != nil {
		return esi.Fragment{}, false
	}
	u, err := targetURL(target)
	if err != nil {
		return esi.Fragment{}, false
	}
	r := *f.anon
	r.URL, r.RequestURI = u, target
	g := f.g
	d := g.cfg.Policy.Decide(&r)
	if d.Private || d.Bypass || d.Tenant == "" {
		return esi.Fragment{}, false
	}
	x := g.getExchange()
	defer g.putExchange(x)
	x.d, x.target, x.method, x.req, x.host, x.kind = d, target, http.MethodGet, r.Header, r.Host, kindCacheable
	x.reqCC, _ = headers.ParseCacheControl(r.Header["Cache-Control"])
	if len(d.Locales) > 0 {
		x.locale = headers.NegotiateLocale(strings.Join(r.Header["Accept-Language"], ","), d.Locales)
	}
	x.key = primaryKey(d.Tenant, x.host, x.locale, target)
	now := g.now()
	e, layer, fr := g.lookup(r.Context(), x, now)
	if e == nil || fr.use != useFresh || e.Status != http.StatusOK || variesOnCredentials(e.Vary) {
		return esi.Fragment{}, false
	}
	// lookup counted nothing (x.rec is the zero Request): count the hit.
	rec := g.cfg.Stats.Begin(d.Tenant, d.Rule, u.Path)
	if layer == stats.L2 {
		rec.Miss(stats.L1)
	}
	rec.Hit(layer)
	g.m.countSeries(nil, g.m.hit(layer))
	if f.keep {
		f.notePage(layer, x, e, rec, now, fr)
	}
	sc := false
	if v := e.header.values("Surrogate-Control"); len(v) > 0 {
		_, sc = surrogateESI(v)
	}
	return esi.Fragment{
		URL:  "http://" + r.Host + target,
		Body: e.Body,
		Hit:  true,
		ETag: e.header.get("Etag"),
		ESI:  d.ESI == policy.ESIAssemble || d.ESI != policy.ESIPass && sc,
	}, true
}

func variesOnCredentials(vary []string) bool {
	for _, v := range vary {
		if strings.EqualFold(v, "Cookie") || strings.EqualFold(v, "Authorization") {
			return true
		}
	}
	return false
}

// Fetch resolves src against base on the page's host and serves it.
func (f *fragmentFetcher) Fetch(ctx context.Context, base, src string) (esi.Fragment, error) {
	if f.keep {
		f.unkeep() // not an L1 hit: the page is not kept
	}
	target, err := f.resolve(base, src)
	if err != nil {
		return esi.Fragment{}, err
	}
	anon := f.request(ctx, target, false)
	private := f.g.cfg.Policy.Decide(anon).Private
	var c *esiCapture
	if !private {
		c = f.serve(anon, false)
		private = c.private()
	}
	switch {
	case private && hasCredentials(f.client.Header):
		c = f.serve(f.request(ctx, target, true), true)
	case c == nil:
		// A private route and no credentials to send: fetched all the
		// same, for this user alone.
		c = f.serve(anon, true)
	}
	switch {
	case c.status != http.StatusOK:
		return esi.Fragment{}, fmt.Errorf("fragment answered %d (%s)", c.status, c.h.Get("Cache-Status"))
	case c.over:
		return esi.Fragment{}, errESITooLarge
	case c.aborted:
		if err := ctx.Err(); err != nil {
			return esi.Fragment{}, fmt.Errorf("fragment cut off: %w", err)
		}
		return esi.Fragment{}, errors.New("fragment cut off mid-body")
	}
	return esi.Fragment{
		URL:     "http://" + f.client.Host + target,
		Body:    c.body.Bytes(),
		Hit:     strings.Contains(c.h.Get("Cache-Status"), "; hit"),
		Private: private,
		ETag:    entityTag(c.status, c.h, c.body.Bytes()),
		ESI:     len(c.h[esiMarkHeader]) > 0,
	}, nil
}

// resolve resolves src against base and returns its target (path?query),
// refusing another host.
func (f *fragmentFetcher) resolve(base, src string) (string, error) {
	if simplePath(src) {
		// The common include, an absolute path with nothing to resolve.
		return uri.Target(src), nil
	}
	b, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("base URL %q: %w", base, err)
	}
	ref, err := url.Parse(src)
	if err != nil {
		return "", fmt.Errorf("src %q is not a URL", src)
	}
	u := b.ResolveReference(ref)
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("src %q: only http and https includes are fetched", src)
	}
	if h, err := uri.Host(u.Host); err != nil || h != f.client.Host {
		return "", fmt.Errorf("src %q names another host: includes are fetched from the page's own host only", src)
	}
	return uri.Target(u.RequestURI()), nil
}

// request builds the GET of a fragment: the client's header without its
// validators, ranges, Accept-Encoding and, unless withCredentials, its
// Cookie and Authorization.
func (f *fragmentFetcher) request(ctx context.Context, target string, withCredentials bool) *http.Request {
	r := shellRequest(f.client, !withCredentials)
	r = r.WithContext(context.WithValue(ctx, esiInternalKey{}, true))
	r.RequestURI = target
	u, err := targetURL(target)
	if err == nil {
		r.URL = u
	}
	return r
}

// serve runs a fragment request through the gateway, forced to bypass the
// shared layers when private.
func (f *fragmentFetcher) serve(r *http.Request, private bool) (c *esiCapture) {
	c = &esiCapture{h: http.Header{}, esiBuffer: esiBuffer{limit: f.g.cfg.MaxObjectSize}}
	defer func() {
		// The proxy aborts a response it cannot finish (the fragment's
		// timeout mid-body, a body over the limit) by panicking with
		// http.ErrAbortHandler, which net/http recovers for a client's
		// request. Here it would end the process from the assembler's
		// goroutine: the fragment failed, nothing more.
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				panic(p)
			}
			c.aborted = true
		}
	}()
	obs := &observation{id: f.client.Header.Values(HeaderRequestID)}
	if !private {
		f.g.serve(c, r, obs)
		return c
	}
	target, ok := canonicalize(r)
	if !ok {
		c.status = http.StatusBadRequest
		return c
	}
	d := f.g.cfg.Policy.Decide(r)
	d.Private, d.PrivateReason = true, "esi:private-fragment"
	x := &exchange{d: d, target: target, method: r.Method, req: r.Header, host: r.Host, obs: obs, kind: kindBypass}
	x.rec = f.g.cfg.Stats.Begin(d.Tenant, d.Rule, r.URL.Path)
	f.g.m.count(obs, outcomeBypass)
	f.g.forward(c, r, x)
	return c
}

// simplePath reports whether src is an absolute path that resolves to
// itself on any base: no scheme or authority, no dot segments.
func simplePath(src string) bool {
	if len(src) == 0 || src[0] != '/' || len(src) > 1 && src[1] == '/' {
		return false
	}
	p, _, _ := strings.Cut(src, "?")
	return !strings.Contains(p, "/.") && !strings.ContainsAny(src, "#\\ ")
}

// targetURL is the URL of a canonical request target; without escapes it
// is built directly, not parsed.
func targetURL(target string) (*url.URL, error) {
	if strings.IndexByte(target, '%') >= 0 {
		return url.ParseRequestURI(target)
	}
	p, q, _ := strings.Cut(target, "?")
	return &url.URL{Path: p, RawQuery: q}, nil
}

func hasCredentials(h http.Header) bool {
	return len(h["Cookie"]) > 0 || len(h["Authorization"]) > 0
}

// esiCapture is the writer of a fragment request.
type esiCapture struct {
	h http.Header
	esiBuffer
	aborted bool // the response was cut off
}

func (c *esiCapture) Header() http.Header { return c.h }

func (c *esiCapture) WriteHeader(code int) {
	if c.status == 0 && code >= 200 {
		c.status = code
	}
}

func (c *esiCapture) Write(p []byte) (int, error) {
	if c.status == 0 {
		c.status = http.StatusOK
	}
	return c.esiBuffer.Write(p)
}

// private reports whether the anonymous answer of a fragment may not be
// shared: it was not stored for a reason that names a user, or it varies
// by credentials.
func (c *esiCapture) private() bool {
	cs := c.h.Get("Cache-Status")
	if strings.Contains(cs, "fwd=bypass") || strings.Contains(cs, "detail=origin-private") ||
		strings.Contains(cs, "detail=origin-no-store") || strings.Contains(cs, "detail=set-cookie") {
		return true
	}
	cc, _ := headers.ParseCacheControl(c.h["Cache-Control"])
	if cc.Private || cc.NoStore {
		return true
	}
	vary, _ := headers.ParseVary(c.h)
	return variesOnCredentials(vary)
}
