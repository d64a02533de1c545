package gateway

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"strconv"
	"strings"
	"time"

	"github.com/cachegate/cachegate/headers"
	"github.com/cachegate/cachegate/policy"
	"github.com/cachegate/cachegate/stats"
)

type kind int

const (
	kindCacheable  kind = iota // GET/HEAD through the cache
	kindBypass                 // private or bypass: never looked up nor stored
	kindMethod                 // other methods: forwarded, unsafe ones invalidate
	kindBackground             // stale-while-revalidate refresh, no client
)

// exchange is the state of one request through the gateway, carried to the
// shared ReverseProxy's hooks in the request context.
type exchange struct {
	kind   kind
	d      policy.Decision
	rec    stats.Request
	target string      // path?query as sent
	method string      // the client's
	req    http.Header // the client's request header
	host   string
	reqCC  headers.CacheControl
	locale string
	key    string // primary key; see keyBuf
	// keyBuf holds the primary key's bytes while key aliases them, so a
	// fresh L1 hit allocates no key. The buffer is written again only when
	// the exchange is recycled, after a fresh hit; so before anything that
	// outlives the request may keep the key (L2's copy to L1, fills,
	// coalescing, revalidation), lookup gives it its own bytes (ownKey).
	keyBuf []byte
	obs    *observation // the client request's; nil for background work

	gen1, gen2     uint64 // layer generations read before the fetch
	l1Down, l2Down bool   // a layer failed its Get: do not fill it
	noL2           bool   // a key not asked for before: L2 admission says no
	vary           []string
	varyRec        *Entry // the variant record vary was read from
	varyMiss       bool
	found          bool // some layer held something under the primary key

	stale    *Entry // best stored entry that was not servable as is
	staleKey string
	staleF   freshness

	reqTime time.Time
	cancel  context.CancelCauseFunc
	timer   *time.Timer
	status  cacheStatus // being built for a forwarded response
	fwd     string

	// Outcome, for coalesced waiters: the entry stored, and its key.
	entry    *Entry
	entryKey string
	served   bool // the response was answered from an entry (refresh, stale)
	// failed is the status of an origin that failed: 502, 504 for a
	// timeout, or the 5xx it answered and the gateway did not store.
	failed int
	// failedAnswer is that 5xx answer, for waiters, when it may be
	// handed to them (see shareFailure).
	failedAnswer *failedAnswer
	// land hands the waiters of the fetch this request leads their
	// outcome before the request ends (once; later calls and the
	// leader's own landing do nothing); nil when it leads none.
	land func(flightResult)
	// unlock frees the fill lock x holds across instances (once; nil when
	// it holds none), for a fetch that will store nothing.
	unlock func()
}

// landEarly lets x's waiters go with res as soon as it is known, rather
// than when x's client has its whole body. Unless res is a failure (which
// the lock says when it is released with the request), the fill lock goes
// too, on its own goroutine: it is a call to L2, and the client's header
// or the stall timer need not wait for it.
func (x *exchange) landEarly(res flightResult) {
	if x.land != nil {
		x.land(res)
	}
	if x.unlock != nil && res.failed == 0 {
		go x.unlock()
	}
}

func (x *exchange) setStale(e *Entry, key string, f freshness) {
	x.stale, x.staleKey, x.staleF = e, key, f
}

type ctxKey struct{}

func exchangeFrom(ctx context.Context) *exchange {
	x, _ := ctx.Value(ctxKey{}).(*exchange)
	return x
}

var errOriginTimeout = errors.New("origin timeout")

// forward sends the request to the origin through the shared proxy, with
// the origin timeout armed until the response header (and, for a response
// being stored, its body) has arrived: a long uncached stream is not cut.
func (g *Gateway) forward(w http.ResponseWriter, r *http.Request, x *exchange) {
	ctx, cancel := context.WithCancelCause(r.Context())
	defer cancel(nil)
	x.cancel = cancel
	x.timer = time.AfterFunc(g.cfg.OriginTimeout, func() { cancel(errOriginTimeout) })
	defer x.timer.Stop()
	x.reqTime = g.now()
	if x.kind != kindBackground {
		x.rec.Forwarded()
	}
	g.proxy.ServeHTTP(w, r.WithContext(context.WithValue(ctx, ctxKey{}, x)))
}

// rewrite builds the origin request: origin URL, the canonical Host and
// the forwarding headers cachegate sets itself (originRequest), and on the
// cache path the normalized Accept-Encoding, Accept-Language (the
// negotiated locale when the policy lists locales), Accept-Charset and
// Accept the variant is keyed by, without the client's validators (the cache needs a
// full response; it answers the client's conditionals and ranges itself).
func (g *Gateway) rewrite(pr *httputil.ProxyRequest) {
	pr.SetURL(g.cfg.Origin)
	x := exchangeFrom(pr.In.Context())
	cachePath := x != nil && (x.kind == kindCacheable || x.kind == kindBackground)
	originRequest(pr, cachePath)
	if x != nil && x.obs != nil {
		// The id the client is answered with, in place of any it sent.
		pr.Out.Header[HeaderRequestID] = x.obs.id
	} else {
		// A background refresh has no client: not the (unchecked) id of
		// the request that triggered it.
		delete(pr.Out.Header, HeaderRequestID)
	}
	if !cachePath {
		return
	}
	out := pr.Out.Header
	pr.Out.Method = http.MethodGet // HEAD is filled with GET and served from the entry
	if enc := headers.NormalizeAcceptEncoding(joinValues(pr.In.Header["Accept-Encoding"])); enc != "" {
		out.Set("Accept-Encoding", enc)
	} else {
		// Go's transport then asks for gzip and decodes: the identity
		// bucket is stored decoded.
		out.Del("Accept-Encoding")
	}
	if x.locale != "" {
		out.Set("Accept-Language", x.locale)
	}
	// The origin gets the weighted lists in the form a variant is keyed by
	// (headers.NormalizeVaryValue), so that two spellings the key takes
	// for one never get two answers, of which one would be served to both.
	for _, name := range normalizedLists {
		if len(pr.In.Header[name]) == 0 || name == "Accept-Language" && x.locale != "" {
			continue
		}
		if v := headers.NormalizeVaryValue(name, pr.In.Header, nil); v != "" {
			out[name] = []string{v}
		} else {
			// Nothing acceptable listed (each q=0): keyed as no header.
			delete(out, name)
		}
	}
	out.Del("If-None-Match")
	out.Del("If-Modified-Since")
	if x.stale != nil {
		headers.ValidatorHeaders(out, x.stale.Header())
	}
}

