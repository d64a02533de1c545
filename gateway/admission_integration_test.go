package gateway_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/internal/testenv"
)

// TestL2AdmissionFrequent: on one real Redis, an instance under
// l2.admission: frequent does not write a key asked for once to L2 (the
// other instance misses there), and writes it once asked again (the other
// then hits L2). Under the default, the first fill is shared.
func TestL2AdmissionFrequent(t *testing.T) {
	r := testenv.StartRedis(t)
	o := startOrigin(t, cacheable("max-age=60", "page"))
	l2 := redisL2(t, r.Addr)
	frequent := func(c *gateway.Config) { c.L2, c.FillLock, c.L2Admission = l2, l2, gateway.AdmitFrequent }
	a := startGateway(t, o, frequent)
	b := startGateway(t, o, frequent)

	wantStatus(t, a.get(t, "/once"), "fwd=uri-miss", "stored")
	wantStatus(t, b.get(t, "/once"), "fwd=uri-miss") // not in L2: asked for once
	wantStatus(t, a.get(t, "/once"), "hit; detail=l1")

	// Asked for again after its L1 copy is gone: now admitted.
	if err := a.DropLocal(context.Background()); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, a.get(t, "/once"), "fwd=uri-miss", "stored")
	c := startGateway(t, o, func(c *gateway.Config) { c.L2, c.FillLock = l2, l2 })
	wantStatus(t, c.get(t, "/once"), "hit; detail=l2")
	// c admits always: its first fill is shared.
	wantStatus(t, c.get(t, "/first"), "fwd=uri-miss", "stored")
	wantStatus(t, a.get(t, "/first"), "hit; detail=l2")
	if n := o.requests.Load(); n != 4 {
		t.Errorf("origin saw %d requests, want 4", n)
	}
	if s := scrape(t, a, "cachegate_l2_admission_total"); s != "admitted 1 rejected 1" {
		t.Errorf("a's admission counts: %s", s)
	}
}

// scrape renders the series of counter name as "label value ..." in
// label order.
func scrape(t *testing.T, g *gw, name string) string {
	t.Helper()
	mfs, err := g.cfg.Metrics.(prometheus.Gatherer).Gather()
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			parts = append(parts, fmt.Sprintf("%s %v", m.GetLabel()[0].GetValue(), m.GetCounter().GetValue()))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, " ")
}
