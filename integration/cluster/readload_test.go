package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/events"
	"github.com/cachegate/cachegate/internal/testenv"
)

// readLoad reads pages in turn on every node, as clients would through a
// fault, and keeps what a client would notice: errors, wrong pages, and
// whatever else the test's check finds.
type readLoad struct {
	stop     chan struct{}
	wg       sync.WaitGroup
	requests atomic.Int64

	mu      sync.Mutex
	bad     []string
	slowest time.Duration
	layers  map[string]int // answers by the layer that served them
}

// startReadLoad starts one reader per node. before is called before each
// request and returns the check of its answer ("" when right; nil
// before or check: status and tenant only), so that a check can hold
// what was true when the request began.
func startReadLoad(c *cluster, pages []target, before func(target) func(page) string) *readLoad {
	l := &readLoad{stop: make(chan struct{}), layers: map[string]int{}}
	for i, n := range c.nodes {
		l.wg.Go(func() {
			for k := 0; ; k++ {
				select {
				case <-l.stop:
					return
				default:
				}
				tg := pages[k%len(pages)]
				var check func(page) string
				if before != nil {
					check = before(tg)
				}
				begin := time.Now()
				p, err := get(context.Background(), n.URL, tg.tenant, tg.path)
				took := time.Since(begin)
				l.requests.Add(1)
				l.mu.Lock()
				l.slowest = max(l.slowest, took)
				switch {
				case err != nil:
					l.bad = append(l.bad, fmt.Sprintf("node %d %s: %v", i, tg, err))
				case p.status != http.StatusOK || !strings.Contains(p.body, tenantNames[tg.tenant]):
					l.bad = append(l.bad, fmt.Sprintf("node %d %s: status %d, Cache-Status %q, %d bytes", i, tg, p.status, p.cacheStatus, len(p.body)))
				case check != nil && check(p) != "":
					l.bad = append(l.bad, fmt.Sprintf("node %d %s: %s (Cache-Status %q)", i, tg, check(p), p.cacheStatus))
				default:
					l.layers[cmpOr(p.layer(), "origin")]++
				}
				l.mu.Unlock()
			}
		})
	}
	return l
}

// served waits until min more requests were answered.
func (l *readLoad) served(t *testing.T, min int64) {
	t.Helper()
	from := l.requests.Load()
	testenv.WaitFor(t, 30*time.Second, func() error {
		if n := l.requests.Load() - from; n < min {
			return fmt.Errorf("only %d requests served", n)
		}
		return nil
	})
}

// finish stops the readers, logs what served them, and fails t with the
// first ten bad answers.
func (l *readLoad) finish(t *testing.T, what string) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	t.Logf("%d requests %s, slowest %v, served by %v", l.requests.Load(), what, l.slowest.Round(time.Millisecond), l.layers)
	for i, b := range l.bad {
		if i == 10 {
			t.Errorf("... %d bad answers in all", len(l.bad))
			break
		}
		t.Error(b)
	}
}

// editBar is where acme's pages die: every page rendered at or before it
// is dead once an edit published with wait returned.
type editBar struct{ dead atomic.Int64 }

func newEditBar() *editBar {
	b := &editBar{}
	b.dead.Store(-1)
	return b
}

// check is a readLoad check: an acme page rendered at or before the bar
// as it stood when the request began is a stale read.
func (b *editBar) check(tg target) func(page) string {
	dead := b.dead.Load()
	return func(p page) string {
		if tg.tenant == "acme" && int64(p.rendered) <= dead {
			return fmt.Sprintf("stale read: rendered %d, dead up to %d", p.rendered, dead)
		}
		return ""
	}
}

// edit publishes acme's change with wait on c's first node and, once it
// returned, raises the bar to the origin's render sequence before it.
// ErrL2Pending is a success: every L1 applied it, and L2's older entries
// are vetoed until L2 records it.
func (b *editBar) edit(t *testing.T, c *cluster) {
	t.Helper()
	now := mustGet(t, c.originURL, "acme", "/")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if _, err := c.nodes[0].Publisher().PublishAndWait(ctx, companyUpdated("acme")); err != nil && !errors.Is(err, events.ErrL2Pending) {
		t.Fatalf("wait-publish: %v", err)
	}
	b.dead.Store(int64(now.rendered))
}
