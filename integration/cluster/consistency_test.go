package cluster_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/demo/origin"
)

const (
	// consistencyReads is how many reads the checker sees at least.
	consistencyReads = 10_000
	// consistencyReaders and consistencyWriters run concurrently.
	consistencyReaders = 4
	consistencyWriters = 2
	// plainEdits is how many edits measure the lag of a plain Publish.
	plainEdits = 20
	// editPause paces each writer.
	editPause = 40 * time.Millisecond
)

// write is one edit whose wait call returned.
type write struct {
	version  int
	returned time.Time // when PublishAndWait returned
}

// read is one page a reader got.
type read struct {
	node    int
	start   time.Time
	version int
	status  string
	took    time.Duration
}

// edits records, per unique description, when the OnEdit hook's publish
// returned, so that an edit's version (from the origin's answer) can be
// paired with it.
type edits struct {
	mu       sync.Mutex
	returned map[string]time.Time
}

func (e *edits) done(desc string) {
	e.mu.Lock()
	e.returned[desc] = time.Now()
	e.mu.Unlock()
}

func (e *edits) get(desc string) (time.Time, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	t, ok := e.returned[desc]
	return t, ok
}

// TestNoStaleReadAfterWaitReturned: writers edit acme's description on the
// origin, whose edit hook publishes company.updated with PublishAndWait
// through one of the nodes (as the demo does), while readers hammer acme's
// profile on all three gateways. No read that began after an edit's wait
// returned may show an older version than that edit's: zero stale reads
// over at least 10,000 reads. Then, with a plain Publish, it logs how
// long after Publish returned the last stale read was seen.
func TestNoStaleReadAfterWaitReturned(t *testing.T) {
	c := startCluster(t, clusterOptions{})
	rec := &edits{returned: make(map[string]time.Time)}
	var plain atomic.Bool
	var turn atomic.Int64
	c.setOnEdit(func(ctx context.Context, tenant, desc string) error {
		data, _ := json.Marshal(map[string]string{"description": desc})
		ev := companyUpdated(tenant)
		ev.Data = data
		// Edits are announced through every node in turn.
		pub := c.nodes[int(turn.Add(1))%len(c.nodes)].Publisher()
		var err error
		if plain.Load() {
			_, err = pub.Publish(ctx, ev)
		} else {
			_, err = pub.PublishAndWait(ctx, ev)
		}
		if err == nil {
			rec.done(desc)
		}
		return err
	})
	for _, n := range c.nodes {
		warm(t, n, "acme", "/")
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var (
		mu      sync.Mutex
		writes  []write
		reads   = make([]read, 0, consistencyReads+consistencyReaders)
		readCnt atomic.Int64
		failed  atomic.Bool
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	fail := func(format string, args ...any) {
		if failed.CompareAndSwap(false, true) {
			t.Errorf(format, args...)
		}
	}
	start := time.Now()
	for w := range consistencyWriters {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				desc := fmt.Sprintf("Edited by writer %d, edit %d.", w, i)
				v, err := edit(ctx, c.originURL, "acme", desc)
				if err != nil {
					fail("edit: %v", err)
					return
				}
				ret, ok := rec.get(desc)
				if !ok {
					fail("edit %q answered but its publish was not recorded", desc)
					return
				}
				mu.Lock()
				writes = append(writes, write{version: v, returned: ret})
				mu.Unlock()
				// Leave the readers some hits between edits.
				time.Sleep(editPause)
			}
		})
	}
	var readers sync.WaitGroup
	for r := range consistencyReaders {
		readers.Go(func() {
			local := make([]read, 0, consistencyReads/consistencyReaders+1)
			defer func() {
				mu.Lock()
				reads = append(reads, local...)
				mu.Unlock()
			}()
			for i := r; readCnt.Add(1) <= consistencyReads; i++ {
				node := i % len(c.nodes)
				begin := time.Now()
				p, err := get(ctx, c.nodes[node].URL, "acme", "/")
				if err != nil || p.status != http.StatusOK || p.version < 1 {
					fail("read on node %d: %v, status %d, version %d, Cache-Status %q", node, err, p.status, p.version, p.cacheStatus)
					return
				}
				local = append(local, read{node: node, start: begin, version: p.version, status: p.cacheStatus, took: time.Since(begin)})
			}
		})
	}
	readers.Wait()
	close(stop)
	wg.Wait()
	elapsed := time.Since(start)
	if failed.Load() {
		return
	}

	stale, layers := checkReads(writes, reads)
	took := make([]time.Duration, len(reads))
	for i, r := range reads {
		took[i] = r.took
	}
	slices.Sort(took)
	t.Logf("%d reads (%v) on 3 nodes during %d edits in %v; served: %v; read latency p50 %v, p99 %v, max %v",
		len(reads), perSecond(len(reads), elapsed), len(writes), elapsed.Round(time.Millisecond), layers,
		took[len(took)/2], took[len(took)*99/100], took[len(took)-1])
	if len(reads) < consistencyReads {
		t.Fatalf("only %d reads, want at least %d", len(reads), consistencyReads)
	}
	if len(writes) < 10 {
		t.Fatalf("only %d edits during the reads: the check proves little", len(writes))
	}
	for i, s := range stale {
		if i == 10 {
			t.Errorf("... %d stale reads in all", len(stale))
			break
		}
		t.Errorf("stale read on node %d at +%v: version %d, but version %d's wait returned %v before the read began (Cache-Status %q)",
			s.read.node, s.read.start.Sub(start), s.read.version, s.want.version, s.read.start.Sub(s.want.returned), s.read.status)
	}

	// A plain Publish returns once the event is durable, not applied:
	// how long until no node serves the old version any more?
	plain.Store(true)
	lags := make([]time.Duration, 0, plainEdits)
	for i := range plainEdits {
		desc := fmt.Sprintf("Plain edit %d.", i)
		v, err := edit(ctx, c.originURL, "acme", desc)
		if err != nil {
			t.Fatalf("edit: %v", err)
		}
		published, _ := rec.get(desc)
		lags = append(lags, lastStaleRead(t, ctx, c, v, published))
	}
	slices.Sort(lags)
	t.Logf("plain Publish: last stale read began %v after Publish returned (median of %d edits), %v at most",
		lags[len(lags)/2], len(lags), lags[len(lags)-1])
}

