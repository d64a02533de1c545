package events_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/events"
	"github.com/cachegate/cachegate/internal/testenv"
	"github.com/cachegate/cachegate/invalidation"
	"github.com/cachegate/cachegate/purge"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func companyEvent(tenant, key string) events.Event {
	return events.Event{Tenant: tenant, Type: "company.updated", Entity: "company", Key: key}
}

// PublishAndWait returns only after L2 and every one of three instances
// (each on its own connection) applied the invalidation.
func TestPublishAndWaitAppliesOnEveryInstance(t *testing.T) {
	e := newEnv(t)
	var locals []*fakeLocal
	for _, id := range []string{"i1", "i2", "i3"} {
		_, l, _ := e.instance(id, 200*time.Millisecond)
		locals = append(locals, l)
	}
	shared, q, states, au := newFakeShared(), newMemQueue(), &memStates{}, &memAudit{}
	c := e.coordinator(events.CoordinatorConfig{Shared: shared, Queue: q, States: states, Audit: au})
	waitLive(t, c, "i1", "i2", "i3")
	p := e.publisher()
	ctx := context.Background()
	var last string
	for i := range 20 {
		key := fmt.Sprintf("k%d", i)
		id, err := p.PublishAndWait(ctx, companyEvent("acme", key))
		if err != nil {
			t.Fatal(err)
		}
		for n, l := range locals {
			if !l.hasTag("acme", "company:"+key) {
				t.Fatalf("event %d: PublishAndWait returned before instance i%d applied it", i, n+1)
			}
		}
		if len(shared.calls("company:"+key)) != 1 {
			t.Fatalf("event %d: L2 calls = %d, want 1", i, len(shared.calls("company:"+key)))
		}
		last = id
	}
	testenv.WaitFor(t, 5*time.Second, func() error {
		if q.count(last) != 1 {
			return fmt.Errorf("purge of %s enqueued %d times", last, q.count(last))
		}
		if au.find(last, "event") == nil {
			return errors.New("no audit entry")
		}
		for _, target := range []string{purge.TargetL1, purge.TargetL2} {
			if s := states.get(last, target); s.Status != purge.StatusApplied {
				return fmt.Errorf("state %s = %+v", target, s)
			}
		}
		return nil
	})
}

// The same id published three times is processed once; a PublishAndWait
// whose publish was a duplicate learns from the applied-ids bucket.
func TestPublishDedupe(t *testing.T) {
	e := newEnv(t)
	_, local, _ := e.instance("i1", 200*time.Millisecond)
	shared, q := newFakeShared(), newMemQueue()
	p := e.publisher()
	ctx := context.Background()
	ev := companyEvent("acme", "dup")
	ev.ID = "dup-1"
	for range 2 {
		if id, err := p.Publish(ctx, ev); err != nil || id != "dup-1" {
			t.Fatalf("Publish = %q, %v", id, err)
		}
	}
	c := e.coordinator(events.CoordinatorConfig{Shared: shared, Queue: q})
	waitLive(t, c, "i1")
	if _, err := p.PublishAndWait(ctx, ev); err != nil {
		t.Fatalf("PublishAndWait of an already published event: %v", err)
	}
	if !local.hasTag("acme", "company:dup") {
		t.Fatal("not applied on the instance")
	}
	// A later event, once applied, proves the duplicates were not queued
	// behind it.
	next := companyEvent("acme", "next")
	next.ID = "next-1"
	if _, err := p.PublishAndWait(ctx, next); err != nil {
		t.Fatal(err)
	}
	// Batches finish (queue, states, acks) concurrently: await both.
	testenv.WaitFor(t, 5*time.Second, func() error {
		if q.count("next-1") != 1 || q.count("dup-1") == 0 {
			return errors.New("next or dup not queued yet")
		}
		return nil
	})
	if n := q.count("dup-1"); n != 1 {
		t.Errorf("purge enqueued %d times, want 1", n)
	}
	if n := len(shared.calls("company:dup")); n != 1 {
		t.Errorf("L2 invalidated %d times, want 1", n)
	}
}

