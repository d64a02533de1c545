package gateway

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"time"
	"unique"

	"github.com/cachegate/cachegate/headers"
	"github.com/cachegate/cachegate/invalidation"
	"github.com/cachegate/cachegate/stats"
	"github.com/cachegate/cachegate/tagging"
)

// modifyResponse is where every origin response passes: it observes
// latency, stores what may be stored, and sets what the client is told.
func (g *Gateway) modifyResponse(resp *http.Response) error {
	x := exchangeFrom(resp.Request.Context())
	if x == nil {
		return nil
	}
	now := g.now()
	g.m.originSeconds.Observe(now.Sub(x.reqTime).Seconds())
	x.obs.setOrigin(now.Sub(x.reqTime))
	switch x.kind {
	case kindBypass:
		x.timer.Stop()
		g.clientHeaders(resp.Header, x.d, nil)
		resp.Header.Set("Cache-Status", g.cfg.CacheName+"; fwd="+fwdBypass)
		return nil
	case kindMethod:
		x.timer.Stop()
		d, _ := responseDecision(x, resp.StatusCode, resp.Header)
		g.clientHeaders(resp.Header, d, nil)
		if unsafeMethod(resp.Request.Method) && resp.StatusCode >= 200 && resp.StatusCode < 400 {
			g.invalidateWritten(resp.Request, x, resp.Header)
		}
		s := newStatus(g.cfg.CacheName)
		s.token("fwd", fwdMethod)
		s.int("fwd-status", int64(resp.StatusCode))
		resp.Header.Set("Cache-Status", s.String())
		return nil
	}

	x.status = newStatus(g.cfg.CacheName)
	x.status.token("fwd", x.forwardReason())
	x.status.int("fwd-status", int64(resp.StatusCode))

	if x.stale != nil && resp.StatusCode == http.StatusNotModified {
		return g.refresh(resp, x, now)
	}
	if x.stale != nil && resp.StatusCode >= 500 && x.staleF.staleIfError(x) {
		// The waiters of this fetch are told the origin failed, and serve
		// the stale entry too where their request allows it.
		x.failed = resp.StatusCode
		g.m.count(x.obs, outcomeStaleError)
		x.timer.Stop()
		x.status.int("ttl", seconds(x.staleF.lifetime-x.staleF.age))
		x.status.token("detail", "stale-if-error")
		x.served = true
		g.respondWith(resp, x, x.stale, now, false)
		return nil
	}

	originTags := g.originTags(x, resp.Header)
	e, ttl, fresh, detail := g.storable(resp, x, now, originTags)
	ok := detail == ""
	stream := false
	if ok {
		if stream = streamable(x); !stream {
			body, why, err := g.readWhole(resp)
			if err != nil {
				return err
			}
			e.Body = body
			ok, detail = why == "", why
		} else {
			var ahead *fillBuffer
			if resp.ContentLength < 0 {
				// Most bodies of unknown length are short: one that ends
				// within the read-ahead is known whole before the header
				// and answered as stored, with its length.
				body, f, why, err := g.readAhead(resp)
				switch {
				case err != nil:
					return err
				case why != "":
					ok, detail, stream = false, why, false
				case body != nil:
					e.Body, stream = body, false
				}
				ahead = f
			}
			if stream {
				if why := g.streamFill(resp.Request.Context(), resp, x, e, ttl, ahead); why != "" {
					ok, detail, stream = false, why, false
				}
			}
		}
	}
	x.timer.Stop()
	if !ok {
		g.m.count(x.obs, outcomeMiss)
		x.status.token("detail", detail)
		d, public := responseDecision(x, resp.StatusCode, resp.Header)
		var tags []string
		if public {
			tags = entryTags(originTags, x.d.Tags, x.target)
		}
		x.rec.Tagged(tags, false)
		tagging.StripTagHeaders(resp.Header)
		resp.Header.Del("Cache-Status")
		g.clientHeaders(resp.Header, d, tags)
		resp.Header.Set("Cache-Status", x.status.String())
		if x.method == http.MethodHead {
			resp.Body.Close()
			resp.Body = http.NoBody
		}
		if resp.StatusCode >= 500 && x.kind == kindCacheable && !ownAnswer(x) {
			g.shareFailure(resp, x, d)
		}
		// The waiters' outcome is known at this header: they need not wait
		// for this client to read the body (a slow one, or a long body).
		if x.failed != 0 {
			x.landEarly(flightResult{failed: x.failed, answer: x.failedAnswer})
		} else {
			x.landEarly(flightResult{again: ownAnswer(x) || resp.Request.Context().Err() != nil})
		}
		cutStream(resp, x)
		return nil
	}
	g.finishEntry(e, resp.ContentLength, stream)
	x.rec.Tagged(e.Tags, false)
	if !stream {
		g.fill(resp.Request.Context(), x, e, ttl)
	}
	g.m.count(x.obs, outcomeMiss)
	if x.kind == kindCacheable {
		g.warm.observe(x, e.Tags)
	}
	// RFC 9211's ttl is the freshness left, not how long the layers keep
	// the entry (which adds the stale windows).
	if stream && resp.ContentLength < 0 {
		// Whether a body of unknown length fits MaxObjectSize and the
		// budget is known only at its end, after this header: "stored"
		// would promise what may not happen, so the detail says why it
		// is not claimed. The next request shows the outcome (a hit).
		x.status.int("ttl", seconds(fresh))
		x.status.token("detail", detailUnknownLength)
	} else {
		// Decided before the header: the body's length is reserved in
		// the budget (or already read); only a body cut short (by the
		// origin, or given up on a client that stopped reading), which
		// its client sees cut too, is not stored after all.
		x.status.flag("stored")
		x.status.int("ttl", seconds(fresh))
	}
	g.respondWith(resp, x, e, now, stream)
	return nil
}

