package gateway

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Range requests (RFC 9110 14) are answered from the stored complete
// response, never by the origin: the cache path sends no Range (request.go),
// so a miss fetches and stores the whole response once and the range is cut
// from it. The cutting is net/http's ServeContent: it parses the Range
// header (single, open, suffix and several ranges, overlapping or past the
// end), evaluates If-Range against the stored ETag or Last-Modified,
// answers 206 with Content-Range (multipart/byteranges for several ranges),
// 416 with "Content-Range: bytes */length" where no range is satisfiable,
// and the whole 200 where the ranges ask for more than the body. Writing
// that again would be a second copy of well-tested code; ServeContent
// needs only a ResponseWriter and a ReadSeeker, which an entry's body is.
//
// Only a GET for a stored 200 with one Range line in the bytes unit is
// cut; anything else (another unit, HEAD, a stored 404) is answered whole,
// as RFC 9110 14.2 allows a server to ignore Range.
//
// A response that turns out not to be storable (too large, no-store) was
// fetched without Range too. Buffering it to hand ServeContent a
// ReadSeeker would hold a whole video in memory, so cutStream cuts one
// satisfiable range from the stream as it passes (the one place a range
// is parsed here, for a single range and a known length); anything else
// about such a response is answered whole.

// rangeRequested reports whether x's request asks for byte ranges of e.
func rangeRequested(x *exchange, e *Entry) bool {
	v := x.req["Range"]
	return len(v) == 1 && x.method == http.MethodGet && e.Status == http.StatusOK &&
		len(v[0]) > len("bytes=") && strings.EqualFold(v[0][:len("bytes=")], "bytes=")
}

// serveRange writes the answer to x's range request from e to w, whose
// header already holds e's header as the client sees it (Age,
// Cache-Status, ...). Only Range and If-Range are handed to ServeContent:
// the client's other conditionals were evaluated before (notModified).
func serveRange(w http.ResponseWriter, x *exchange, e *Entry) {
	h := w.Header()
	if _, ok := h["Content-Type"]; !ok {
		// Present but empty: ServeContent must not sniff and add a type
		// the origin did not send.
		h["Content-Type"] = nil
	}
	set := x.req["Range"][0][len("bytes="):]
	req := &http.Request{Method: http.MethodGet, Header: http.Header{"Range": {"bytes=" + zeroSuffixes(set, len(e.Body))}}}
	if ir := x.req["If-Range"]; len(ir) > 0 {
		req.Header["If-Range"] = ir
	}
	var modified time.Time
	if lm := e.header.get("Last-Modified"); lm != "" {
		modified, _ = http.ParseTime(lm)
	}
	http.ServeContent(w, req, "", modified, bytes.NewReader(e.Body))
}

// zeroSuffixes rewrites each suffix range of length zero ("-0") in set as
// a range starting at the end of the body. RFC 9110 14.1.1 calls "-0"
// unsatisfiable, but ServeContent answers it 206 with an empty part
// ("bytes 20-19/20"); a range starting at the end is one it knows to be
// unsatisfiable (416 alone, dropped from a set with satisfiable ones).
func zeroSuffixes(set string, size int) string {
	if !strings.Contains(set, "-0") {
		return set
	}
	specs := strings.Split(set, ",")
	for i, sp := range specs {
		sp = strings.TrimSpace(sp)
		if len(sp) > 1 && sp[0] == '-' && strings.Trim(sp[1:], "0") == "" {
			specs[i] = strconv.Itoa(size) + "-"
		}
	}
	return strings.Join(specs, ",")
}

// rangeResponse is serveRange for a response leaving through the proxy
// (a miss just stored, a revalidated or stale-if-error entry): the answer
// is recorded and becomes resp.
func rangeResponse(resp *http.Response, x *exchange, e *Entry) {
	rec := &rangeRecorder{h: resp.Header, status: http.StatusOK}
	serveRange(rec, x, e)
	resp.StatusCode, resp.Status = rec.status, ""
	resp.ContentLength = int64(rec.body.Len())
	resp.Body = io.NopCloser(&rec.body)
}

// cutStream turns resp, a 200 passing through unstored, into the 206 of
// the single satisfiable byte range x asked for, streamed: the bytes
// before the range are read and dropped, those after it are not read.
// Several ranges, an If-Range (whose validator would need checking), an
// unknown length or an unsatisfiable range leave resp whole.
func cutStream(resp *http.Response, x *exchange) {
	v := x.req["Range"]
	if len(v) != 1 || x.method != http.MethodGet || resp.StatusCode != http.StatusOK ||
		resp.ContentLength <= 0 || len(x.req["If-Range"]) > 0 ||
		len(v[0]) <= len("bytes=") || !strings.EqualFold(v[0][:len("bytes=")], "bytes=") {
		return
	}
	start, end, ok := singleRange(v[0][len("bytes="):], resp.ContentLength)
	if !ok {
		return
	}
	n := end - start + 1
	resp.StatusCode, resp.Status = http.StatusPartialContent, ""
	resp.Header.Set("Content-Range", "bytes "+strconv.FormatInt(start, 10)+"-"+strconv.FormatInt(end, 10)+"/"+strconv.FormatInt(resp.ContentLength, 10))
	resp.Header.Set("Content-Length", strconv.FormatInt(n, 10))
	resp.ContentLength = n
	resp.Body = &rangeBody{rc: resp.Body, skip: start, r: io.LimitReader(resp.Body, n)}
}

// singleRange parses one byte range spec ("a-b", "a-", "-n") against a
// representation of size bytes (RFC 9110 14.1.1), returning the first and
// last byte; ok is false for anything else, several ranges included, and
// for an unsatisfiable range.
func singleRange(spec string, size int64) (start, end int64, ok bool) {
	spec = strings.TrimSpace(spec)
	first, last, found := strings.Cut(spec, "-")
	if !found || strings.ContainsAny(last, "-,") {
		return 0, 0, false
	}
	num := func(s string) (int64, bool) {
		if s == "" || len(s) > 18 {
			return 0, false
		}
		var n int64
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return 0, false
			}
			n = n*10 + int64(s[i]-'0')
		}
		return n, true
	}
	if first == "" { // suffix: the last n bytes
		n, ok := num(last)
		if !ok || n == 0 {
			return 0, 0, false
		}
		return max(size-n, 0), size - 1, true
	}
	start, ok = num(first)
	if !ok || start >= size {
		return 0, 0, false
	}
	end = size - 1
	if last != "" {
		e, ok := num(last)
		if !ok || e < start {
			return 0, 0, false
		}
		end = min(e, size-1)
	}
	return start, end, true
}

// rangeBody drops the bytes before the range on the first Read.
type rangeBody struct {
	rc   io.ReadCloser
	skip int64
	r    io.Reader
}

func (b *rangeBody) Read(p []byte) (int, error) {
	if b.skip > 0 {
		if _, err := io.CopyN(io.Discard, b.rc, b.skip); err != nil {
			return 0, err
		}
		b.skip = 0
	}
	return b.r.Read(p)
}

func (b *rangeBody) Close() error { return b.rc.Close() }

// rangeRecorder is the ResponseWriter rangeResponse records into.
type rangeRecorder struct {
	h      http.Header
	status int
	body   bytes.Buffer
}

func (r *rangeRecorder) Header() http.Header         { return r.h }
func (r *rangeRecorder) WriteHeader(code int)        { r.status = code }
func (r *rangeRecorder) Write(p []byte) (int, error) { return r.body.Write(p) }
