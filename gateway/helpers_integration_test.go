package gateway_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/internal/testenv"

	"github.com/cachegate/cachegate/invalidation"
)

func errorfT(format string, args ...any) error { return fmt.Errorf(format, args...) }

func invalidationRequest(tenant string, tags ...string) invalidation.Request {
	return invalidation.Request{Tenant: tenant, Tags: tags}
}

// releaser returns the function that closes gate, once; it is also run at
// cleanup, before an origin started earlier closes (an httptest server
// waits for its handlers, which wait on gate).
func releaser(t *testing.T, gate chan struct{}) func() {
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	t.Cleanup(release)
	return release
}

// waitSkipped waits until g left n background refreshes to another
// holder of the fill lock.
func waitSkipped(t *testing.T, g *gateway.Gateway, n int) {
	t.Helper()
	testenv.WaitFor(t, 5*time.Second, func() error {
		if got := gateway.RefreshesSkipped(g); got != n {
			return fmt.Errorf("%d refreshes left to the lock's holder, want %d", got, n)
		}
		return nil
	})
}