func (x *exchange) forwardReason() string {
	switch {
	case x.fwd != "":
		return x.fwd
	case x.stale != nil:
		return x.staleF.reason
	case x.varyMiss:
		return fwdVaryMiss
	case x.reqCC.NoStore:
		return fwdRequest
	case !x.found && !x.l1Down && !x.l2Down && x.locale == "":
		return fwdURIMiss
	}
	return fwdMiss
}

type readCloser struct {
	io.Reader
	io.Closer
}

// storable decides whether resp may be stored for x's request
// (headers.Storable, and the gateway's size limits) and, if so, returns
// the entry (without its body), how long to keep it, and its remaining
// freshness; if not, the Cache-Status detail saying why.
func (g *Gateway) storable(resp *http.Response, x *exchange, now time.Time, originTags []string) (*Entry, time.Duration, time.Duration, string) {
	h := resp.Header
	if resp.ContentLength > g.cfg.MaxObjectSize || headerBytes(h) > g.cfg.MaxHeaderBytes {
		return nil, 0, 0, headers.DetailTooLarge
	}
	if ok, detail := headers.Storable(g.storeInput(x, resp.StatusCode, h, now)); !ok {
		return nil, 0, 0, detail
	}
	vary, _ := headers.ParseVary(h)
	e := &Entry{
		Status:       resp.StatusCode,
		Tags:         entryTags(originTags, x.d.Tags, x.target),
		RequestTime:  x.reqTime,
		ResponseTime: now,
		Vary:         vary,
	}
	e.SetHeader(h)
	f := g.evaluate(x, e, now)
	ttl := storeTTL(f, g.cfg.MaxTTL)
	if ttl <= 0 {
		return nil, 0, 0, headers.DetailNoValidator
	}
	return e, ttl, f.lifetime - f.age, ""
}

// storeInput gathers what headers.Storable reads about a response to x.
func (g *Gateway) storeInput(x *exchange, status int, h http.Header, now time.Time) headers.StoreInput {
	return headers.StoreInput{
		Status:         status,
		Header:         h,
		CC:             headers.CacheDirectives(h, g.rules.targeted),
		RequestNoStore: x.reqCC.NoStore,
		Preconditioned: len(x.req["If-Match"]) > 0 || len(x.req["If-Unmodified-Since"]) > 0,
		Override:       x.d.OverrideOrigin,
		PolicyTTL:      x.d.TTL != nil,
		Heuristic:      g.cfg.Heuristic,
		ResponseTime:   now,
	}
}

