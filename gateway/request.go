package gateway

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"

	"github.com/cachegate/cachegate/uri"
)

// canonicalize puts r's host and target in their canonical forms (package
// uri) before anything reads them: the policy, the key, the stats and the
// request the origin is sent all see the same host and target, so nothing
// the origin renders can differ from what the key says. It reports false
// for a Host that is not a host (answered 400).
func canonicalize(r *http.Request) (target string, ok bool) {
	host, err := uri.Host(r.Host)
	if err != nil {
		return "", false
	}
	r.Host = host
	raw := requestTarget(r)
	target = uri.Target(raw)
	if target == raw {
		return target, true
	}
	// Only escapes changed: the decoded path is the same, its spelling and
	// the query's are not.
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return raw, true
	}
	r.URL.RawPath, r.URL.RawQuery = u.RawPath, u.RawQuery
	r.RequestURI = target
	return target, true
}

// Headers a client may send that frameworks trust to rebuild the request's
// URL, scheme, host or client address. cachegate is the proxy in front of
// the origin: it sets the forwarding headers itself from what it keyed
// (rewrite), and removes these on every request, so none of them can make
// the origin render a page that is then stored for everybody. Go's
// ReverseProxy already removes Forwarded, X-Forwarded-For, -Host and -Proto.
var forwardingHeaders = []string{
	"X-Forwarded-Port", "X-Forwarded-Prefix", "X-Forwarded-Scheme", "X-Forwarded-Server",
	"X-Forwarded-Ssl", "X-Forwarded-Uri", "X-Forwarded-Path", "Front-End-Https", "X-Url-Scheme",
	"X-Real-Ip", "X-Client-Ip", "True-Client-Ip",
	"X-Host", "X-Original-Host", "X-Original-Url", "X-Original-Uri", "X-Rewrite-Url",
}

// overrideHeaders make an origin run another method than the request line
// says. On the cache path they are removed: a GET that a framework runs as
// a DELETE or a POST must not be stored as the page. On other methods they
// pass (APIs tunnel methods through POST); nothing is stored from those.
var overrideHeaders = []string{"X-Http-Method-Override", "X-Http-Method", "X-Method-Override"}

// rangeHeaders are not sent on the cache path: the cache fetches the whole
// response, stores it once and answers ranges from it (ranges.go).
var rangeHeaders = []string{"Range", "If-Range"}

// originRequest makes pr.Out what the key says: the canonical host as Host
// and X-Forwarded-Host, the gateway's own listener port as
// X-Forwarded-Port, the peer's address as X-Forwarded-For, no forwarding
// header of the client's; on the cache path also no method override, no
// range and no body.
func originRequest(pr *httputil.ProxyRequest, cachePath bool) {
	pr.Out.Host = pr.In.Host
	out := pr.Out.Header
	for _, k := range forwardingHeaders {
		delete(out, k)
	}
	pr.SetXForwarded()
	if a, ok := pr.In.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, port, err := net.SplitHostPort(a.String()); err == nil {
			out["X-Forwarded-Port"] = []string{port}
		}
	}
	if !cachePath {
		return
	}
	for _, k := range overrideHeaders {
		delete(out, k)
	}
	for _, k := range rangeHeaders {
		delete(out, k)
	}
	// A GET or HEAD body has no meaning (RFC 9110 9.3.1) and is not in the
	// key: like Varnish on a miss, the origin is sent none.
	pr.Out.Body, pr.Out.ContentLength, pr.Out.TransferEncoding = http.NoBody, 0, nil
	delete(out, "Content-Length")
	delete(out, "Transfer-Encoding")
}

// safeMethod reports whether m is safe (RFC 9110 9.2.1 and the IANA method
// registry). Every other method, unknown ones included, invalidates its
// target on success (RFC 9111 4.4).
func safeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace,
		"PROPFIND", "REPORT", "SEARCH", "QUERY":
		return true
	}
	return false
}

// badHost answers a request whose Host is not a host.
func (g *Gateway) badHost(w http.ResponseWriter, obs *observation) {
	g.m.count(obs, outcomeError)
	g.identify(w.Header())
	w.Header().Set("Cache-Status", g.cfg.CacheName+"; fwd=request; detail=bad-host")
	http.Error(w, "cachegate: malformed Host header", http.StatusBadRequest)
}
