package h1

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"runtime"
	"sync/atomic"
	"time"
)

// Connection states, for Shutdown: only an idle connection (waiting for a
// request, nothing buffered) may be closed under its owner.
const (
	stateActive int32 = iota
	stateIdle
	stateClosed
)

type conn struct {
	srv        *Server
	rwc        net.Conn
	ctx        context.Context // carries ServerContextKey and LocalAddrContextKey
	remoteAddr string
	state      atomic.Int32
	br         *bufio.Reader
	bw         *bufio.Writer
	res        response
	// readDeadline is the read deadline last armed. Deadlines are armed
	// coarsely (only when the wanted one is more than a second later)
	// because SetReadDeadline on every request cost 3% of CPU under load.
	readDeadline time.Time
	watch        watcher
}

func (c *conn) serve() {
	s := c.srv
	c.br, c.bw = s.getReader(c), s.getWriter(c.rwc)
	handedOff := false
	defer func() {
		s.forget(c)
		if handedOff {
			return
		}
		_ = c.bw.Flush()
		_ = c.rwc.Close()
		s.putBufs(c.br, c.bw)
	}()
	for first := true; ; first = false {
		// Answers go out before the connection turns idle (Shutdown may
		// close it then), one write per answer as under net/http.
		if c.bw.Flush() != nil {
			return
		}
		// Idle, as under net/http, until a whole head is read: Shutdown
		// closes a connection waiting for one, or stalled in the middle of
		// one (pipelined or not), instead of waiting out its timeout.
		c.state.Store(stateIdle)
		if s.inShutdown.Load() {
			return
		}
		if c.br.Buffered() == 0 {
			// As net/http: a new connection has the header timeout to send
			// its first request, a kept-alive one the idle timeout.
			if first {
				c.armRead(s.headerTimeout)
			} else {
				c.armRead(s.idleTimeout)
			}
			if _, err := c.br.Peek(1); err != nil {
				return // closed by Shutdown, timeout or client gone
			}
		}
		n, reason, err := c.readHead()
		if !c.state.CompareAndSwap(stateIdle, stateActive) {
			return // closed by Shutdown
		}
		if err != nil {
			return // as net/http: a read error or timeout mid-head closes quietly
		}
		if reason != "" {
			handedOff = c.handOff()
			return
		}
		raw, _ := c.br.Peek(n)
		h, reason := parseHead(raw)
		if reason != "" {
			handedOff = c.handOff()
			return
		}
		_, _ = c.br.Discard(n)
		if !c.serveRequest(&h) {
			return
		}
	}
}

// armRead sets the read deadline to now+d unless the one armed is at most
// a second earlier (or d is zero and none is armed).
func (c *conn) armRead(d time.Duration) {
	var want time.Time
	if d > 0 {
		want = time.Now().Add(d)
		if !c.readDeadline.IsZero() && want.Sub(c.readDeadline) <= time.Second && !want.Before(c.readDeadline) {
			return
		}
	} else if c.readDeadline.IsZero() {
		return
	}
	c.readDeadline = want
	_ = c.rwc.SetReadDeadline(want)
}

// readHead waits until the buffer holds a complete head and returns its
// length, or a reason to hand the connection off, or a read error.
func (c *conn) readHead() (n int, reason string, err error) {
	scanned, armed := 0, false
	for {
		buf, _ := c.br.Peek(c.br.Buffered())
		if !startsLikeLane(buf) {
			return 0, reasonMethod, nil
		}
		for i := scanned; i < len(buf); i++ {
			if buf[i] != '\n' {
				continue
			}
			if i == 0 || buf[i-1] != '\r' {
				return 0, reasonBareLF, nil
			}
			if i >= 3 && buf[i-2] == '\n' && buf[i-3] == '\r' {
				if i+1 > c.srv.maxHead {
					return 0, reasonTooLarge, nil
				}
				return i + 1, "", nil
			}
		}
		scanned = len(buf)
		if len(buf) >= c.srv.maxHead {
			return 0, reasonTooLarge, nil
		}
		// More bytes are needed: answers still buffered go out first (a
		// pipelining client may wait for them), then the head timeout runs.
		if err := c.bw.Flush(); err != nil {
			return 0, "", err
		}
		if !armed {
			c.armRead(c.srv.headerTimeout)
			armed = true
		}
		if _, err := c.br.Peek(len(buf) + 1); err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return 0, reasonTooLarge, nil
			}
			return 0, "", err
		}
	}
}

// handOff gives the connection, and every byte read but not consumed, to
// Fallback. It reports whether Fallback took it.
func (c *conn) handOff() bool {
	s := c.srv
	if c.bw.Flush() != nil {
		return false
	}
	_ = c.rwc.SetDeadline(time.Time{})
	pending, _ := c.br.Peek(c.br.Buffered())
	hc := &handedConn{Conn: c.rwc, pending: bytes.Clone(pending)}
	s.putBufs(c.br, c.bw)
	if !s.handoff.give(hc) {
		_ = c.rwc.Close()
	}
	return true
}

// serveRequest runs the handler for h and reports whether the connection
// may serve another request.
func (c *conn) serveRequest(h *head) (keep bool) {
	s := c.srv
	if s.writeTimeout > 0 {
		_ = c.rwc.SetWriteDeadline(time.Now().Add(s.writeTimeout))
	}
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	if c.br.Buffered() == 0 { // else the client is there: it pipelined
		c.startWatch(cancel)
		defer c.stopWatch()
	}
	var zero http.Request
	req := zero.WithContext(ctx)
	req.Method = h.method
	req.URL = h.url
	req.Proto, req.ProtoMajor, req.ProtoMinor = "HTTP/1.1", 1, 1
	req.Header = h.header
	req.Body = http.NoBody
	req.Host = h.host
	req.RemoteAddr = c.remoteAddr
	req.RequestURI = h.target
	req.Close = h.close

	w := &c.res
	w.reset(c, req)
	defer func() {
		if err := recover(); err != nil {
			keep = false
			if err != http.ErrAbortHandler { // compared as net/http does
				buf := make([]byte, 64<<10)
				buf = buf[:runtime.Stack(buf, false)]
				s.log.Error("h1: panic serving request", "remote", c.remoteAddr, "panic", err, "stack", string(buf))
			}
		}
		w.req = nil
	}()
	s.Fallback.Handler.ServeHTTP(w, req)
	w.finish()
	if w.deadlineSet && s.writeTimeout <= 0 {
		// A deadline the handler set must not cut a later response.
		_ = c.rwc.SetWriteDeadline(time.Time{})
	}
	return w.shouldReuse()
}