// Instances the coordinator hears of late, that never ack, that leave or
// that die are handled: unknown acks are ignored, a late instance is
// awaited once registered, a departed one is not, a dead one only until
// its heartbeat expires.
func TestInstanceLiveness(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, l1, _ := e.instance("i1", 100*time.Millisecond)
	c := e.coordinator(events.CoordinatorConfig{L1AckTimeout: 5 * time.Second})
	p := e.publisher()

	// A stranger answers broadcasts under an id nobody registered.
	snc, _ := e.connect()
	if _, err := snc.Subscribe(events.L1Subject, func(m *nats.Msg) {
		_ = m.Respond([]byte(`{"batch":"x","instance":"stranger"}`))
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.PublishAndWait(ctx, companyEvent("acme", "a")); err != nil {
		t.Fatalf("with a stranger answering: %v", err)
	}

	// A late instance is awaited once the coordinator sees it.
	i2, l2, _ := e.instance("i2", 100*time.Millisecond)
	waitLive(t, c, "i1", "i2")
	if _, err := p.PublishAndWait(ctx, companyEvent("acme", "b")); err != nil {
		t.Fatal(err)
	}
	if !l2.hasTag("acme", "company:b") || !l1.hasTag("acme", "company:b") {
		t.Fatal("returned before both instances applied")
	}

	// A departed instance is not awaited.
	if err := i2.Close(); err != nil {
		t.Fatal(err)
	}
	waitLive(t, c, "i1")
	start := time.Now()
	if _, err := p.PublishAndWait(ctx, companyEvent("acme", "c")); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("waited %v after the instance deregistered", d)
	}

	// A ghost registered but never answering is awaited until its
	// heartbeat expires, then the event is applied without it.
	_, js := e.connect()
	reg, err := js.KeyValue(ctx, events.RegistryBucket)
	if err != nil {
		t.Fatal(err)
	}
	const ghostTTL = time.Second
	put := time.Now()
	if _, err := reg.Put(ctx, "ghost", fmt.Appendf(nil, `{"id":"ghost","ttl":%d}`, ghostTTL)); err != nil {
		t.Fatal(err)
	}
	waitLive(t, c, "ghost", "i1")
	if _, err := p.PublishAndWait(ctx, companyEvent("acme", "d")); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(put); d < ghostTTL {
		t.Errorf("returned %v after the ghost registered: did not wait for it while it was live", d)
	}
	if !l1.hasTag("acme", "company:d") {
		t.Fatal("i1 did not apply")
	}

	// A dead instance (connection gone, no deregistration) likewise.
	_, _, nc3 := e.instance("i3", 100*time.Millisecond)
	waitLive(t, c, "i1", "i3")
	nc3.Close()
	if _, err := p.PublishAndWait(ctx, companyEvent("acme", "e")); err != nil {
		t.Fatal(err)
	}
	waitLive(t, c, "i1")
}

// Malformed, oversize and unmappable events go to the dead-letter stream
// with a reason, their original body and headers; one that maps only in
// part is applied as far as it maps and a copy is kept there.
func TestMalformedEventsDeadLettered(t *testing.T) {
	e := newEnv(t)
	m, err := events.NewMapper([]events.Rule{{Type: "company.updated", Tags: []string{"category:{data.category_id}"}}})
	if err != nil {
		t.Fatal(err)
	}
	states, au := &memStates{}, &memAudit{}
	logs := &testenv.SyncBuffer{}
	c := e.coordinator(events.CoordinatorConfig{Mapper: m, States: states, Audit: au,
		Logger: slog.New(slog.NewJSONHandler(logs, nil))})
	_, js := e.connect()
	ctx := context.Background()
	bodies := map[string]struct {
		body   []byte
		reason string
	}{
		"m-json":     {[]byte(`{"tenant":`), "not valid JSON"},
		"m-tenant":   {[]byte(`{"tags":["x"]}`), "tenant is required"},
		"m-utf8":     {[]byte("{\"tenant\":\"acme\",\"tags\":[\"\xff\"]}"), "not valid UTF-8"},
		"m-version":  {[]byte(`{"version":9,"tenant":"acme","tags":["x"]}`), "unsupported major version 9"},
		"m-oversize": {[]byte(`{"tenant":"acme","tags":["x"],"data":{"p":"` + strings.Repeat("x", 70<<10) + `"}}`), "exceeds 65536 bytes"},
		"m-mapping":  {[]byte(`{"tenant":"acme","type":"company.updated","entity":"company","key":"k","data":{}}`), "data.category_id"},
	}
	for id, b := range bodies {
		msg := nats.NewMsg("cachegate.events.acme.company")
		msg.Data = b.body
		msg.Header.Set("X-App", "shop")
		if _, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(id)); err != nil {
			t.Fatal(err)
		}
	}
	var dls []events.DeadLetter
	testenv.WaitFor(t, 5*time.Second, func() error {
		dls, err = c.DeadLetters(ctx, 100)
		if err != nil {
			return err
		}
		if len(dls) != len(bodies) {
			return fmt.Errorf("%d dead letters, want %d", len(dls), len(bodies))
		}
		return nil
	})
	for _, d := range dls {
		b, ok := bodies[d.ID]
		if !ok {
			t.Errorf("dead letter with id %q", d.ID)
			continue
		}
		if !strings.Contains(d.Reason, b.reason) {
			t.Errorf("%s: reason %q does not say %q", d.ID, d.Reason, b.reason)
		}
		if !bytes.Equal(d.Data, b.body) || d.Subject != "cachegate.events.acme.company" || d.Header.Get("X-App") != "shop" {
			t.Errorf("%s: original not kept: subject %q, header %v", d.ID, d.Subject, d.Header)
		}
		if d.Time.IsZero() || d.Seq == 0 || d.Deliveries != 1 {
			t.Errorf("%s: time %v seq %d deliveries %d", d.ID, d.Time, d.Seq, d.Deliveries)
		}
		if d.ID == "m-mapping" {
			// What maps (the default tags) is applied; the copy kept
			// says what did not.
			if !strings.Contains(d.Reason, "applied in part") || states.get(d.ID, purge.TargetL1).Status != purge.StatusApplied {
				t.Errorf("%s: reason %q, L1 state %+v: want applied in part", d.ID, d.Reason, states.get(d.ID, purge.TargetL1))
			}
			continue
		}
		if au.find(d.ID, "event.dead_letter") == nil || states.get(d.ID, purge.TargetL1).Status != purge.StatusFailed {
			t.Errorf("%s: no audit entry or failed state", d.ID)
		}
	}
	checkDeadLetterLogs(t, logs.String(), "m-json", len(bodies["m-json"].body))
	// A waiter learns at once that its event was dead-lettered.
	p := e.publisher()
	ev := events.Event{Tenant: "acme", Type: "company.updated", Entity: "company", Key: "k"}
	if _, err := p.PublishAndWait(ctx, ev); !errors.Is(err, events.ErrDeadLettered) || !strings.Contains(err.Error(), "data.category_id") {
		t.Fatalf("PublishAndWait of an unmappable event = %v, want ErrDeadLettered naming the field", err)
	}
}

