package cluster_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cachegate/cachegate/events"
	"github.com/cachegate/cachegate/internal/nodetest"
	"github.com/cachegate/cachegate/internal/testenv"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/purge/cloudflare/cloudflarefake"
)

// region is one region of TestRegionsShareEvents: its NATS (a JetStream
// domain of its own), its nodes and Redis, and what it applied.
type region struct {
	name    string
	nats    *testenv.NATSProcess
	c       *cluster
	applied *appliedLog
	// local counts the events published here, malformed those of them
	// that can never apply.
	local, malformed int
}

// appliedLog records when this region's coordinators announced each event
// applied (every live instance's L1 and the region's L2), as a waiter in
// this region hears it. The announcements are core NATS messages, at most
// once: an event whose announcement did not come is looked up in the
// region's applied-state bucket, the record a wait-publish relies on.
type appliedLog struct {
	mu     sync.Mutex
	at     map[string]time.Time
	failed map[string]string
	kv     jetstream.KeyValue // the region's events.AppliedBucket
	// missing are the ids await found not applied last, for a failure's
	// report.
	missing []string
}

// report describes, for a failure, what the region's applied-state bucket
// says of the ids found missing last.
func (l *appliedLog) report() string {
	l.mu.Lock()
	ids := slices.Clone(l.missing)
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var out []string
	for _, id := range ids[:min(len(ids), 5)] {
		e, err := l.kv.Get(ctx, id)
		switch {
		case err != nil:
			out = append(out, fmt.Sprintf("%s: %v", id, err))
		default:
			out = append(out, fmt.Sprintf("%s: %s at %v, revision %d", id, e.Operation(), e.Created().Format(time.StampMilli), e.Revision()))
		}
	}
	return strings.Join(out, "; ")
}

