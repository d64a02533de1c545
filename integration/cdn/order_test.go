package cdn_test

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestCloudflarePurgedAfterVarnish: Cloudflare sits in front of Varnish,
// so a request that refills Cloudflare after its purge fetches from
// Varnish. At each Cloudflare call for an edit, such a request already
// gets the edited page: Varnish had dropped its copy before Cloudflare was
// asked, so Cloudflare cannot be refilled with the stale one.
func TestCloudflarePurgedAfterVarnish(t *testing.T) {
	s := newStack(t)
	if before := s.warm("acme", "/"); strings.Contains(before.body, orderDesc) {
		t.Fatal("the page shows the new description before the edit")
	}

	// What Cloudflare's refill would get, fetched while each call waits:
	// no t.Fatal here, the handler runs off the test's goroutine.
	var mu sync.Mutex
	var refills []string
	probe := func() {
		req, err := http.NewRequest(http.MethodGet, s.varnish.URL+"/", nil)
		if err != nil {
			return
		}
		req.Host = "acme.localhost"
		got := "error"
		if resp, err := s.client.Do(req); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got = "X-Cache " + resp.Header.Get("X-Cache")
			if strings.Contains(string(b), orderDesc) {
				got += ", edited"
			} else {
				got += ", stale"
			}
		}
		mu.Lock()
		refills = append(refills, got)
		mu.Unlock()
	}
	s.onCFCall.Store(&probe)
	defer s.onCFCall.Store(nil)

	id := s.edit("acme", orderDesc)
	st := s.awaitStatuses(id, everyLayer, 20*time.Second)
	vn, cf := st.Targets["varnish"], st.Targets["cloudflare"]
	if cf.Detail != "" {
		t.Errorf("cloudflare state %+v: a detail although Varnish confirmed", cf)
	}
	if !cf.Updated.After(vn.Updated) {
		t.Errorf("Cloudflare confirmed at %v, not after Varnish at %v", cf.Updated, vn.Updated)
	}

	mu.Lock()
	defer mu.Unlock()
	if len(refills) == 0 {
		t.Fatal("no Cloudflare call for the edit")
	}
	for i, r := range refills {
		if !strings.HasSuffix(r, ", edited") {
			t.Errorf("a refill from Varnish during Cloudflare call %d got %s: Cloudflare was purged before Varnish", i+1, r)
		}
	}
	for _, c := range s.cf.Calls() {
		if c.Time.Before(vn.Updated) {
			t.Errorf("Cloudflare call at %v, before Varnish's confirmation at %v", c.Time, vn.Updated)
		}
	}
	if !strings.HasPrefix(refills[0], "X-Cache MISS") {
		t.Errorf("first refill: %s, want a miss in Varnish (its copy purged)", refills[0])
	}
}

const orderDesc = "Acme opens at seven from Monday."
