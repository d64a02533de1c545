package gateway

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cachegate/cachegate/headers"
)

// detailBufferBudget is the Cache-Status detail of a storable response not
// stored because the bytes held for fills in flight were at
// Config.FillBufferBytes.
const detailBufferBudget = "buffer-budget"

// detailUnknownLength is the Cache-Status detail of a storable response
// streamed to its client before its length was known: whether it is
// stored is decided at its end, after the header that would say so.
const detailUnknownLength = "unknown-length"

// byteBudget bounds the body bytes all fills in flight hold for the store
// together, so that memory under load is bounded by one number rather than
// by the number of clients times MaxObjectSize.
type byteBudget struct {
	max  int64
	used atomic.Int64
}

// reserve takes n bytes of the budget, or none when that would exceed it.
func (b *byteBudget) reserve(n int64) bool {
	if b.used.Add(n) > b.max {
		b.used.Add(-n)
		return false
	}
	return true
}

func (b *byteBudget) free(n int64) { b.used.Add(-n) }

// FillBufferInUse is how many body bytes fills in flight hold for the store
// now, within Config.FillBufferBytes.
func (g *Gateway) FillBufferInUse() int64 { return g.fillBudget.used.Load() }

// fillBuffer accumulates a body on its way to the store, within
// MaxObjectSize and the shared budget; once either would be exceeded it
// stops keeping (why says which) and frees what it held.
type fillBuffer struct {
	budget *byteBudget
	max    int64
	buf    []byte
	held   int64 // bytes reserved from budget
	// length is the announced length, -1 when unknown. Its buffer is
	// allocated whole at the second read, not before the header: when the
	// runtime must zero reused memory for it (0.4 ms for 5 MiB), that
	// would delay a streamed fill's first byte. The first read is kept in
	// a buffer of its own size.
	length int64
	why    string
}

// minReserve is the smallest step a fill of unknown length reserves by.
const minReserve = 32 << 10

// newFillBuffer starts a buffer for a body of length bytes (-1: unknown),
// reserving a known length at once so the stored body is allocated
// exactly, and an unknown one's first step, so that a budget already
// spent is known (and said) before the header goes to the client.
func newFillBuffer(budget *byteBudget, max, length int64) *fillBuffer {
	f := &fillBuffer{budget: budget, max: max, length: length}
	if length > max {
		f.why = headers.DetailTooLarge
		return f
	}
	first := length
	if length < 0 {
		first = min(minReserve, max)
	}
	if !budget.reserve(first) {
		f.why = detailBufferBudget
		return f
	}
	f.held = first
	return f
}

// whole allocates a known length's buffer, keeping what was read so far.
func (f *fillBuffer) whole() {
	if f.length >= 0 && int64(cap(f.buf)) < f.length {
		b := make([]byte, len(f.buf), f.length)
		copy(b, f.buf)
		f.buf = b
	}
}

// keeping reports whether the body is still being kept for the store.
func (f *fillBuffer) keeping() bool { return f.why == "" }

// keep appends p, reserving more of the budget as needed.
func (f *fillBuffer) keep(p []byte) {
	if !f.keeping() || len(p) == 0 {
		return
	}
	need := int64(len(f.buf) + len(p))
	if need > f.max {
		f.stop(headers.DetailTooLarge)
		return
	}
	if need > f.held {
		grow := min(max(need, 2*f.held, minReserve), f.max) - f.held
		if !f.budget.reserve(grow) {
			f.stop(detailBufferBudget)
			return
		}
		f.held += grow
	}
	if f.buf == nil {
		f.buf = make([]byte, len(p)) // exactly: often the whole body
		copy(f.buf, p)
		return
	}
	f.whole()
	f.buf = append(f.buf, p...)
}

// stop gives up keeping the body; what was kept stays reserved until
// release.
func (f *fillBuffer) stop(why string) {
	if f.keeping() {
		f.why = why
	}
}

// release drops what was kept and frees its reservation.
func (f *fillBuffer) release() {
	f.buf = nil
	f.budget.free(f.held)
	f.held = 0
}

// body hands over the kept body, allocated to its length (the store keeps
// it for the entry's lifetime), and frees the reservation: from here the
// bytes belong to the layers' own budgets.
func (f *fillBuffer) body() []byte {
	b := f.buf
	if cap(b)-len(b) > len(b)/16 {
		b = append(make([]byte, 0, len(b)), b...) // bytes.Clone rounds up
	}
	f.buf = nil
	f.budget.free(f.held)
	f.held = 0
	return b
}

