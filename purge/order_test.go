package purge_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cachegate/cachegate/purge"
)

// seqPurger is an in-process provider that records each call with a
// sequence number shared by every seqPurger of a test, so that the order
// of calls across providers reads from the numbers, not from clocks. A
// zone in block holds its calls until the channel is closed; a zone in
// fail answers with that error.
type seqPurger struct {
	name    string
	seq     *atomic.Int64
	block   map[string]chan struct{}
	fail    map[string]error
	entered chan string // a held call started, by zone

	mu    sync.Mutex
	calls []seqCall
}

// seqCall is one call: start is taken when it arrives, end when it
// returns, from the shared sequence.
type seqCall struct {
	zone       string
	tags       []string
	start, end int64
	err        error
}

func newSeqPurger(name string, seq *atomic.Int64) *seqPurger {
	return &seqPurger{name: name, seq: seq, block: map[string]chan struct{}{}, fail: map[string]error{}, entered: make(chan string, 16)}
}

func (p *seqPurger) Name() string         { return p.name }
func (p *seqPurger) Limits() purge.Limits { return purge.Limits{TagsPerCall: 100} }

func (p *seqPurger) Purge(ctx context.Context, b purge.Batch) error {
	c := seqCall{zone: b.Zone, tags: b.Tags, start: p.seq.Add(1)}
	if ch := p.block[b.Zone]; ch != nil {
		p.entered <- b.Zone
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	c.err = p.fail[b.Zone]
	c.end = p.seq.Add(1)
	p.mu.Lock()
	p.calls = append(p.calls, c)
	p.mu.Unlock()
	return c.err
}

// callsTo are the completed calls for zone.
func (p *seqPurger) callsTo(zone string) []seqCall {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []seqCall
	for _, c := range p.calls {
		if c.zone == zone {
			out = append(out, c)
		}
	}
	return out
}

// layeredZones gives each tenant its own zone at both layers; the zones
// sort so that berg's batch goes before acme's in a round.
var layeredZones = map[string]string{"acme": "z-acme", "berg": "a-berg"}

// layeredCfg: "cloudflare" in front of "varnish", with calls that may be
// held far longer than any test waits.
func (e *env) layeredCfg(inner, outer *seqPurger) purge.DispatcherConfig {
	cfg := e.fastCfg(
		purge.Provider{Purger: inner, Zones: layeredZones},
		purge.Provider{Purger: outer, Zones: layeredZones, After: []string{"varnish"}},
	)
	cfg.CallTimeout = time.Minute
	return cfg
}

func awaitEntered(t *testing.T, p *seqPurger, zone string) {
	t.Helper()
	select {
	case z := <-p.entered:
		if z != zone {
			t.Fatalf("%s: held call to %s, want %s", p.name, z, zone)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: no call to %s", p.name, zone)
	}
}

// checkAfter fails t unless outer's calls for zone all started after
// every one of inner's returned.
func checkAfter(t *testing.T, inner, outer *seqPurger, zone string) {
	t.Helper()
	in, out := inner.callsTo(zone), outer.callsTo(zone)
	if len(in) == 0 || len(out) == 0 {
		t.Fatalf("zone %s: %d inner calls, %d outer calls", zone, len(in), len(out))
	}
	for _, o := range out {
		for _, i := range in {
			if o.start < i.end {
				t.Errorf("zone %s: outer call started at %d, before the inner call that ended at %d", zone, o.start, i.end)
			}
		}
	}
}

// TestOuterLayerPurgedAfterInner: with Varnish's call for acme held,
// Cloudflare is not sent acme's purge; berg's purge, from the same round
// but in a zone whose Varnish call came back, reaches Cloudflare
// meanwhile, and so does a purge for Cloudflare alone. Once Varnish
// answers, acme's Cloudflare call follows it.
func TestOuterLayerPurgedAfterInner(t *testing.T) {
	e := newEnv(t, "varnish", "cloudflare")
	var seq atomic.Int64
	inner, outer := newSeqPurger("varnish", &seq), newSeqPurger("cloudflare", &seq)
	release := make(chan struct{})
	inner.block["z-acme"] = release
	defer func() {
		select {
		case <-release:
		default:
			close(release)
		}
	}()
	cfg := e.layeredCfg(inner, outer)
	// Both are queued before the dispatcher starts, and the window is
	// wide enough for them to form one round.
	cfg.Window = 500 * time.Millisecond
	e.enqueue(tagReq("A", "acme", "company:acme"), tagReq("B", "berg", "company:berg"))
	e.start(e.queue, cfg)

	awaitEntered(t, inner, "z-acme")
	e.waitStatus("B", "cloudflare", purge.StatusConfirmed, 10*time.Second)

	// A purge the queue sends to Cloudflare only (as a retry of a failure
	// there does) waits for nothing.
	cfOnly, err := purge.OpenQueue(t.Context(), e.js, e.states, purge.QueueConfig{Providers: []string{"cloudflare"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := cfOnly.Enqueue(t.Context(), tagReq("C", "acme", "gallery:acme")); err != nil {
		t.Fatal(err)
	}
	e.waitStatus("C", "cloudflare", purge.StatusConfirmed, 10*time.Second)

	st, err := e.states.Get(t.Context(), "A")
	if err != nil {
		t.Fatal(err)
	}
	if st["varnish"].Status != purge.StatusSent || st["cloudflare"].Status != purge.StatusQueued {
		t.Fatalf("while Varnish's call hangs: varnish %+v, cloudflare %+v; want sent and queued", st["varnish"], st["cloudflare"])
	}
	for _, c := range outer.callsTo("z-acme") {
		for _, tag := range c.tags {
			if tag == "acme:company:acme" {
				t.Fatalf("Cloudflare purged %s while Varnish had not answered", tag)
			}
		}
	}

	close(release)
	e.waitStatus("A", "cloudflare", purge.StatusConfirmed, 10*time.Second)
	e.waitStatus("A", "varnish", purge.StatusConfirmed, 5*time.Second)
	e.queueEmpty(5 * time.Second)
	checkAfter(t, inner, outer, "a-berg")
	var acmeCalls []seqCall
	for _, c := range outer.callsTo("z-acme") {
		if strings.Contains(strings.Join(c.tags, " "), "company:acme") {
			acmeCalls = append(acmeCalls, c)
		}
	}
	if len(acmeCalls) != 1 {
		t.Fatalf("Cloudflare calls carrying company:acme: %+v", acmeCalls)
	}
	if in := inner.callsTo("z-acme"); len(in) != 1 || acmeCalls[0].start < in[0].end {
		t.Errorf("Cloudflare's call for A (start %d) did not follow Varnish's (%+v)", acmeCalls[0].start, in)
	}
}

// TestOuterLayerPurgedWhenInnerFails: Varnish refuses acme's purge, and
// Cloudflare is purged after that anyway, its state saying that Varnish
// failed first; the message is acked with both outcomes recorded and the
// Varnish failure kept for a retry.
func TestOuterLayerPurgedWhenInnerFails(t *testing.T) {
	e := newEnv(t, "varnish", "cloudflare")
	var seq atomic.Int64
	inner, outer := newSeqPurger("varnish", &seq), newSeqPurger("cloudflare", &seq)
	inner.fail["z-acme"] = fmt.Errorf("%w: ban refused", purge.ErrPermanent)
	e.enqueue(tagReq("F", "acme", "company:acme"), tagReq("G", "berg", "company:berg"))
	e.start(e.queue, e.layeredCfg(inner, outer))

	vst := e.waitStatus("F", "varnish", purge.StatusFailed, 10*time.Second)
	cst := e.waitStatus("F", "cloudflare", purge.StatusConfirmed, 10*time.Second)
	if !strings.Contains(vst.Detail, "ban refused") {
		t.Errorf("varnish state %+v", vst)
	}
	if !strings.Contains(cst.Detail, "after varnish failed") {
		t.Errorf("cloudflare state %+v does not say Varnish failed first", cst)
	}
	if g := e.waitStatus("G", "cloudflare", purge.StatusConfirmed, 5*time.Second); g.Detail != "" {
		t.Errorf("berg's purge, confirmed at Varnish, has detail %q at Cloudflare", g.Detail)
	}
	e.queueEmpty(5 * time.Second)
	checkAfter(t, inner, outer, "z-acme")
	fails, err := e.states.Failed(t.Context(), "F")
	if err != nil || len(fails) != 1 || fails[0].Provider != "varnish" {
		t.Fatalf("failures of F: %+v, %v", fails, err)
	}
	if a := e.auditActions("F"); a["purge.confirmed/cloudflare"] != 1 || a["purge.failed/varnish"] != 1 {
		t.Errorf("audit %v", a)
	}
}

// TestCrashWhileOuterLayerWaits: the dispatcher dies while Cloudflare's
// purge waits for Varnish's; nothing was acked, so another dispatcher
// delivers both, in order.
func TestCrashWhileOuterLayerWaits(t *testing.T) {
	e := newEnv(t, "varnish", "cloudflare")
	var seq atomic.Int64
	inner, outer := newSeqPurger("varnish", &seq), newSeqPurger("cloudflare", &seq)
	inner.block["z-acme"] = make(chan struct{}) // never released

	crashJS := connect(t, e.nats.URL)
	crashStates, err := purge.OpenStates(t.Context(), crashJS, purge.StatesConfig{})
	if err != nil {
		t.Fatal(err)
	}
	crashQueue, err := purge.OpenQueue(t.Context(), crashJS, crashStates, purge.QueueConfig{Providers: []string{"varnish", "cloudflare"}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.layeredCfg(inner, outer)
	cfg.AckWait = time.Second
	stop := e.start(crashQueue, cfg)
	e.enqueue(tagReq("K", "acme", "company:acme"))
	awaitEntered(t, inner, "z-acme")
	crashJS.Conn().Close() // the process dies: no ack, no nak
	stop()
	if n := len(outer.callsTo("z-acme")); n != 0 {
		t.Fatalf("Cloudflare was called %d times before Varnish answered", n)
	}

	inner2, outer2 := newSeqPurger("varnish", &seq), newSeqPurger("cloudflare", &seq)
	cfg = e.layeredCfg(inner2, outer2)
	cfg.AckWait = time.Second
	e.start(e.queue, cfg)
	e.waitStatus("K", "cloudflare", purge.StatusConfirmed, 10*time.Second)
	e.waitStatus("K", "varnish", purge.StatusConfirmed, 5*time.Second)
	e.queueEmpty(5 * time.Second)
	checkAfter(t, inner2, outer2, "z-acme")
}
