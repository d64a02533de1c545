package h1

import (
	"context"
	"sync"
	"time"
)

// watchAfter is how long a handler runs before the lane starts watching
// its connection for the client going away. net/http watches from the
// start of every request with a background read (a goroutine and a read
// deadline per request); the lane pays that only for handlers slow enough
// to gain from it (misses waiting on the origin), never for hits.
const watchAfter = 20 * time.Millisecond

// aLongTimeAgo is a read deadline in the past: it aborts a pending read.
var aLongTimeAgo = time.Unix(1, 0)

// watcher is the connection's client-gone watch while a handler runs: a
// one-byte read that ends the request's context on EOF or error, as
// net/http's backgroundRead does. A byte it reads (the next pipelined
// request) is kept and handed to the next read.
type watcher struct {
	mu       sync.Mutex
	cond     sync.Cond
	timer    *time.Timer
	cancel   context.CancelFunc // the running request's; nil between requests
	running  bool               // a background read is in progress
	ran      bool               // one started since the last stopWatch
	aborting bool
	hasByte  bool
	b        [1]byte
}

func (c *conn) startWatch(cancel context.CancelFunc) {
	w := &c.watch
	w.mu.Lock()
	w.cancel = cancel
	w.mu.Unlock()
	if w.timer == nil {
		w.cond.L = &w.mu
		w.timer = time.AfterFunc(watchAfter, c.backgroundRead)
		return
	}
	w.timer.Reset(watchAfter)
}

// backgroundRead runs on the timer's goroutine.
func (c *conn) backgroundRead() {
	w := &c.watch
	w.mu.Lock()
	if w.cancel == nil || w.running || w.hasByte {
		w.mu.Unlock()
		return
	}
	// The read waits for the client as long as the handler runs, under no
	// deadline (an idle or header one still armed would end it and cancel a
	// healthy request), as net/http's backgroundRead does. Cleared under mu
	// so that stopWatch's abort deadline always comes after it.
	_ = c.rwc.SetReadDeadline(time.Time{})
	w.ran = true
	w.running = true
	w.mu.Unlock()
	c.srv.backgroundReads.Add(1)
	n, err := c.rwc.Read(w.b[:])
	w.mu.Lock()
	defer w.mu.Unlock()
	w.hasByte = n == 1
	if err != nil && !w.aborting && w.cancel != nil {
		w.cancel() // the client is gone (or its connection failed)
	}
	w.running = false
	w.cond.Broadcast()
}

// stopWatch ends the watch when the handler returns, aborting a pending
// background read and waiting for it.
func (c *conn) stopWatch() {
	w := &c.watch
	w.timer.Stop()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.cancel = nil
	if !w.ran {
		return
	}
	w.ran = false
	// The read cleared the deadline armRead believes in: the next armRead
	// must set one.
	c.readDeadline = aLongTimeAgo
	if !w.running {
		return
	}
	w.aborting = true
	_ = c.rwc.SetReadDeadline(aLongTimeAgo)
	for w.running {
		w.cond.Wait()
	}
	w.aborting = false
}

// Read is what the connection's bufio.Reader reads: the byte a background
// read kept, if any, then the socket. It runs only when no background
// read does (stopWatch has waited for it).
func (c *conn) Read(p []byte) (int, error) {
	if c.watch.hasByte && len(p) > 0 {
		c.watch.hasByte = false
		p[0] = c.watch.b[0]
		return 1, nil
	}
	return c.rwc.Read(p)
}