// streamable reports whether a storable response goes to the client while
// it is being stored, rather than after: whenever the client wants the
// whole body (a GET without a range or a validator to compare, which the
// stored body would answer). What the header cannot say before the body
// ends is left out of it: an unknown length (the client gets the body as
// the origin framed it, and Cache-Status does not claim "stored", see
// modifyResponse), and the ETag the gateway generates from the body when
// the origin gave no validator (later hits carry it).
func streamable(x *exchange) bool {
	return x.method == http.MethodGet && len(x.req["Range"]) == 0 && !conditional(x.req)
}

// fillBody is the body of a storable response as its client reads it: each
// read is also kept for the store, and the entry is stored when the body
// ends whole (its announced length, or the origin's end of an unknown
// one). A body cut short (the origin or the client went away) is not
// stored; the client of a cut origin body sees its connection end early
// (a chunked one without its last chunk), as it would without a cache. A
// body that outgrows MaxObjectSize or the budget stops being kept, frees
// its reservation at once and keeps streaming. One whose client has not
// come back for the next read within FillClientStall (it is stuck writing
// the last one to a client that stopped reading, or to a dead peer) is
// given up too: its reservation goes back, and a body of announced
// length, whose header said "stored", is cut for its client (as nginx's
// send_timeout cuts a client that stops reading) so that the header's
// claim stays true of every body a client gets whole; one of unknown
// length, which claimed nothing, goes on streaming.
type fillBody struct {
	rc     io.ReadCloser
	f      *fillBuffer
	length int64 // the announced length; -1 when unknown
	// store is called once with the whole body.
	store func(body []byte)
	// While the body is kept, its reads wait on the origin for at most
	// left all together (what OriginTimeout left after the header), as
	// when it was read before answering: time spent on a slow client
	// does not count, a stalled origin does. timer (the exchange's)
	// cancels the origin request when a read outlasts it; the waiters
	// of the fetch are then told it failed (x.failed), as for a header
	// that never came.
	timer *time.Timer
	left  time.Duration
	ctx   context.Context
	x     *exchange
	// stall, armed between reads, abandons the fill when the client does
	// not come back for the next read in time; mu orders it with reads.
	stall      *time.Timer
	stallAfter time.Duration
	mu         sync.Mutex
	done       bool
	cut        bool // given up on a stall, and the client's body with it
}

// errClientStalled ends the body of a fill whose header claimed "stored"
// once it is given up on a client that stopped reading.
var errClientStalled = errors.New("client took nothing for the fill's stall timeout; the fill is given up and its body cut")

func (b *fillBody) Read(p []byte) (int, error) {
	if b.stall != nil {
		b.stall.Stop()
	}
	b.mu.Lock()
	done, cut := b.done, b.cut
	b.mu.Unlock()
	if cut {
		return 0, errClientStalled
	}
	if done {
		return b.rc.Read(p)
	}
	start := time.Now()
	b.timer.Reset(b.left)
	n, err := b.rc.Read(p)
	b.timer.Stop()
	b.left -= time.Since(start)
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cut {
		return 0, errClientStalled // given up as this read began
	}
	if b.done {
		return n, err
	}
	b.f.keep(p[:n])
	switch {
	case err == io.EOF:
		b.finish()
	case err != nil:
		if errors.Is(context.Cause(b.ctx), errOriginTimeout) {
			b.x.failed = http.StatusGatewayTimeout
		}
		b.abandon()
	case !b.f.keeping():
		b.abandon()
		// Not stored after all: the waiters go now, each to the origin
		// for a body too large; behind one new fetch for a full budget,
		// as the response itself is storable (a budget full already at
		// the header sends them on their own, as any unstored answer).
		b.x.landEarly(flightResult{again: b.f.why != headers.DetailTooLarge})
	default:
		if b.stall == nil {
			b.stall = time.AfterFunc(b.stallAfter, b.stalled)
		} else {
			b.stall.Reset(b.stallAfter)
		}
	}
	return n, err
}

// stalled abandons the fill: its client has not taken the last read.
func (b *fillBody) stalled() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.done {
		b.abandon()
		b.cut = b.length >= 0
		b.x.landEarly(flightResult{again: true}) // one of them fetches anew
	}
}

func (b *fillBody) finish() {
	b.done = true
	if !b.f.keeping() || b.length >= 0 && int64(len(b.f.buf)) != b.length {
		b.f.release()
		return
	}
	b.store(b.f.body())
}

func (b *fillBody) abandon() {
	b.done = true
	b.f.release()
}

func (b *fillBody) Close() error {
	if b.stall != nil {
		b.stall.Stop()
	}
	b.mu.Lock()
	if !b.done {
		b.abandon()
	}
	b.mu.Unlock()
	return b.rc.Close()
}

