package cluster_test

import (
	"net"
	"strings"
	"sync"
	"testing"
)

// proxy is a TCP relay between one node and the NATS server, so that a
// test can take that node, and only it, off the network: cut closes its
// connections and refuses new ones (the node notices at once), blackhole
// keeps them open but drops every byte (a silent partition, which the node
// notices only when a ping goes unanswered). It injects network faults;
// NATS itself is the real server behind it.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	mode  proxyMode
	conns map[net.Conn]struct{}
}

type proxyMode int

const (
	forwarding proxyMode = iota
	refusing
	blackholing
)

// startProxy relays to target, a NATS URL or host:port.
func startProxy(t testing.TB, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: strings.TrimPrefix(target, "nats://"), conns: make(map[net.Conn]struct{})}
	go p.serve()
	t.Cleanup(func() {
		ln.Close()
		p.closeAll()
	})
	return p
}

// URL is the NATS URL the node connects to.
func (p *proxy) URL() string { return "nats://" + p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		mode := p.mode
		p.mu.Unlock()
		if mode == refusing {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		go p.relay(up, c)
		go p.relay(c, up)
	}
}

// relay copies src to dst until either closes, dropping what it reads
// while blackholing.
func (p *proxy) relay(dst, src net.Conn) {
	defer func() {
		dst.Close()
		src.Close()
		p.mu.Lock()
		delete(p.conns, dst)
		delete(p.conns, src)
		p.mu.Unlock()
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			drop := p.mode == blackholing
			p.mu.Unlock()
			if !drop {
				if _, werr := dst.Write(buf[:n]); werr != nil {
					return
				}
			}
		}
		if err != nil {
			return // EOF or a closed connection: the relay ends
		}
	}
}

func (p *proxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
}

// cut closes the node's connections and refuses new ones.
func (p *proxy) cut() {
	p.mu.Lock()
	p.mode = refusing
	p.mu.Unlock()
	p.closeAll()
}

// blackhole drops every byte from now on, in both directions, without
// closing anything.
func (p *proxy) blackhole() {
	p.mu.Lock()
	p.mode = blackholing
	p.mu.Unlock()
}

// restore forwards again; after a blackhole the open connections carry a
// broken stream, so they are closed and the node reconnects.
func (p *proxy) restore() {
	p.mu.Lock()
	was := p.mode
	p.mode = forwarding
	p.mu.Unlock()
	if was == blackholing {
		p.closeAll()
	}
}
