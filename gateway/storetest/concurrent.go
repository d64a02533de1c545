package storetest

import (
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testConcurrent races fills against invalidations. The origin's content is
// a version counter; a writer bumps it and then invalidates the tag. A fill
// reads the layer's generation, then the version (its fetch), then stores.
// Once InvalidateTags returns, no Get may return content older than the
// version bumped before it: a fill that read an older version started its
// fetch before the invalidation, so its FetchGen predates it. Every Get
// checks this, fillers' included, so a stale fill stored at any moment
// after the invalidation is caught.
func testConcurrent(t *testing.T, e *env) {
	tn := e.tenant(1)
	const (
		fillers       = 4
		keys          = 8
		invalidations = 200
	)
	var version, safe atomic.Int64   // safe: the latest version whose invalidation returned
	var fills atomic.Int64           // Set calls that returned
	filled := make(chan struct{}, 1) // fills moved
	finished := make(chan struct{})  // every filler returned
	stale := func(got []byte, min int64) error {
		v, err := strconv.ParseInt(string(got), 10, 64)
		if err != nil {
			return err
		}
		if v < min {
			return fmt.Errorf("serving version %d after the invalidation of version %d returned", v, min)
		}
		return nil
	}
	stop := make(chan struct{})
	errs := make(chan error, fillers+1)
	var wg sync.WaitGroup
	for f := range fillers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				k := key(tn, fmt.Sprint("k", (f+i)%keys))
				min := safe.Load()
				got, g, err := e.s.Get(e.ctx, tn, k)
				if err == nil && got != nil {
					err = stale(got.Body, min)
				}
				if err != nil {
					errs <- err
					return
				}
				if got != nil {
					continue
				}
				v := version.Load() // the fetch
				runtime.Gosched()   // which takes a while
				if err := e.s.Set(e.ctx, tn, k, entry(strconv.FormatInt(v, 10), g, "shared", fmt.Sprint("own", f)), time.Minute); err != nil {
					errs <- err
					return
				}
				fills.Add(1)
				select {
				case filled <- struct{}{}:
				default:
				}
			}
		}()
	}
	check := func(min int64) error {
		for k := range keys {
			got, _, err := e.s.Get(e.ctx, tn, key(tn, fmt.Sprint("k", k)))
			if err != nil {
				return err
			}
			if got != nil {
				if err := stale(got.Body, min); err != nil {
					return fmt.Errorf("k%d: %w", k, err)
				}
			}
		}
		return nil
	}
	var failure error
	go func() { wg.Wait(); close(finished) }()
	var since int64 // fills before the previous invalidation began
	for range invalidations {
		// Let a fill land between invalidations, so that fills and
		// invalidations interleave. One always comes: if none landed
		// since the previous invalidation began, that invalidation left
		// every key dead, and the fillers miss and fill. (Waiting for one
		// after it returned could wait for the TTL: fills that read the
		// new generation may have made every key live before it returned.)
		for fills.Load() <= since {
			select {
			case <-filled:
				continue
			case <-finished:
			}
			break
		}
		since = fills.Load()
		v := version.Add(1)
		if err := e.s.InvalidateTags(e.ctx, tn, []string{"shared"}); err != nil {
			failure = err
			break
		}
		safe.Store(v)
		if err := check(v); err != nil {
			failure = err
			break
		}
	}
	close(stop)
	<-finished
	close(errs)
	for err := range errs {
		t.Errorf("filler: %v", err)
	}
	if failure != nil {
		t.Fatal(failure)
	}
}