// A failing L2 is retried with growing delays, capped, for as long as it
// fails (far past the eight attempts that once dead-lettered it); its
// batch neighbours are not held back; once L2 takes it, it is applied and
// nothing is dead-lettered.
func TestFailingSharedRetriedUntilItSucceeds(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	shared, q := newFakeShared(), newMemQueue()
	shared.setFail("bad", true)
	p := e.publisher()
	// Published before the coordinator starts, so they share a batch.
	var goodIDs []string
	for i := range 20 {
		id, err := p.Publish(ctx, companyEvent("good", fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		goodIDs = append(goodIDs, id)
	}
	badID, err := p.Publish(ctx, companyEvent("bad", "b"))
	if err != nil {
		t.Fatal(err)
	}
	base, maxDelay := 10*time.Millisecond, 40*time.Millisecond
	c := e.coordinator(events.CoordinatorConfig{Shared: shared, Queue: q, BackoffBase: base, BackoffMax: maxDelay})
	testenv.WaitFor(t, 5*time.Second, func() error {
		for _, id := range goodIDs {
			if q.count(id) != 1 {
				return fmt.Errorf("%s not queued", id)
			}
		}
		return nil
	})
	const attempts = 20
	testenv.WaitFor(t, 10*time.Second, func() error {
		if n := len(shared.calls("company:b")); n < attempts {
			return fmt.Errorf("L2 tried %d times", n)
		}
		return nil
	})
	calls := shared.calls("company:b")
	for i := 1; i < len(calls); i++ {
		want := min(base<<(i-1), maxDelay)
		if gap := calls[i].Sub(calls[i-1]); gap < want*9/10 {
			t.Errorf("retry %d after %v, want at least %v", i, gap, want)
		}
	}
	if dls, err := c.DeadLetters(ctx, 10); err != nil || len(dls) != 0 {
		t.Fatalf("a transient L2 failure was dead-lettered: %+v %v", dls, err)
	}
	if q.count(badID) != 0 {
		t.Error("a failed event's purge was queued")
	}
	shared.setFail("bad", false)
	testenv.WaitFor(t, 5*time.Second, func() error {
		if q.count(badID) != 1 {
			return errors.New("event not applied once L2 took it")
		}
		return nil
	})
	if dls, _ := c.DeadLetters(ctx, 10); len(dls) != 0 {
		t.Errorf("dead letters after recovery: %+v", dls)
	}
}

// An event whose body names another tenant than its subject is
// dead-lettered with the reason, and no tenant is invalidated: subject
// permissions are what confine one tenant's publishers.
func TestTenantMismatchDeadLettered(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	shared, q := newFakeShared(), newMemQueue()
	c := e.coordinator(events.CoordinatorConfig{Shared: shared, Queue: q})
	body := []byte(`{"id":"forged","tenant":"acme","entity":"company","key":"acme"}`)
	if _, err := e.js.Publish(ctx, "cachegate.events.berg.company", body); err != nil {
		t.Fatal(err)
	}
	testenv.WaitFor(t, 5*time.Second, func() error {
		dls, err := c.DeadLetters(ctx, 10)
		if err != nil || len(dls) != 1 {
			return fmt.Errorf("dead letters %v, %v", dls, err)
		}
		if !strings.Contains(dls[0].Reason, `does not match the subject's tenant "berg"`) {
			return fmt.Errorf("reason %q", dls[0].Reason)
		}
		return nil
	})
	if n := shared.tags(); n != 0 || q.count("forged") != 0 {
		t.Fatalf("a forged event invalidated %d tags, queued %d purges", n, q.count("forged"))
	}
}

// A poison event (one a layer refuses as invalid) in a batch fails alone:
// its neighbours are applied on their next attempt and it reaches the
// dead-letter stream.
func TestPoisonEventIsolated(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	shared, q := newFakeShared(), newMemQueue()
	p := e.publisher()
	var ids []string
	for i := range 30 {
		ev := companyEvent("acme", fmt.Sprint(i))
		if i == 7 {
			ev.Tags = []string{"poison"}
		}
		id, err := p.Publish(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	poison := &poisonShared{fakeShared: shared}
	c := e.coordinator(events.CoordinatorConfig{Shared: poison, Queue: q, BackoffBase: 10 * time.Millisecond})
	testenv.WaitFor(t, 5*time.Second, func() error {
		for i, id := range ids {
			if i != 7 && q.count(id) != 1 {
				return fmt.Errorf("event %d not applied", i)
			}
		}
		dls, err := c.DeadLetters(ctx, 10)
		if err != nil || len(dls) != 1 || dls[0].ID != ids[7] {
			return fmt.Errorf("dead letters %v %v", dls, err)
		}
		return nil
	})
}

type poisonShared struct{ *fakeShared }

func (s *poisonShared) InvalidateShared(ctx context.Context, req invalidation.Request) error {
	for _, t := range req.Tags {
		if t == "poison" {
			return fmt.Errorf("%w: poison tag", invalidation.ErrInvalid)
		}
	}
	return s.fakeShared.InvalidateShared(ctx, req)
}

// An instance whose L1 cannot apply an invalidation drops its whole L1 and
// acks: the waiter is not held up, and nothing stale survives.
func TestFailingLocalInvalidationDropsL1(t *testing.T) {
	e := newEnv(t)
	_, local, _ := e.instance("i1", 200*time.Millisecond)
	local.mu.Lock()
	local.fail = true
	local.mu.Unlock()
	c := e.coordinator(events.CoordinatorConfig{})
	waitLive(t, c, "i1")
	p := e.publisher()
	if _, err := p.PublishAndWait(context.Background(), companyEvent("acme", "a")); err != nil {
		t.Fatal(err)
	}
	if ops := local.opsCopy(); len(ops) != 1 || ops[0] != "drop" {
		t.Fatalf("ops %v, want one whole drop", ops)
	}
}

// Ids that are not subject tokens (dots, colons, long) work end to end,
// including the duplicate path through the applied-ids bucket.
func TestPublishAndWaitOddIDs(t *testing.T) {
	e := newEnv(t)
	c := e.coordinator(events.CoordinatorConfig{})
	_ = c
	p := e.publisher()
	ctx := context.Background()
	for _, id := range []string{"order:42.v1", "a*b>c", strings.Repeat("x", 128), "short"} {
		ev := companyEvent("acme", "k")
		ev.ID = id
		for range 2 { // the second is a duplicate
			got, err := p.PublishAndWait(ctx, ev)
			if err != nil || got != id {
				t.Fatalf("PublishAndWait(%q) = %q, %v", id, got, err)
			}
		}
	}
}

// Coordinators of several gateway processes share the durable consumer:
// each event is applied to L2 and queued for the CDN once, by one of them.
func TestCoordinatorsShareTheWork(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	shared, q := newFakeShared(), newMemQueue()
	for range 3 {
		e.coordinator(events.CoordinatorConfig{Shared: shared, Queue: q, MaxBatch: 10})
	}
	p := e.publisher()
	var ids []string
	for i := range 300 {
		id, err := p.Publish(ctx, companyEvent(fmt.Sprintf("t%d", i%3), fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	testenv.WaitFor(t, 10*time.Second, func() error {
		if n := q.distinct(); n != len(ids) {
			return fmt.Errorf("%d of %d applied", n, len(ids))
		}
		return nil
	})
	for i, id := range ids {
		if n := q.count(id); n != 1 {
			t.Errorf("event %d queued %d times", i, n)
		}
		if n := len(shared.calls(fmt.Sprintf("company:%d", i))); n != 1 {
			t.Errorf("event %d applied to L2 %d times", i, n)
		}
	}
}

// checkDeadLetterLogs asserts that the dead-letter line of the malformed
// message msgID says what is known of it: no event id or tenant could be
// read, but its subject, the subject's tenant, its message id, sequence and
// size can.
func checkDeadLetterLogs(t *testing.T, logs, msgID string, size int) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		var l struct {
			Msg, Subject, Cause string
			SubjectTenant       string `json:"subject_tenant"`
			MsgID               string `json:"msg_id"`
			Seq, Bytes          int
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		if l.Msg != "event dead-lettered" || l.MsgID != msgID {
			continue
		}
		if l.Subject != "cachegate.events.acme.company" || l.SubjectTenant != "acme" || l.Cause != "malformed" || l.Seq == 0 || l.Bytes != size {
			t.Errorf("dead-letter log line of %s does not say what is known: %s", msgID, line)
		}
		return
	}
	t.Errorf("no dead-letter log line for %s in:\n%s", msgID, logs)
}
