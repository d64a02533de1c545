package chaos_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// outcome is what a wait-publish answered.
type outcome int

const (
	published outcome = iota // sent, no answer yet
	applied                  // 200: applied everywhere
	visible                  // 202 l2_pending: readers see it, L2 catches up
	durable                  // 202, or 504 "durable, applied later"
	refused                  // 503: not accepted (honest, not a loss)
	failed                   // anything else: a client error
)

// accepted reports whether the product took responsibility for the event.
func (o outcome) accepted() bool { return o == applied || o == visible || o == durable }

// binding reports whether no read that begins after the answer may show
// an older version: "applied", and "visible" (L2 pending), which promises
// the same to readers.
func (o outcome) binding() bool { return o == applied || o == visible }

// edit is one page's one edit.
type edit struct {
	page    int
	version int
	phase   int
	// sent is when the publish request was sent; returned when its whole
	// answer had been read (both on this process's monotonic clock).
	sent, returned time.Time
	status         int
	outcome        outcome
	detail         string
}

// read is one GET of a page on one instance.
type read struct {
	// start is taken before the request is sent.
	start   time.Time
	phase   int
	inst    int
	page    int
	status  int // 0: no answer (connection refused, timeout)
	version int // -1: none in the body
	cache   string
}

// ok reports whether the read got a page with a version.
func (r read) ok() bool { return r.status == http.StatusOK && r.version >= 0 }

// staleAgainst reports whether r is a stale read of e's page: it began
// strictly after e's wait-publish returned 200 (or 202 l2_pending), and
// shows an older version.
func (r read) staleAgainst(e edit) bool {
	return e.outcome.binding() && r.ok() && r.page == e.page &&
		r.start.After(e.returned) && r.version < e.version
}

// checker holds the pages, edits and reads of a run.
type checker struct {
	phase atomic.Int64
	// cursor is the page the writer edited last.
	cursor atomic.Int64

	mu    sync.RWMutex
	pages []string // page index → id
	// pagePhase is the phase each page was created in; edits is indexed
	// by page (each page is edited once).
	pagePhase []int
	edits     []edit
	reads     []read
}

// newPage adds a page of the current phase to what readers read.
func (c *checker) newPage(phase int, id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pages = append(c.pages, id)
	c.pagePhase = append(c.pagePhase, phase)
	c.edits = append(c.edits, edit{page: len(c.pages) - 1, phase: phase})
	return len(c.pages) - 1
}

func (c *checker) setEdit(e edit) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.edits[e.page] = e
}

func (c *checker) addRead(r read) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reads = append(c.reads, r)
}

func (c *checker) page(i int) string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.pages[i]
}

// pick chooses a page for a reader: mostly the ones around the writer's
// cursor (about to be edited, or just edited), otherwise any page of the
// current or previous phase, so that pages edited during a fault are still
// read after it.
func (c *checker) pick(rng *rand.Rand) (int, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	n := len(c.pages)
	if n == 0 {
		return 0, false
	}
	if rng.IntN(10) < 7 {
		i := int(c.cursor.Load()) + 2 - rng.IntN(8)
		return max(0, min(i, n-1)), true
	}
	phase := int(c.phase.Load())
	first := n - 1
	for first > 0 && c.pagePhase[first-1] >= phase-1 {
		first--
	}
	return first + rng.IntN(n-first), true
}

var versionRE = regexp.MustCompile(`data-version="(\d+)"`)

// client reads pages; its timeout bounds a read of a paused instance.
var readClient = &http.Client{
	Timeout:   10 * time.Second,
	Transport: &http.Transport{MaxIdleConnsPerHost: 16},
}

// get reads page i on instance inst and returns the read (not recorded).
func (c *checker) get(ctx context.Context, e *env, inst, i int, timeout time.Duration) read {
	r := read{phase: int(c.phase.Load()), inst: inst, page: i, version: -1}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+e.insts[inst].gw+"/p/"+c.page(i), nil)
	if err != nil {
		panic(err)
	}
	req.Host = host
	r.start = time.Now()
	resp, err := readClient.Do(req)
	if err != nil {
		return r
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return r
	}
	r.status, r.cache = resp.StatusCode, resp.Header.Get("Cache-Status")
	if m := versionRE.FindSubmatch(body); m != nil {
		r.version, _ = strconv.Atoi(string(m[1]))
	}
	return r
}

