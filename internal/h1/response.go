package h1

import (
	"bufio"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"
)

// bufferBeforeChunking is net/http's bufferBeforeChunkingSize: body bytes
// held before the header is committed, so a small body that the handler
// finishes gets a Content-Length instead of chunking.
const bufferBeforeChunking = 2048

// response is the lane's http.ResponseWriter. Its rules mirror net/http's
// response and chunkWriter (WriteHeader, write, finishRequest,
// writeHeader), step for step, so that a handler gets the same answer on
// the wire from either server.
type response struct {
	c      *conn
	req    *http.Request
	isHEAD bool

	header   http.Header // the handler's, live (trailers are read from it)
	snapshot http.Header // header as of WriteHeader, when the commit waits for body bytes

	status        int
	wroteHeader   bool // logically: WriteHeader ran with a non-1xx code
	committed     bool // the header is in the connection's writer
	handlerDone   bool
	chunking      bool
	closeAfter    bool
	deadlineSet   bool  // the handler set a write deadline (SetWriteDeadline)
	contentLength int64 // from the handler's Content-Length, or -1
	written       int64
	buf           []byte // body bytes not yet handed to the connection
	trailers      []string
	werr          error
	scratch       [20]byte
	clenBuf       [20]byte
}

var _ interface {
	http.ResponseWriter
	http.Flusher
	FlushError() error
	SetWriteDeadline(time.Time) error
} = (*response)(nil)

// reset readies w for req. The header map is the previous response's,
// emptied: a handler may not use its ResponseWriter once ServeHTTP has
// returned, so nothing still holds it, and keeping its table saves a hit
// the map's allocation and its growth past 8 fields (a gateway hit has 9),
// half of the bytes a hit allocated.
func (w *response) reset(c *conn, req *http.Request) {
	buf := w.buf
	if buf == nil {
		buf = make([]byte, 0, bufferBeforeChunking)
	}
	h := w.header
	if h == nil || len(h) > 32 {
		// A response with many fields leaves no big table behind: clear
		// costs its capacity on every later request.
		h = make(http.Header, 16)
	} else {
		clear(h)
	}
	*w = response{c: c, req: req, isHEAD: req.Method == "HEAD", header: h,
		contentLength: -1, buf: buf[:0], closeAfter: req.Close}
}

func (w *response) Header() http.Header { return w.header }

func (w *response) WriteHeader(code int) {
	if w.wroteHeader {
		w.c.srv.log.Debug("h1: superfluous WriteHeader call", "code", code, "remote", w.c.remoteAddr)
		return
	}
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code)) // as net/http
	}
	bw := w.c.bw
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		writeStatusLine(bw, code, w.scratch[:0])
		writeFields(bw, w.header, exclCL|exclTE)
		_, _ = bw.WriteString("\r\n")
		w.noteErr(bw.Flush())
		return
	}
	w.wroteHeader = true
	w.status = code
	if cl := get(w.header, "Content-Length"); cl != "" {
		v, err := strconv.ParseInt(cl, 10, 64)
		if err == nil && v >= 0 {
			w.contentLength = v
		} else {
			// As net/http: the invalid value leaves the handler's map but
			// stays in the copy the header is written from (so a chunked
			// answer drops it, a HEAD answer carries it).
			w.c.srv.log.Debug("h1: invalid Content-Length", "value", cl)
			w.snapshot = w.header.Clone()
			w.header.Del("Content-Length")
			return
		}
	}
	// The header is written at once when no body byte can change it (no
	// Content-Type to sniff, no Content-Length to compute); otherwise a
	// copy waits for the first body bytes, as net/http's clone does.
	_, hasCT := w.header["Content-Type"]
	hasTE := get(w.header, "Transfer-Encoding") != ""
	waitsForBody := bodyAllowedForStatus(code) &&
		((!hasCT && w.header.Get("Content-Encoding") == "" && !hasTE) || (w.contentLength == -1 && !hasTE))
	if waitsForBody {
		w.snapshot = w.header.Clone()
		return
	}
	w.commit(nil)
}

func (w *response) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if len(p) == 0 {
		return 0, nil
	}
	if !bodyAllowedForStatus(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.written += int64(len(p))
	if w.contentLength != -1 && w.written > w.contentLength {
		return 0, http.ErrContentLength
	}
	if w.werr != nil {
		return 0, w.werr
	}
	n := len(p)
	// The same steps as a bufio.Writer of bufferBeforeChunking bytes in
	// front of net/http's chunkWriter.
	for len(p) > cap(w.buf)-len(w.buf) && w.werr == nil {
		if len(w.buf) == 0 {
			w.writePiece(p)
			p = nil
			break
		}
		k := cap(w.buf) - len(w.buf)
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		w.writePiece(w.buf)
		w.buf = w.buf[:0]
	}
	w.buf = append(w.buf, p...)
	if w.werr != nil {
		return 0, w.werr
	}
	return n, nil
}

