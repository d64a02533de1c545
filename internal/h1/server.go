package h1

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Buffer sizes. A head that does not fit the read buffer is handed off,
// so it is sized for real browser heads with cookies. A connection holds
// both from its start to its end, idle waits included (14 KiB with the
// response's buffer, where net/http holds 8 KiB); they are pooled between
// connections.
const (
	readBufSize  = 8 << 10
	writeBufSize = 4 << 10
)

// Server serves HTTP/1.1 connections: simple requests on its own loop,
// everything else through Fallback. Construct it with its fields set, then
// call Serve once.
type Server struct {
	// Fallback serves every connection the lane hands off; its Handler is
	// the handler the lane runs too, and its ReadHeaderTimeout,
	// IdleTimeout, ReadTimeout, WriteTimeout, MaxHeaderBytes and
	// BaseContext apply to the lane, so each is decided in one place.
	// ConnState, ConnContext and TLSConfig are refused: the lane cannot
	// honour them.
	Fallback *http.Server
	// Logger receives handler panics and protocol misuse; nil discards.
	Logger *slog.Logger

	log                        *slog.Logger
	headerTimeout, idleTimeout time.Duration
	writeTimeout               time.Duration
	maxHead                    int
	handoff                    *handoffListener
	readers, writers           sync.Pool
	dates                      dateCache
	inShutdown                 atomic.Bool
	mu                         sync.Mutex
	ln                         net.Listener
	conns                      map[*conn]struct{}
	serving                    bool
	fallbackDone               chan struct{}
	backgroundReads            atomic.Int64 // client-gone watches started, for tests
}

// Validate checks the configuration; Serve calls it.
func (s *Server) Validate() error {
	switch f := s.Fallback; {
	case f == nil:
		return errors.New("h1: Fallback server is required")
	case f.Handler == nil:
		return errors.New("h1: Fallback.Handler is required (the lane serves the same handler)")
	case f.ConnState != nil, f.ConnContext != nil:
		return errors.New("h1: Fallback.ConnState and ConnContext are not supported by the lane")
	case f.TLSConfig != nil:
		return errors.New("h1: TLS is not supported by the lane")
	}
	return nil
}

// Serve accepts connections on ln until Shutdown, which makes it return
// http.ErrServerClosed, like net/http.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.Validate(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.serving || s.inShutdown.Load() {
		s.mu.Unlock()
		return http.ErrServerClosed
	}
	s.serving, s.ln, s.conns = true, ln, map[*conn]struct{}{}
	s.init(ln)
	s.mu.Unlock()
	go func() {
		defer close(s.fallbackDone)
		if err := s.Fallback.Serve(s.handoff); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("h1: fallback server stopped", "err", err)
		}
	}()
	var backoff time.Duration
	for {
		rwc, err := ln.Accept()
		if err != nil {
			if s.inShutdown.Load() {
				return http.ErrServerClosed
			}
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Error("h1: accept", "err", err, "retry_in", backoff)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("h1: accept: %w", err)
		}
		backoff = 0
		c := s.newConn(rwc)
		if c == nil {
			continue
		}
		go c.serve()
	}
}

// init derives the lane's settings from Fallback, as net/http would use
// them; called once under mu.
func (s *Server) init(ln net.Listener) {
	f := s.Fallback
	s.log = s.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.headerTimeout = f.ReadHeaderTimeout
	if s.headerTimeout <= 0 {
		s.headerTimeout = f.ReadTimeout
	}
	s.idleTimeout = f.IdleTimeout
	if s.idleTimeout <= 0 {
		s.idleTimeout = f.ReadTimeout
	}
	s.writeTimeout = f.WriteTimeout
	// net/http allows MaxHeaderBytes plus 4096 bytes of slack; the lane
	// takes only heads within MaxHeaderBytes and its buffer, so every
	// head it takes is one net/http would take too.
	s.maxHead = f.MaxHeaderBytes
	if s.maxHead <= 0 {
		s.maxHead = http.DefaultMaxHeaderBytes
	}
	s.maxHead = min(s.maxHead, readBufSize)
	s.handoff = &handoffListener{addr: ln.Addr(), conns: make(chan net.Conn), done: make(chan struct{})}
	s.fallbackDone = make(chan struct{})
}

