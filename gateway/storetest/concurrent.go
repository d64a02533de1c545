package storetest

import (
	"fmt"
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
// fetch before the invalidation, so its FetchGen predates it.
func testConcurrent(t *testing.T, e *env) {
	tn := e.tenant(1)
	const (
		fillers       = 4
		keys          = 8
		invalidations = 40
	)
	var version atomic.Int64
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
				got, g, err := e.s.Get(e.ctx, tn, k)
				if err != nil {
					errs <- err
					return
				}
				if got != nil {
					continue
				}
				v := version.Load()
				if err := e.s.Set(e.ctx, tn, k, entry(strconv.FormatInt(v, 10), g, "shared", fmt.Sprint("own", f)), time.Minute); err != nil {
					errs <- err
					return
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
			if got == nil {
				continue
			}
			v, err := strconv.ParseInt(string(got.Body), 10, 64)
			if err != nil {
				return err
			}
			if v < min {
				return fmt.Errorf("k%d serves version %d after the invalidation of version %d", k, v, min)
			}
		}
		return nil
	}
	var failure error
	for range invalidations {
		v := version.Add(1)
		if err := e.s.InvalidateTags(e.ctx, tn, []string{"shared"}); err != nil {
			failure = err
			break
		}
		if err := check(v); err != nil {
			failure = err
			break
		}
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("filler: %v", err)
	}
	if failure != nil {
		t.Fatal(failure)
	}
}