// finishEntry completes a stored header: no tag headers, framing for the
// stored body, a Date, and a strong ETag from the body when the origin
// gave no validator, so clients can revalidate against the cache. The
// generated ETag also goes to this response's client when the body was
// read first. A streamed entry (stream) has no body yet: it keeps the
// announced length (or none when unannounced) and gets no ETag, so its
// header is what its client may be told before the body; streamFill
// finishes it again once the body is whole. e must not be shared yet: its
// header is set again, and derived from the map at hand (fill would build
// one).
func (g *Gateway) finishEntry(e *Entry, length int64, stream bool) {
	h := e.Header()
	tagging.StripTagHeaders(h)
	h.Del("Cache-Status")
	h.Del("Transfer-Encoding")
	if !stream {
		length = int64(len(e.Body))
	}
	switch cl := strconv.FormatInt(length, 10); {
	case length < 0:
		h.Del("Content-Length")
	case h.Get("Content-Length") != cl:
		h.Set("Content-Length", cl)
	}
	if h.Get("Date") == "" {
		h.Set("Date", e.ResponseTime.UTC().Format(http.TimeFormat))
	}
	if !stream && h.Get("ETag") == "" {
		if etag := entityTag(e.Status, h, e.Body); etag != "" {
			h.Set("ETag", etag)
		}
	}
	internValues(h)
	e.SetHeader(h)
	e.derived = deriveEntry(e, h, &g.rules)
}

// entityTag is the ETag of a response of status with header h and body
// as the gateway stores it: the origin's, else, for a 2xx without
// Last-Modified either, a strong one generated from the body. A miss
// streamed to its client before its body was known went without the
// generated one; a reader of the whole body (ESI assembly) names it here
// as the stored copy will, so the same bytes get the same validator.
func entityTag(status int, h http.Header, body []byte) string {
	if v := h.Get("ETag"); v != "" || h.Get("Last-Modified") != "" || status < 200 || status >= 300 {
		return v
	}
	return headers.BodyETag(body)
}

// internValues replaces h's values, which h must own, by canonical copies
// (package unique): most of a site's responses share their Content-Type,
// Cache-Control and Content-Length, and those filled in the same second
// their Date, so the entries keep one copy of each value instead of one
// each (about 85 of the 3,100 bytes of a 2 KiB entry). An ETag is most
// often the response's own, and is kept as it is.
func internValues(h http.Header) {
	for k, vs := range h {
		if k == "Etag" {
			continue
		}
		for i, v := range vs {
			vs[i] = unique.Make(v).Value()
		}
	}
}

// fill stores e in each layer whose Get succeeded, stamped with that
// layer's generation read before the fetch; a response that varies gets a
// variant record under the primary key and is stored under its variant key.
func (g *Gateway) fill(ctx context.Context, x *exchange, e *Entry, ttl time.Duration) {
	// e is complete and not yet shared: derive once what every hit on it
	// would otherwise parse again (finishEntry did for a fetched entry).
	if e.derived == nil {
		e.derived = deriveEntry(e, e.Header(), &g.rules)
	}
	if old := x.stale; old != nil && x.d.AutoTTL != nil {
		// A revalidation: what it shows teaches the route's TTL. Every
		// stored 2xx has a validator (finishEntry adds a body ETag). A
		// change after a soft invalidation was announced by its event.
		changed := e.header.get("Etag") != old.header.get("Etag") ||
			e.header.get("Last-Modified") != old.header.get("Last-Modified")
		g.auto.observe(x.d.Rule, *x.d.AutoTTL, e.RequestTime.Sub(old.ResponseTime), changed, !old.SoftSince.IsZero(), e.ResponseTime)
	}
	key := x.key
	if len(e.Vary) > 0 {
		key = variantKey(x.key, e.Vary, x.req, x.d.Locales)
	}
	if x.d.AutoTTL != nil {
		g.auto.stored(x.d.Rule, *x.d.AutoTTL, x.d.Tenant, key, e.Tags, e.RequestTime)
	}
	x.entry, x.entryKey = e, key
	ctx, cancel := storeContext(ctx)
	defer cancel()
	for _, l := range []struct {
		s    Store
		name string
		gen  uint64
		down bool
	}{{g.cfg.L1, stats.L1, x.gen1, x.l1Down}, {g.cfg.L2, stats.L2, x.gen2, x.l2Down}} {
		if l.s == nil || l.down {
			continue
		}
		if l.name == stats.L2 && g.admit != nil {
			if x.noL2 {
				g.rejected.Add(1)
				continue
			}
			g.admitted.Add(1)
		}
		c := *e
		c.FetchGen = l.gen
		if len(e.Vary) > 0 {
			rec := &Entry{Vary: e.Vary, Tags: e.Tags, FetchGen: l.gen, RequestTime: e.RequestTime, ResponseTime: e.ResponseTime}
			if err := l.s.Set(ctx, x.d.Tenant, x.key, rec, ttl); err != nil {
				g.warn.layer(l.name, "set", err)
				continue
			}
		}
		if err := l.s.Set(ctx, x.d.Tenant, key, &c, ttl); err != nil {
			g.warn.layer(l.name, "set", err)
		}
	}
}