// readWhole reads resp's body for the store before the client gets any of
// it (a client that wants a part of it, a 304 or no body at all: a HEAD
// filled with GET). When the body cannot be kept whole (why: too
// large, beyond the budget), resp's body still yields every byte, those
// read first included, which stay counted in the budget until it is
// closed: a slow client cannot make the gateway hold more than the budget.
func (g *Gateway) readWhole(resp *http.Response) (body []byte, why string, err error) {
	f := newFillBuffer(&g.fillBudget, g.cfg.MaxObjectSize, resp.ContentLength)
	if !f.keeping() {
		return nil, f.why, nil
	}
	if resp.ContentLength >= 0 {
		// Reserved: allocated whole, read straight into it.
		f.whole()
		n, err := io.ReadFull(resp.Body, f.buf[:cap(f.buf)])
		if err != nil {
			f.release()
			return nil, "", err
		}
		f.buf = f.buf[:n]
		resp.Body.Close()
		return f.body(), "", nil
	}
	cp, _ := g.chunks.Get().(*[]byte)
	if cp == nil {
		b := make([]byte, 32<<10)
		cp = &b
	}
	defer g.chunks.Put(cp)
	chunk := *cp
	for {
		n, rerr := resp.Body.Read(chunk)
		f.keep(chunk[:n])
		if !f.keeping() {
			orig := resp.Body
			rest := io.MultiReader(bytes.NewReader(f.buf), bytes.NewReader(bytes.Clone(chunk[:n])), orig)
			resp.Body = readCloser{rest, closeFunc(func() error { f.release(); return orig.Close() })}
			return nil, f.why, nil
		}
		if rerr == io.EOF {
			resp.Body.Close()
			return f.body(), "", nil
		}
		if rerr != nil {
			f.release()
			return nil, "", rerr
		}
	}
}

// readAhead reads the start of a body of unknown length, up to minReserve
// (or MaxObjectSize when smaller), within the budget, before its header goes
// to the client. A body that ends there is returned whole, allocated to its
// length, and the response is answered like one of announced length
// ("stored", Content-Length). Otherwise resp's body yields the bytes read
// first and then the rest, and f, which holds their reservation, is the
// buffer the stream keeps them in (streamFill). why is the detail when the
// budget has no room for the read-ahead (nothing was read). The origin
// timeout still runs: a stalled origin is cut off as when a body is read
// whole.
func (g *Gateway) readAhead(resp *http.Response) (body []byte, f *fillBuffer, why string, err error) {
	f = newFillBuffer(&g.fillBudget, g.cfg.MaxObjectSize, -1)
	if !f.keeping() {
		return nil, nil, f.why, nil
	}
	buf := make([]byte, f.held)
	n := 0
	for n < len(buf) {
		m, err := resp.Body.Read(buf[n:])
		n += m
		if err == io.EOF {
			// The end the origin framed; a body cut short reads as another
			// error (io.ErrUnexpectedEOF from a chunked or gzip body), and
			// is never taken for a whole one. io.ReadFull would turn an
			// early io.EOF into io.ErrUnexpectedEOF too, hence the loop.
			f.release()
			resp.Body.Close()
			return bytes.Clone(buf[:n]), nil, "", nil
		}
		if err != nil {
			f.release()
			return nil, nil, "", err
		}
	}
	resp.Body = readCloser{io.MultiReader(bytes.NewReader(buf), resp.Body), resp.Body}
	return nil, f, "", nil
}

type closeFunc func() error

func (c closeFunc) Close() error { return c() }

// streamFill gives resp's client its body as it arrives, storing e when the
// body ends whole. The header the client gets is e's before the body is
// known (modifyResponse); once it is, e gets what depended on it (its
// length when unannounced, the ETag generated when the origin gave no
// validator), before any layer or waiter sees it.
// ctx is the origin request's; f is readAhead's buffer, or nil. It
// returns the Cache-Status detail when the fill cannot start at all.
func (g *Gateway) streamFill(ctx context.Context, resp *http.Response, x *exchange, e *Entry, ttl time.Duration, f *fillBuffer) string {
	if f == nil {
		f = newFillBuffer(&g.fillBudget, g.cfg.MaxObjectSize, resp.ContentLength)
	}
	if !f.keeping() {
		return f.why
	}
	left := g.cfg.OriginTimeout - g.now().Sub(x.reqTime)
	resp.Body = &fillBody{rc: resp.Body, f: f, length: resp.ContentLength, timer: x.timer, left: left, ctx: ctx, x: x, stallAfter: g.cfg.FillClientStall, store: func(body []byte) {
		e.Body = body
		if e.header.index("Content-Length") < 0 || e.header.index("Etag") < 0 && e.header.index("Last-Modified") < 0 {
			g.finishEntry(e, int64(len(body)), false)
		}
		g.fill(ctx, x, e, ttl)
	}}
	return ""
}