func (w *response) Flush() { _ = w.FlushError() }

func (w *response) FlushError() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	w.flushBuf()
	if !w.committed {
		w.commit(nil)
	}
	w.noteErr(w.c.bw.Flush())
	return w.werr
}

// SetWriteDeadline serves http.ResponseController, as net/http's does.
func (w *response) SetWriteDeadline(t time.Time) error {
	w.deadlineSet = true
	return w.c.rwc.SetWriteDeadline(t)
}

func (w *response) flushBuf() {
	if len(w.buf) > 0 {
		w.writePiece(w.buf)
		w.buf = w.buf[:0]
	}
}

// writePiece is chunkWriter.Write: the first piece commits the header.
func (w *response) writePiece(p []byte) {
	if !w.committed {
		w.commit(p)
	}
	if w.isHEAD || w.werr != nil {
		return
	}
	bw := w.c.bw
	if w.chunking {
		_, _ = bw.Write(strconv.AppendUint(w.scratch[:0], uint64(len(p)), 16))
		_, _ = bw.WriteString("\r\n")
	}
	_, err := bw.Write(p)
	if w.chunking && err == nil {
		_, err = bw.WriteString("\r\n")
	}
	w.noteErr(err)
}

func (w *response) noteErr(err error) {
	if err != nil && w.werr == nil {
		w.werr = err
		_ = w.c.rwc.Close() // as net/http: a failed write ends the connection
	}
}

// finish is finishRequest plus chunkWriter.close.
func (w *response) finish() {
	w.handlerDone = true
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	w.flushBuf()
	if !w.committed {
		w.commit(nil)
	}
	if w.chunking && w.werr == nil {
		bw := w.c.bw
		_, _ = bw.WriteString("0\r\n")
		if t := w.finalTrailers(); t != nil {
			writeFields(bw, t, 0)
		}
		_, _ = bw.WriteString("\r\n")
	}
	// The writer is flushed before the connection next blocks on a read,
	// so that pipelined answers leave in one write.
}

func (w *response) shouldReuse() bool {
	switch {
	case w.closeAfter, w.werr != nil:
		return false
	case !w.isHEAD && w.contentLength != -1 && bodyAllowedForStatus(w.status) && w.contentLength != w.written:
		return false // did not write what it announced: the stream is out of sync
	}
	return true
}

func (w *response) finalTrailers() http.Header {
	var t http.Header
	for k, vv := range w.header {
		if kk, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
			if t == nil {
				t = make(http.Header)
			}
			t[kk] = vv
		}
	}
	for _, k := range w.trailers {
		if t == nil {
			t = make(http.Header)
		}
		for _, v := range w.header[k] {
			t.Add(k, v)
		}
	}
	return t
}

func (w *response) declareTrailer(k string) {
	k = http.CanonicalHeaderKey(k)
	if httpguts.ValidTrailerHeader(k) {
		w.trailers = append(w.trailers, k)
	}
}

// Fields chunkWriter.writeHeader may leave out of the handler's header.
const (
	exclCT = 1 << iota
	exclCL
	exclTE
	exclConn
	exclTrailerPrefix
)