// refresh handles the origin's 304 to a revalidation: the stored entry gets
// the new header fields and response times (RFC 9111 4.3.4), is stored
// again, and answers the client.
func (g *Gateway) refresh(resp *http.Response, x *exchange, now time.Time) error {
	x.timer.Stop()
	old := x.stale
	h := headers.Update304(old.Header(), resp.Header)
	tagging.StripTagHeaders(h)
	h.Del("Cache-Status")
	e := &Entry{Status: old.Status, Body: old.Body, Tags: old.Tags, RequestTime: x.reqTime, ResponseTime: now, Vary: old.Vary}
	e.SetHeader(h)
	f := g.evaluate(x, e, now)
	ttl := storeTTL(f, g.cfg.MaxTTL)
	// The updated header decides as a full response would: a 304 may
	// bring no-store, or a Set-Cookie (which Update304 merged into h)
	// that makes the response this client's alone.
	if ok, _ := headers.Storable(g.storeInput(x, e.Status, h, now)); ok && ttl > 0 {
		g.fill(resp.Request.Context(), x, e, ttl)
		x.status.flag("stored")
	}
	g.m.count(x.obs, outcomeRevalidated)
	x.status.int("ttl", seconds(f.lifetime-f.age))
	x.served = true
	g.respondWith(resp, x, e, now, false)
	return nil
}

// respondWith turns the origin's response into e as the client should see
// it: e's status, header and body, Age, public headers, Cache-Status, and
// 304 when the client's validators match.
//
// With stream, resp's body is the origin's, on its way to the store
// (streamFill), and goes to the client as it is.
func (g *Gateway) respondWith(resp *http.Response, x *exchange, e *Entry, now time.Time, stream bool) {
	if resp.Body != nil && !stream {
		resp.Body.Close()
	}
	h := make(http.Header, e.HeaderLen()+3)
	e.header.copyTo(h)
	h.Set("Age", headers.FormatAge(headers.CurrentAge(h, e.RequestTime, e.ResponseTime, now)))
	d, public := responseDecision(x, e.Status, h)
	tags := e.Tags
	if !public {
		tags = nil
	}
	g.clientHeaders(h, d, tags)
	h.Set("Cache-Status", x.status.String())
	resp.Header = h
	resp.StatusCode = e.Status
	resp.Status = ""
	if stream {
		return
	}
	if g.notModified(x, e) {
		resp.StatusCode = http.StatusNotModified
		h.Del("Content-Length")
		resp.ContentLength = 0
		resp.Body = http.NoBody
		return
	}
	if rangeRequested(x, e) {
		rangeResponse(resp, x, e)
		return
	}
	if x.method == http.MethodHead {
		resp.Body = http.NoBody
		resp.ContentLength = int64(len(e.Body))
		return
	}
	resp.ContentLength = int64(len(e.Body))
	resp.Body = io.NopCloser(bytes.NewReader(e.Body))
}

// invalidateWritten invalidates, after a successful unsafe request, its
// target and the Location / Content-Location it names on the same host
// (RFC 9111 4.4), in L2 then L1, before the client sees the response: the
// writer's next read is a miss.
func (g *Gateway) invalidateWritten(r *http.Request, x *exchange, h http.Header) {
	tags := []string{invalidation.URLTag(x.target)}
	for _, name := range []string{"Location", "Content-Location"} {
		if t, ok := sameHostTarget(x.host, x.target, h.Get(name)); ok {
			tags = append(tags, invalidation.URLTag(t))
		}
	}
	ctx, cancel := storeContext(r.Context())
	defer cancel()
	if err := g.InvalidateTags(ctx, x.d.Tenant, tags...); err != nil {
		g.cfg.Logger.Warn("invalidating the target of an unsafe request", "tenant", x.d.Tenant, "method", r.Method, "err", err)
	}
}