func (s *Server) newConn(rwc net.Conn) *conn {
	base := context.Background()
	if s.Fallback.BaseContext != nil {
		base = s.Fallback.BaseContext(s.ln)
	}
	base = context.WithValue(base, http.ServerContextKey, s.Fallback)
	base = context.WithValue(base, http.LocalAddrContextKey, rwc.LocalAddr())
	c := &conn{srv: s, rwc: rwc, ctx: base, remoteAddr: rwc.RemoteAddr().String()}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inShutdown.Load() {
		_ = rwc.Close()
		return nil
	}
	s.conns[c] = struct{}{}
	return c
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

// Shutdown stops accepting, closes idle connections, waits for active
// ones to finish their request, then shuts Fallback down (which waits for
// the connections it was handed). It returns ctx's error if ctx ends
// first, like net/http.
func (s *Server) Shutdown(ctx context.Context) error {
	s.inShutdown.Store(true)
	s.mu.Lock()
	ln, serving := s.ln, s.serving
	s.mu.Unlock()
	if !serving {
		return nil
	}
	lnErr := ln.Close()
	if errors.Is(lnErr, net.ErrClosed) {
		lnErr = nil
	}
	// Poll like net/http does: from 1ms, doubling up to 500ms.
	wait := time.Millisecond
	for !s.closeIdle() {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			// Fallback still closes its listener and idle connections.
			_ = s.Fallback.Shutdown(ctx)
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 500*time.Millisecond)
	}
	if err := s.Fallback.Shutdown(ctx); err != nil {
		return err
	}
	select {
	case <-s.fallbackDone:
	case <-ctx.Done():
		return ctx.Err()
	}
	return lnErr
}

// closeIdle closes the connections waiting for a request and reports
// whether none is left.
func (s *Server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.state.CompareAndSwap(stateIdle, stateClosed) {
			_ = c.rwc.Close()
		}
	}
	return len(s.conns) == 0
}

// handoffListener is the listener Fallback serves: it yields the
// connections the lane hands off.
type handoffListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *handoffListener) Addr() net.Addr { return l.addr }

// give passes c to Fallback; false when Fallback is shut down already.
func (l *handoffListener) give(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.done:
		return false
	}
}

// handedConn is a connection handed to net/http: it reads the bytes the
// lane buffered but did not consume before reading the socket again.
type handedConn struct {
	net.Conn
	pending []byte
}

func (c *handedConn) Read(p []byte) (int, error) {
	if len(c.pending) > 0 {
		n := copy(p, c.pending)
		c.pending = c.pending[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// CloseWrite keeps net/http's lingering close (half-close, then wait)
// working through the wrapper.
func (c *handedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// dateCache formats the Date header once per second.
type dateCache struct {
	v atomic.Pointer[cachedDate]
}

type cachedDate struct {
	sec int64
	b   []byte
}

func (d *dateCache) get(now time.Time) []byte {
	sec := now.Unix()
	if c := d.v.Load(); c != nil && c.sec == sec {
		return c.b
	}
	c := &cachedDate{sec: sec, b: now.UTC().AppendFormat(make([]byte, 0, 29), http.TimeFormat)}
	d.v.Store(c)
	return c.b
}

func (s *Server) getReader(c io.Reader) *bufio.Reader {
	if br, ok := s.readers.Get().(*bufio.Reader); ok {
		br.Reset(c)
		return br
	}
	return bufio.NewReaderSize(c, readBufSize)
}

func (s *Server) getWriter(c net.Conn) *bufio.Writer {
	if bw, ok := s.writers.Get().(*bufio.Writer); ok {
		bw.Reset(c)
		return bw
	}
	return bufio.NewWriterSize(c, writeBufSize)
}

func (s *Server) putBufs(br *bufio.Reader, bw *bufio.Writer) {
	br.Reset(nil)
	bw.Reset(nil)
	s.readers.Put(br)
	s.writers.Put(bw)
}