// normalizedLists are the weighted-list request headers sent to the origin
// normalized, as their Vary'd variants are keyed.
var normalizedLists = [...]string{"Accept-Language", "Accept-Charset", "Accept"}

func joinValues(vs []string) string {
	switch len(vs) {
	case 0:
		return ""
	case 1:
		return vs[0]
	}
	s := vs[0]
	for _, v := range vs[1:] {
		s += "," + v
	}
	return s
}

// errorHandler answers an origin that failed: stale where stale-if-error
// allows, else 504 for a timeout and 502 for anything else, with a body
// saying so. The failure is left in x for the waiters of a coalesced fetch.
func (g *Gateway) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	x := exchangeFrom(r.Context())
	timeout := errors.Is(context.Cause(r.Context()), errOriginTimeout) || isTimeout(err)
	gone := r.Context().Err() != nil && !timeout
	status := http.StatusBadGateway
	if timeout {
		status = http.StatusGatewayTimeout
	}
	if x != nil && !gone {
		x.failed = status
	}
	if x != nil && g.serveStaleIfError(w, x, false) {
		return
	}
	if gone {
		// The client went away; nobody reads this answer.
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	g.m.count(x.obs, outcomeError)
	malformed := ""
	if !timeout {
		malformed, _ = malformedResponse(err)
	}
	g.cfg.Logger.Warn("origin request failed", "tenant", tenantOf(x), "path", r.URL.Path, "status", status, "err", err)
	fwd := fwdMiss
	if x != nil {
		switch x.kind {
		case kindBypass:
			fwd = fwdBypass
		case kindMethod:
			fwd = fwdMethod
		default:
			fwd = x.forwardReason()
		}
	}
	g.writeFailure(w, fwd, status, false, malformed)
}

// serveStaleIfError answers from x's stale entry when stale-if-error
// allows it for x's request.
func (g *Gateway) serveStaleIfError(w http.ResponseWriter, x *exchange, collapsed bool) bool {
	if x.stale == nil || !x.staleF.staleIfError(x) {
		return false
	}
	g.m.count(x.obs, outcomeStaleError)
	s := newStatus(g.cfg.CacheName)
	s.token("fwd", fwdStale)
	if collapsed {
		s.flag("collapsed")
	}
	s.int("ttl", seconds(x.staleF.lifetime-x.staleF.age))
	s.token("detail", "stale-if-error")
	x.served = true
	g.writeEntry(w, x, x.stale, x.staleF.age, s.String())
	return true
}

// writeFailure answers status (502, 504 for a timeout, or the 5xx the
// origin answered another request's fetch) for an origin that failed, with
// a body saying so; collapsed when the failure was another request's fetch.
func (g *Gateway) writeFailure(w http.ResponseWriter, fwd string, status int, collapsed bool, malformed string) {
	msg, detail := "cachegate: the origin could not be reached or failed mid-response\n", "origin-error"
	switch {
	case status == http.StatusGatewayTimeout:
		detail = "origin-timeout"
		msg = "cachegate: the origin did not answer within " + g.cfg.OriginTimeout.String() + "\n"
	case malformed != "":
		detail = "origin-malformed"
		msg = "cachegate: the origin's response is malformed: " + malformed + "\n"
	case status != http.StatusBadGateway:
		// A 5xx the origin answered to the fetch this request waited on.
		msg = "cachegate: the origin answered " + strconv.Itoa(status) + " to the same request a moment ago\n"
	}
	s := newStatus(g.cfg.CacheName)
	s.token("fwd", fwd)
	if collapsed {
		s.flag("collapsed")
	}
	s.token("detail", detail)
	h := w.Header()
	g.identify(h)
	h.Set("Cache-Status", s.String())
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	io.WriteString(w, msg)
}

// malformedResponse tells a response the transport could not read as HTTP
// (conflicting Content-Length values, a Transfer-Encoding it cannot
// decode) from a connection that failed, and says what was wrong. The
// transport's errors for these are not exported: what tells them apart is
// that they are neither network errors nor an early end of the stream.
func malformedResponse(err error) (string, bool) {
	var ne net.Error
	if errors.As(err, &ne) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "", false
	}
	const broken = "transport connection broken: "
	s := err.Error()
	i := strings.Index(s, broken)
	if i < 0 {
		return "", false
	}
	return s[i+len(broken):], true
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

func tenantOf(x *exchange) string {
	if x == nil {
		return ""
	}
	return x.d.Tenant
}

// discardWriter is the client of a background revalidation.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header {
	if d.h == nil {
		d.h = http.Header{}
	}
	return d.h
}
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}