// commit is chunkWriter.writeHeader: it decides framing and writes the
// status line and header to the connection's writer in one pass. p is the
// first body piece (sniffed for a Content-Type; its length becomes the
// Content-Length when the handler is done).
func (w *response) commit(p []byte) {
	w.committed = true
	h := w.snapshot
	if h == nil {
		h = w.header
	}
	var excl int
	trailers := false
	for k := range h {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			excl |= exclTrailerPrefix
			trailers = true
			break
		}
	}
	for _, v := range h["Trailer"] {
		trailers = true
		foreachHeaderElement(v, w.declareTrailer)
	}
	te := get(h, "Transfer-Encoding")
	hasTE := te != ""
	code := w.status
	var setCL []byte
	if w.handlerDone && !trailers && !hasTE && bodyAllowedForStatus(code) && !has(h, "Content-Length") && (!w.isHEAD || len(p) > 0) {
		w.contentLength = int64(len(p))
		setCL = strconv.AppendInt(w.clenBuf[:0], int64(len(p)), 10)
	}
	hasCL := w.contentLength != -1
	keepAlives := !w.c.srv.inShutdown.Load()
	if get(h, "Connection") == "close" || !keepAlives {
		w.closeAfter = true
	}
	var contentType string
	if bodyAllowedForStatus(code) {
		_, haveType := h["Content-Type"]
		if h.Get("Content-Encoding") == "" && !haveType && !hasTE && len(p) > 0 {
			contentType = http.DetectContentType(p)
		}
	} else {
		excl |= exclCL | exclTE
		if code == http.StatusNotModified {
			excl |= exclCT
		}
	}
	var date []byte
	if _, ok := h["Date"]; !ok {
		date = w.c.srv.dates.get(time.Now())
	}
	if hasCL && hasTE && te != "identity" {
		w.c.srv.log.Debug("h1: both Transfer-Encoding and Content-Length set; Content-Length ignored", "te", te)
		excl |= exclCL
		hasCL = false
	}
	var setTE string
	switch {
	case w.isHEAD || !bodyAllowedForStatus(code) || code == http.StatusNoContent, hasCL:
		excl |= exclTE
	case hasTE && te == "identity":
		w.chunking = false
		w.closeAfter = true
		excl |= exclTE
	default:
		w.chunking = true
		setTE = "chunked"
		if hasTE && te == "chunked" {
			excl |= exclTE
		}
	}
	if w.chunking {
		excl |= exclCL
	}
	var setConn string
	if w.closeAfter && (!keepAlives || !httpguts.HeaderValuesContainsToken(h["Connection"], "close")) &&
		!(code == http.StatusSwitchingProtocols && h.Get("Upgrade") != "") {
		excl |= exclConn
		setConn = "close"
	}

	bw := w.c.bw
	writeStatusLine(bw, code, w.scratch[:0])
	writeFields(bw, h, excl)
	if date != nil {
		writeField(bw, "Date", date)
	}
	if setCL != nil {
		writeField(bw, "Content-Length", setCL)
	}
	for _, kv := range [...][2]string{{"Content-Type", contentType}, {"Connection", setConn}, {"Transfer-Encoding", setTE}} {
		if kv[1] != "" {
			_, _ = bw.WriteString(kv[0])
			_, _ = bw.WriteString(": ")
			_, _ = bw.WriteString(kv[1])
			_, _ = bw.WriteString("\r\n")
		}
	}
	_, err := bw.WriteString("\r\n")
	w.noteErr(err)
}

func writeField(bw *bufio.Writer, k string, v []byte) {
	_, _ = bw.WriteString(k)
	_, _ = bw.WriteString(": ")
	_, _ = bw.Write(v)
	_, _ = bw.WriteString("\r\n")
}

func writeStatusLine(bw *bufio.Writer, code int, scratch []byte) {
	_, _ = bw.WriteString("HTTP/1.1 ")
	_, _ = bw.Write(strconv.AppendInt(scratch, int64(code), 10))
	_ = bw.WriteByte(' ')
	if text := http.StatusText(code); text != "" {
		_, _ = bw.WriteString(text)
	} else {
		_, _ = bw.WriteString("status code ")
		_, _ = bw.Write(strconv.AppendInt(scratch, int64(code), 10))
	}
	_, _ = bw.WriteString("\r\n")
}

// writeFields writes h's fields except the excluded ones, sanitised as
// net/http's Header.WriteSubset does (invalid names dropped, CR and LF in
// values turned to spaces, values trimmed), in map order: a response
// header needs no sort.
func writeFields(bw *bufio.Writer, h http.Header, excl int) {
	for k, vv := range h {
		switch {
		case excl&exclCT != 0 && k == "Content-Type",
			excl&exclCL != 0 && k == "Content-Length",
			excl&exclTE != 0 && k == "Transfer-Encoding",
			excl&exclConn != 0 && k == "Connection",
			excl&exclTrailerPrefix != 0 && strings.HasPrefix(k, http.TrailerPrefix),
			!httpguts.ValidHeaderFieldName(k):
			continue
		}
		for _, v := range vv {
			if strings.ContainsAny(v, "\r\n") {
				v = newlinesToSpaces(v)
			}
			v = textproto.TrimString(v)
			_, _ = bw.WriteString(k)
			_, _ = bw.WriteString(": ")
			_, _ = bw.WriteString(v)
			_, _ = bw.WriteString("\r\n")
		}
	}
}

// get is net/http's Header.get: the first value of an exact key.
func get(h http.Header, k string) string {
	if v := h[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func has(h http.Header, k string) bool {
	_, ok := h[k]
	return ok
}

func bodyAllowedForStatus(status int) bool {
	return !(status >= 100 && status <= 199 || status == http.StatusNoContent || status == http.StatusNotModified)
}

// foreachHeaderElement calls fn for each non-empty element of the list v.
func foreachHeaderElement(v string, fn func(string)) {
	for f := range strings.SplitSeq(v, ",") {
		if f = textproto.TrimString(f); f != "" {
			fn(f)
		}
	}
}

// newlinesToSpaces is net/http's headerNewlineToSpace: each CR and LF
// becomes a space.
func newlinesToSpaces(v string) string {
	b := []byte(v)
	for i, c := range b {
		if c == '\r' || c == '\n' {
			b[i] = ' '
		}
	}
	return string(b)
}
