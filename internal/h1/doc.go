// Package h1 owns the gateway listener's HTTP/1.1 connections: a lean
// server loop that answers the common request (GET or HEAD, origin-form,
// HTTP/1.1, no body, no upgrade) itself and hands every other connection,
// with every byte it has not consumed, to a real net/http.Server.
//
// Why it is hand-written: net/http's server does per-request work that no
// option turns off (a background read goroutine, Header.Clone and a sort
// on every response, a read deadline per request, several allocations
// and the GC they cause), and that work alone keeps L1 hits below the
// throughput the gateway needs. fasthttp's net/http adaptor is no way out:
// it buffers whole responses (which breaks streaming fills) and changes
// header semantics. This loop serves the same http.Handler with the same
// response rules (mirrored from net/http's chunkWriter.writeHeader), so a
// handler cannot tell which server ran it, except as noted below.
//
// Safety rests on one rule: the lane never consumes a request body. A head
// is only Peeked until the lane has decided to take it; anything the strict
// parser does not accept (another method, HTTP/1.0, absolute-form, a body,
// Transfer-Encoding, Expect, Upgrade, an obs-fold, a bare LF, a head larger
// than the read buffer, ...) goes, unread, to net/http through a listener,
// and net/http owns that connection from then on: it answers 400, 431, 505
// and serves bodies and upgrades exactly as it does without this package.
// When in doubt the lane hands off, so request smuggling through the lane
// is impossible.
//
// Differences from net/http that a handler may notice: response header
// fields are written in map order (not sorted); the request context ends
// when the client goes away only once the handler has run for watchAfter
// (net/http watches from the start, at a cost every request pays), and not
// while a pipelined request waits behind it; Hijack,
// SetReadDeadline and full duplex are not supported (http.ErrNotSupported) (upgrades and bodies
// are handed off before a handler runs).
package h1