// staleRead is a read older than a write whose wait returned before it.
type staleRead struct {
	read read
	want write
}

// checkReads returns the stale reads and how many reads each layer served.
func checkReads(writes []write, reads []read) ([]staleRead, map[string]int) {
	sort.Slice(writes, func(i, j int) bool { return writes[i].returned.Before(writes[j].returned) })
	// newest[i] is the newest write among writes[:i+1].
	newest := make([]write, len(writes))
	for i, w := range writes {
		newest[i] = w
		if i > 0 && newest[i-1].version > w.version {
			newest[i] = newest[i-1]
		}
	}
	layers := make(map[string]int)
	var stale []staleRead
	for _, r := range reads {
		p := page{cacheStatus: r.status}
		switch {
		case p.layer() != "":
			layers[p.layer()]++
		default:
			layers["origin"]++
		}
		// The writes whose wait returned strictly before the read began.
		n := sort.Search(len(writes), func(i int) bool { return !writes[i].returned.Before(r.start) })
		if n > 0 && r.version < newest[n-1].version {
			stale = append(stale, staleRead{read: r, want: newest[n-1]})
		}
	}
	return stale, layers
}

// lastStaleRead polls every node until each serves version v or newer
// and returns how long after published the last read that still saw an
// older version began (0 if none did).
func lastStaleRead(t *testing.T, ctx context.Context, c *cluster, v int, published time.Time) time.Duration {
	t.Helper()
	var (
		mu   sync.Mutex
		last time.Duration
		wg   sync.WaitGroup
	)
	deadline := time.Now().Add(10 * time.Second)
	for i, n := range c.nodes {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				begin := time.Now()
				p, err := get(ctx, n.URL, "acme", "/")
				if err != nil || p.status != http.StatusOK {
					t.Errorf("node %d: %v, status %d", i, err, p.status)
					return
				}
				if p.version >= v {
					return
				}
				mu.Lock()
				last = max(last, begin.Sub(published))
				mu.Unlock()
			}
			t.Errorf("node %d still serves a version older than %d 10s after a plain Publish", i, v)
		})
	}
	wg.Wait()
	return last
}

// edit changes tenant's description through POST /edit at base (the
// origin, or a gateway in front of it) and returns the new version; the
// origin's hook has run when it returns.
func edit(ctx context.Context, base, tenant, desc string) (int, error) {
	body, _ := json.Marshal(map[string]string{"description": desc})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/edit", bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Host = tenant + ".localhost"
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer editor")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var out origin.EditResult
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("POST /edit: status %d, %v", resp.StatusCode, err)
	}
	return int(out.Version), nil
}

func perSecond(n int, d time.Duration) string {
	return fmt.Sprintf("%.0f/s", float64(n)/d.Seconds())
}