func watchApplied(t testing.TB, natsURL string) *appliedLog {
	t.Helper()
	l := &appliedLog{at: map[string]time.Time{}, failed: map[string]string{}}
	nc, err := nats.Connect(natsURL, nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	if _, err := nc.Subscribe(events.AppliedSubjectPrefix+">", func(m *nats.Msg) {
		now := time.Now()
		var note struct {
			ID    string `json:"id"`
			Error string `json:"error"`
		}
		_ = json.Unmarshal(m.Data, &note)
		l.mu.Lock()
		defer l.mu.Unlock()
		if note.Error != "" {
			l.failed[note.ID] = note.Error
			return
		}
		if _, ok := l.at[note.ID]; !ok {
			l.at[note.ID] = now
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if l.kv, err = js.KeyValue(t.Context(), events.AppliedBucket); err != nil {
		t.Fatal(err)
	}
	return l
}

// recorded looks up, in the applied-state bucket, up to 100 of ids whose
// announcement has not come, and keeps the time each was recorded applied.
// The test's ids are letters, digits and '-': their own keys.
func (l *appliedLog) recorded(ids []string) {
	var missing []string
	l.mu.Lock()
	for _, id := range ids {
		if _, ok := l.at[id]; !ok && len(missing) < 100 {
			missing = append(missing, id)
		}
	}
	l.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, id := range missing {
		e, err := l.kv.Get(ctx, id)
		if err != nil || e.Operation() != jetstream.KeyValuePut {
			continue
		}
		l.mu.Lock()
		if _, ok := l.at[id]; !ok {
			l.at[id] = e.Created()
		}
		l.mu.Unlock()
	}
}

// when is the time id was applied, false if it was not (yet).
func (l *appliedLog) when(id string) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	at, ok := l.at[id]
	return at, ok
}

// await waits until every id is applied and returns their times.
func (l *appliedLog) await(t testing.TB, what string, ids []string, timeout time.Duration) []time.Time {
	t.Helper()
	out := make([]time.Time, len(ids))
	testenv.WaitFor(t, timeout, func() error {
		l.recorded(ids)
		l.mu.Lock()
		defer l.mu.Unlock()
		var missing []string
		for i, id := range ids {
			if reason, ok := l.failed[id]; ok {
				t.Fatalf("%s: event %s failed: %s", what, id, reason)
			}
			at, ok := l.at[id]
			if !ok {
				missing = append(missing, id)
				continue
			}
			out[i] = at
		}
		l.missing = missing
		if len(missing) > 0 {
			return fmt.Errorf("%s: %d of %d events not applied, among them %v", what, len(missing), len(ids), missing[:min(len(missing), 5)])
		}
		return nil
	})
	return out
}

// publishAndWait publishes n events in r with wait, as an app in r does,
// each with one tag of its own (so the CDN fake's calls name it), and
// returns their ids and when each publish began.
func (r *region) publishAndWait(t testing.TB, prefix string, n int) ([]string, []time.Time) {
	t.Helper()
	ids, starts := make([]string, n), make([]time.Time, n)
	var late []string
	for i := range n {
		id := fmt.Sprintf("%s-%s-%d", r.name, prefix, i)
		ev := events.Event{ID: id, Tenant: "acme", Type: "item.updated", Tags: []string{"item-" + id}}
		starts[i] = time.Now()
		_, err := r.c.nodes[i%len(r.c.nodes)].Publisher().PublishAndWait(context.Background(), ev)
		switch {
		case applied(err):
		case errors.Is(err, events.ErrApplyTimeout):
			// Allowed by its contract (durable, applied later), but rare:
			// said, and the event must still be applied here.
			t.Logf("wait-publish %s in %s timed out: %v", id, r.name, err)
			late = append(late, id)
		default:
			t.Fatalf("wait-publish %s in %s: %v", id, r.name, err)
		}
		ids[i] = id
	}
	if len(late) > 0 {
		r.applied.await(t, r.name+", the events whose wait-publish timed out", late, time.Minute)
	}
	r.local += n
	return ids, starts
}

// lags are the times from each publish's start to its application in
// another region.
func lags(starts, applied []time.Time) []time.Duration {
	out := make([]time.Duration, len(starts))
	for i := range starts {
		out[i] = applied[i].Sub(starts[i])
	}
	return out
}

// editInEast changes acme's profile at the shared origin, as the editor
// does, its hook publishing company.updated with wait in east; it returns
// the new version and the event's id once east applied it.
func editInEast(t testing.TB, east *region, desc string) (int, string) {
	t.Helper()
	ids := make(chan string, 1)
	east.c.setOnEdit(func(ctx context.Context, tenant, d string) error {
		ev := companyUpdated(tenant)
		ev.ID = "edit-" + strings.ReplaceAll(desc, " ", "-")
		id, err := east.c.nodes[0].Publisher().PublishAndWait(ctx, ev)
		ids <- id
		return err
	})
	defer east.c.setOnEdit(nil)
	v, err := edit(context.Background(), east.c.originURL, "acme", desc)
	if err != nil {
		t.Fatal(err)
	}
	east.local++
	return v, <-ids
}

// serves reports the version of acme's profile each node of r serves.
func (r *region) serves(t testing.TB) []page {
	t.Helper()
	var out []page
	for _, n := range r.c.nodes {
		out = append(out, mustGet(t, n.URL, "acme", "/"))
	}
	return out
}

// TestRegionsShareEvents runs two regions, east and west, each with its
// own NATS server (a JetStream domain of its own), Redis and nodes, in
// front of one origin. West's server is a leaf node of east's, through a
// TCP relay the test cuts; each region's events stream sources the other's
// own events. It checks, and measures:
//
//   - an event published in one region invalidates every node's L1 and the
//     L2 of the other region too: once west applied it, west serves no page
//     fetched before it; its wait-publish returned when its own region had
//     applied it, and the lag to the other region is reported;
//   - each event's CDN purge is sent once, by the region it was published
//     in (cdn.purge_region: origin), though both regions purge the same
//     zone;
//   - with the link down, events published in either region are applied
//     there (wait-publishes return) while the other region keeps serving
//     its older pages; once the link is back, every one of them reaches
//     the other region (none lost, none twice) and the lag is reported;
//   - a malformed event is dead-lettered in both regions, not retried for
//     ever in the one it was sourced into;
//   - nothing crosses the link but the sourcing: east's stream holds only
//     east's and the sourced west events.
//
// The link stays down for 2 s while events are published; make chaos
// (CACHEGATE_CHAOS=long) publishes more events and holds it down for 30 s.
func TestRegionsShareEvents(t *testing.T) {
	lagEvents, backEvents, outage := 300, 100, 2*time.Second
	if os.Getenv("CACHEGATE_CHAOS") == "long" {
		lagEvents, backEvents, outage = 1000, 300, 30*time.Second
	}
	const user, password = "cachegate", "region-secret-0123"
	bin := testenv.BuildNATSServer(t)
	fake := cloudflarefake.New(cdnToken)
	t.Cleanup(fake.Close)

	east := &region{name: "east", nats: testenv.StartNATSRegion(t, bin, "east", user, password, "")}
	link := startProxy(t, east.nats.LeafAddr)
	west := &region{name: "west", nats: testenv.StartNATSRegion(t, bin, "west", user, password, strings.TrimPrefix(link.URL(), "nats://"))}
	east.c = startCluster(t, clusterOptions{nodes: 1, natsCluster: east.nats.URL, region: "east", sources: []string{"west"}, cloudflare: fake.URL()})
	west.c = startCluster(t, clusterOptions{nodes: 2, natsCluster: west.nats.URL, region: "west", sources: []string{"east"}, cloudflare: fake.URL(), origin: east.c})
	east.applied, west.applied = watchApplied(t, east.nats.URL), watchApplied(t, west.nats.URL)
	t.Cleanup(func() {
		if t.Failed() {
			for _, r := range []*region{east, west} {
				for i, n := range r.c.nodes {
					t.Logf("%s node %d pulls from partitions %v", r.name, i, n.Coordinator().Partitions())
				}
				t.Logf("%s's coordinator consumers: %s", r.name, consumerStates(r.c))
				t.Logf("%s's applied records of the events last found missing: %s", r.name, r.applied.report())
			}
		}
	})

	// The link is up once an event crosses it (the leaf node connects,
	// then each stream's source finds the other's: a source set up before
	// the link was there retries on the server's schedule, 10 s and more).
	ids, _ := east.publishAndWait(t, "first", 1)
	west.applied.await(t, "west, the first event from east", ids, 2*time.Minute)
	ids, _ = west.publishAndWait(t, "first", 1)
	east.applied.await(t, "east, the first event from west", ids, 2*time.Minute)
	var all []string // every event id, for the CDN check

	// Stale reads: west's nodes hold acme's profile in L1 (and L2); an
	// edit published with wait in east returns once east applied it, and
	// from the moment west applied it, no west node serves the old page.
	for _, n := range west.c.nodes {
		warm(t, n, "acme", "/")
	}
	v, id := editInEast(t, east, "edited in east")
	all = append(all, id)
	if p := mustGet(t, east.c.nodes[0].URL, "acme", "/"); p.version < v {
		t.Errorf("east serves version %d after its wait-publish of version %d returned", p.version, v)
	}
	west.applied.await(t, "west, the edit", []string{id}, 30*time.Second)
	for i, p := range west.serves(t) {
		if p.version < v {
			t.Errorf("west node %d serves version %d (%s) after west applied the event of version %d", i, p.version, p.cacheStatus, v)
		}
	}

	// The lag, both ways.
	ids, starts := east.publishAndWait(t, "lag", lagEvents)
	eastToWest := lags(starts, west.applied.await(t, "west, the events from east", ids, 60*time.Second))
	all = append(all, ids...)
	// Already applied (the wait-publishes returned): only this test's own
	// subscription may still be reading the notifications.
	local := lags(starts, east.applied.await(t, "east, its own events", ids, 10*time.Second))
	ids, starts = west.publishAndWait(t, "lag", backEvents)
	westToEast := lags(starts, east.applied.await(t, "east, the events from west", ids, 60*time.Second))
	all = append(all, ids...)

	// A malformed event published in east is dead-lettered in both
	// regions: in west too, where its message carries the header
	// JetStream adds to a sourced one (refused on a plain publish, so the
	// dead letter must leave it out).
	raw := nats.NewMsg(events.SubjectPrefix + "acme.company")
	raw.Data = []byte(`{"tenant":`)
	raw.Header.Set(jetstream.MsgIDHeader, "east-malformed")
	if _, err := east.c.jetStream().PublishMsg(context.Background(), raw); err != nil {
		t.Fatal(err)
	}
	east.malformed++
	for _, r := range []*region{east, west} {
		testenv.WaitFor(t, 30*time.Second, func() error {
			if n := streamInfo(t, r.c, events.DeadLetterStreamName).State.Msgs; n != 1 {
				return fmt.Errorf("%s holds %d dead letters, want the malformed event", r.name, n)
			}
			return nil
		})
	}

	// The link down. Each region goes on applying its own events; the
	// other region does not see them, and serves its older pages.
	for _, n := range west.c.nodes {
		warm(t, n, "acme", "/")
	}
	link.cut()
	cutAt := time.Now()
	v, editID := editInEast(t, east, "edited while the link is down")
	var eastIDs, westIDs []string
	var eastStarts, westStarts []time.Time
	for round := 0; round == 0 || time.Since(cutAt) < outage; round++ {
		ids, starts := east.publishAndWait(t, fmt.Sprint("cut-", round), 50)
		eastIDs, eastStarts = append(eastIDs, ids...), append(eastStarts, starts...)
		ids, starts = west.publishAndWait(t, fmt.Sprint("cut-", round), 20)
		westIDs, westStarts = append(westIDs, ids...), append(westStarts, starts...)
	}
	for i, p := range west.serves(t) {
		if p.version >= v {
			t.Errorf("west node %d serves version %d with the link down: the edit cannot have reached it", i, p.version)
		}
	}
	for _, id := range append(append([]string{editID}, eastIDs...), westIDs...) {
		if _, ok := west.applied.when(id); ok && !strings.HasPrefix(id, "west") {
			t.Fatalf("west applied %s, published in east while the link was down", id)
		}
		if _, ok := east.applied.when(id); ok && strings.HasPrefix(id, "west") {
			t.Fatalf("east applied %s, published in west while the link was down", id)
		}
	}
	// The sourcing's state is visible while it is down.
	waitMetric(t, west.c.nodes[0], `cachegate_events_region_source_active_seconds{region="east"}`, func(v float64) bool { return v >= 1 })
	down := time.Since(cutAt)
	link.restore()
	restored := time.Now()
	westGot := west.applied.await(t, "west, the events from east after the link returned", append([]string{editID}, eastIDs...), 3*time.Minute)
	eastGot := east.applied.await(t, "east, the events from west after the link returned", westIDs, 3*time.Minute)
	caughtUp := time.Since(restored)
	// The first event to arrive says when the sourcing resumed (the leaf
	// node reconnects, then each stream's source retries on its own
	// schedule); the rest is the backlog draining.
	resumed := caughtUp
	for _, at := range append(append([]time.Time(nil), westGot...), eastGot...) {
		resumed = min(resumed, at.Sub(restored))
	}
	for i, p := range west.serves(t) {
		if p.version < v {
			t.Errorf("west node %d serves version %d after west applied the edit of version %d", i, p.version, v)
		}
	}
	all = append(append(append(all, editID), eastIDs...), westIDs...)
	waitMetric(t, west.c.nodes[0], `cachegate_events_region_source_active_seconds{region="east"}`, func(v float64) bool { return v >= 0 && v < 5 })
	waitMetric(t, west.c.nodes[0], `cachegate_events_region_source_lag{region="east"}`, func(v float64) bool { return v == 0 })

	// Nothing lost and nothing twice: each stream holds every event of the
	// other region once, and only its own events under its own subjects
	// (nothing crossed the link but the sourcing).
	for _, r := range []struct {
		self, other *region
	}{{east, west}, {west, east}} {
		counts := subjectCounts(t, r.self.c)
		if got, want := counts[events.SubjectPrefix], r.self.local+r.self.malformed; got != want {
			t.Errorf("%s's stream holds %d events published there, want %d", r.self.name, got, want)
		}
		if got, want := counts[events.SourcedSubjectPrefix+r.other.name+"."], r.other.local+r.other.malformed; got != want {
			t.Errorf("%s's stream holds %d events sourced from %s, want %d (each once)", r.self.name, got, r.other.name, want)
		}
		if got := counts[events.SourcedSubjectPrefix+r.self.name+"."]; got != 0 {
			t.Errorf("%s's stream holds %d of its own events sourced back from %s", r.self.name, got, r.other.name)
		}
	}

	// The CDN purge, once per event: each region's queue took its own
	// events only, and the zone was purged of each event's tag once.
	for _, r := range []*region{east, west} {
		testenv.WaitFor(t, 30*time.Second, func() error { return eventsDrained(r.c) })
		if got, want := streamInfo(t, r.c, purge.StreamName).State.LastSeq, uint64(r.local); got != want {
			t.Errorf("%s's purge queue took %d purges, want %d: one per event published there", r.name, got, want)
		}
	}
	testenv.WaitFor(t, 30*time.Second, func() error {
		purged := map[string]int{}
		for _, item := range fake.Confirmed()[cdnZone] {
			purged[item]++
		}
		for _, id := range all {
			if strings.HasPrefix(id, "edit-") {
				continue // its tags are shared with the other edit
			}
			n := 0
			for item, count := range purged {
				if strings.HasSuffix(item, "item-"+id) {
					n += count
				}
			}
			if n != 1 {
				return fmt.Errorf("the CDN was purged of %s's tag %d times, want once", id, n)
			}
		}
		return nil
	})

	t.Logf("wait-publish in east (east applied): %s", percentiles(local))
	t.Logf("east publish → west applied: %s", percentiles(eastToWest))
	t.Logf("west publish → east applied: %s", percentiles(westToEast))
	t.Logf("link down %v (%d events published in east, %d in west meanwhile, all applied where published); after the link returned, the first of them was applied in the other region %v later, every one %v later",
		down.Round(time.Millisecond), len(eastIDs)+1, len(westIDs), resumed.Round(time.Millisecond), caughtUp.Round(time.Millisecond))
	t.Logf("publish → applied in the other region of the events published while the link was down: east → west %s; west → east %s",
		percentiles(lags(append([]time.Time{cutAt}, eastStarts...), westGot)), percentiles(lags(westStarts, eastGot)))
}

// subjectCounts counts the messages of c's events stream by subject
// prefix: SubjectPrefix, and SourcedSubjectPrefix + region + ".".
func subjectCounts(t testing.TB, c *cluster) map[string]int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := c.jetStream().Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx, jetstream.WithSubjectFilter("cachegate.>"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for subject, n := range info.State.Subjects {
		prefix := events.SubjectPrefix
		if rest, ok := strings.CutPrefix(subject, events.SourcedSubjectPrefix); ok {
			from, _, _ := strings.Cut(rest, ".")
			prefix = events.SourcedSubjectPrefix + from + "."
		}
		out[prefix] += int(n)
	}
	return out
}

// waitMetric waits until n's /metrics shows series (name and labels, as
// printed) with a value ok accepts; the coordinators sample every
// events.DefaultLagInterval.
func waitMetric(t testing.TB, n *nodetest.Node, series string, ok func(float64) bool) {
	t.Helper()
	testenv.WaitFor(t, 3*events.DefaultLagInterval, func() error {
		req, err := http.NewRequest(http.MethodGet, n.AdminURL+"/metrics", nil)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+nodetest.Token)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, found := strings.CutPrefix(line, series+" "); found {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil || !ok(f) {
					return fmt.Errorf("%s is %s", series, v)
				}
				return nil
			}
		}
		return fmt.Errorf("%s not in /metrics", series)
	})
}

// consumerStates describes c's coordinator consumers, for a failure's
// report: what each holds, and to whom it is pinned.
func consumerStates(c *cluster) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	names, err := events.Durables(ctx, c.jetStream())
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, d := range names {
		cons, err := c.jetStream().Consumer(ctx, events.StreamName, d)
		if err != nil {
			out = append(out, fmt.Sprintf("%s: %v", d, err))
			continue
		}
		info := cons.CachedInfo()
		pins := ""
		for _, g := range info.PriorityGroups {
			pins += fmt.Sprintf(" pinned %q since %v", g.PinnedClientID, g.PinnedTS.Format(time.StampMilli))
		}
		out = append(out, fmt.Sprintf("%s: delivered %d, ack floor %d, pending %d, ack pending %d, redelivered %d, waiting %d%s",
			d, info.Delivered.Stream, info.AckFloor.Stream, info.NumPending, info.NumAckPending, info.NumRedelivered, info.NumWaiting, pins))
	}
	return strings.Join(out, "; ")
}