// runReaders reads pages on every instance until ctx ends, each reader
// pacing itself to one read per every.
func (c *checker) runReaders(ctx context.Context, e *env, perInstance int, every time.Duration) *sync.WaitGroup {
	var wg sync.WaitGroup
	for inst := range e.insts {
		for k := 0; k < perInstance; k++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(inst), uint64(k)))
				tick := time.NewTicker(every)
				defer tick.Stop()
				for {
					select {
					case <-ctx.Done():
						return
					case <-tick.C:
					}
					if i, ok := c.pick(rng); ok {
						if r := c.get(ctx, e, inst, i, readClient.Timeout); ctx.Err() == nil {
							c.addRead(r)
						}
					}
				}
			}()
		}
	}
	return &wg
}

// publishClient outlasts the server's 30 s wait.
var publishClient = &http.Client{Timeout: 60 * time.Second}

// warm reads pages on every instance, so that every layer holds them.
func (c *checker) warm(e *env, pages []int) {
	var wg sync.WaitGroup
	slots := make(chan struct{}, 8)
	for _, i := range pages {
		for inst := range e.insts {
			wg.Add(1)
			slots <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-slots }()
				c.get(context.Background(), e, inst, i, 3*time.Second)
			}()
		}
	}
	wg.Wait()
}

// editPage reads page i on every instance once more (a restart or a
// reconnect may have emptied an L1 since the phase began), bumps it at the
// origin and publishes its event with ?wait=1 on instance 0's admin API.
func (c *checker) editPage(e *env, phase, i int) {
	c.warm(e, []int{i})
	id := c.page(i)
	ed := edit{page: i, phase: phase, version: e.origin.bump(id)}
	body := fmt.Sprintf(`{"tenant":%q,"type":"page.updated","entity":"page","key":%q}`, tenant, id)
	req, err := http.NewRequest(http.MethodPost, "http://"+e.insts[0].admin+"/api/v1/events?wait=1", bytes.NewBufferString(body))
	if err != nil {
		panic(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	ed.sent = time.Now()
	resp, err := publishClient.Do(req)
	var answer []byte
	if err == nil {
		answer, err = io.ReadAll(resp.Body)
		resp.Body.Close()
	}
	ed.returned = time.Now()
	switch {
	case err != nil:
		ed.outcome, ed.detail = failed, err.Error()
	default:
		ed.status, ed.detail = resp.StatusCode, string(bytes.TrimSpace(answer))
		switch resp.StatusCode {
		case http.StatusOK:
			ed.outcome = applied
		case http.StatusAccepted, http.StatusGatewayTimeout:
			ed.outcome = durable
			var a struct {
				L2Pending bool `json:"l2_pending"`
			}
			if json.Unmarshal(answer, &a) == nil && a.L2Pending {
				ed.outcome = visible
			}
		case http.StatusServiceUnavailable:
			ed.outcome = refused
		default:
			ed.outcome = failed
		}
	}
	c.setEdit(ed)
}

// writer edits a page every `every`, with at most maxInFlight edits
// waiting for their answer, until stop is called.
type writer struct {
	stopc chan struct{}
	done  sync.WaitGroup
}

// startWriter creates the phase's pages (pool of them) and reads them on
// every instance before it returns, so that the phase's fault hits pages
// that every layer, L2 included, holds; then it edits them in turn, and
// new ones (read just before their edit) if the pool runs out.
func (c *checker) startWriter(e *env, phase int, name string, pool int, every time.Duration, maxInFlight int) *writer {
	pages := make([]int, pool)
	for k := range pages {
		pages[k] = c.newPage(phase, fmt.Sprintf("%s-%d", name, k))
	}
	c.warm(e, pages)
	w := &writer{stopc: make(chan struct{})}
	slots := make(chan struct{}, maxInFlight)
	w.done.Add(1)
	go func() {
		defer w.done.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for n := 0; ; {
			select {
			case <-w.stopc:
				return
			case <-tick.C:
			}
			select {
			case slots <- struct{}{}:
			default:
				continue // bounded load: skip a beat rather than pile up
			}
			var i int
			if n < len(pages) {
				i = pages[n]
			} else {
				i = c.newPage(phase, fmt.Sprintf("%s-%d", name, n))
			}
			n++
			c.cursor.Store(int64(i))
			w.done.Add(1)
			go func() {
				defer w.done.Done()
				defer func() { <-slots }()
				c.editPage(e, phase, i)
			}()
		}
	}()
	return w
}

// stop ends the writer and waits until every edit has its answer.
func (w *writer) stop() {
	close(w.stopc)
	w.done.Wait()
}
