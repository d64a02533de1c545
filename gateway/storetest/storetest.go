package storetest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/gateway"
)

// NewStore returns a fresh, empty store for one test; it is closed by the
// factory through t.Cleanup if needed.
type NewStore func(t *testing.T) gateway.Store

// Run runs every behaviour of the suite as a subtest against stores from
// newStore. Each subtest uses tenants named after it, so stores sharing a
// backend do not see each other's data and, on Redis Cluster, tenants spread
// over the hash slots.
func Run(t *testing.T, newStore NewStore) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t)
			c.run(t, &env{t: t, s: s, ctx: context.Background(), prefix: strings.ToLower(c.name)})
		})
	}
}

type testCase struct {
	name string
	run  func(t *testing.T, e *env)
}

var cases = []testCase{
	{"MissReturnsNilAndGeneration", testMiss},
	{"SetGetRoundTrip", testRoundTrip},
	{"SetReplaces", testReplace},
	{"Delete", testDelete},
	{"TTLExpiry", testTTL},
	{"BadSetArguments", testBadSet},
	{"TagInvalidationKillsOnlyTaggedEntries", testTagInvalidation},
	{"TagInvalidationIsPerTenant", testTenantIsolation},
	{"InvalidationRaisesGeneration", testGenerationRises},
	{"FillStartedBeforeInvalidationIsDeadWhenStoredAfter", testRacingFill},
	{"FillStartedAfterInvalidationLives", testFillAfter},
	{"FetchGenAheadOfLayerCannotEscapeInvalidation", testFutureFetchGen},
	{"OneInvalidationKillsManyEntries", testManyEntries},
	{"InvalidateTenant", testInvalidateTenant},
	{"EmptyTagListIsNoOp", testEmptyTags},
	{"OddKeysAndTags", testOddKeys},
	{"LargeBody", testLargeBody},
	{"ClearKillsEverything", testClear},
	{"ConcurrentInvalidationsAndFills", testConcurrent},
	{"SoftInvalidationMarksTaggedEntries", testSoftTags},
	{"FillStartedBeforeSoftInvalidationIsMarked", testSoftRacingFill},
	{"SecondSoftInvalidationKillsWhatTheFirstLeft", testSoftTwice},
	{"SoftMarkIsTheEarliestCovering", testSoftEarliest},
	{"SoftInvalidateTenant", testSoftTenant},
}

type env struct {
	t      *testing.T
	s      gateway.Store
	ctx    context.Context
	prefix string
}

// tenant returns a tenant name unique to the subtest.
func (e *env) tenant(n int) string { return fmt.Sprintf("%s-%d", e.prefix, n) }

// key namespaces k by tenant, as the gateway does.
func key(tenant, k string) string { return tenant + "|" + k }

func entry(body string, gen uint64, tags ...string) *gateway.Entry {
	now := time.Now()
	e := &gateway.Entry{
		Status:       http.StatusOK,
		Body:         []byte(body),
		Tags:         tags,
		RequestTime:  now.Add(-time.Millisecond),
		ResponseTime: now,
		FetchGen:     gen,
	}
	e.SetHeader(http.Header{"Content-Type": {"text/plain"}})
	return e
}

func (e *env) get(tenant, k string) (*gateway.Entry, uint64) {
	e.t.Helper()
	got, gen, err := e.s.Get(e.ctx, tenant, key(tenant, k))
	if err != nil {
		e.t.Fatalf("Get(%s, %s): %v", tenant, k, err)
	}
	return got, gen
}

func (e *env) gen(tenant string) uint64 {
	e.t.Helper()
	_, g, err := e.s.Get(e.ctx, tenant, key(tenant, "\x00gen-probe"))
	if err != nil {
		e.t.Fatalf("Get: %v", err)
	}
	return g
}

func (e *env) set(tenant, k string, en *gateway.Entry, ttl time.Duration) {
	e.t.Helper()
	if err := e.s.Set(e.ctx, tenant, key(tenant, k), en, ttl); err != nil {
		e.t.Fatalf("Set(%s, %s): %v", tenant, k, err)
	}
}

func (e *env) invalidate(tenant string, tags ...string) {
	e.t.Helper()
	if err := e.s.InvalidateTags(e.ctx, tenant, tags); err != nil {
		e.t.Fatalf("InvalidateTags(%s, %v): %v", tenant, tags, err)
	}
}

// wantLive fails unless k holds an entry with body.
func (e *env) wantLive(tenant, k, body string) {
	e.t.Helper()
	got, _ := e.get(tenant, k)
	if got == nil {
		e.t.Fatalf("%s/%s: got nothing, want %q", tenant, k, body)
	}
	if string(got.Body) != body {
		e.t.Fatalf("%s/%s: body %q, want %q", tenant, k, got.Body, body)
	}
}

func (e *env) wantDead(tenant, k string) {
	e.t.Helper()
	if got, _ := e.get(tenant, k); got != nil {
		e.t.Fatalf("%s/%s: got %q, want no entry", tenant, k, got.Body)
	}
}

func testMiss(t *testing.T, e *env) {
	got, _ := e.get(e.tenant(1), "nothing")
	if got != nil {
		t.Fatalf("got %+v on an empty store", got)
	}
}

func testRoundTrip(t *testing.T, e *env) {
	tn := e.tenant(1)
	req := time.Date(2025, 3, 1, 12, 0, 0, 123456789, time.UTC)
	header := http.Header{
		"Content-Type":  {"text/html; charset=utf-8"},
		"Cache-Control": {"public, max-age=60"},
		"Link":          {"</a.css>; rel=preload", "</b.js>; rel=preload"},
		"X-Empty":       {""},
	}
	want := &gateway.Entry{
		Status:       http.StatusNotFound,
		Body:         []byte("<h1>not here</h1>\x00\xff"),
		Tags:         []string{"company:42", "url:/companies/42", "path:/companies/"},
		RequestTime:  req,
		ResponseTime: req.Add(35 * time.Millisecond),
		FetchGen:     e.gen(tn),
		Vary:         []string{"Accept-Encoding", "Accept-Language"},
	}
	want.SetHeader(header)
	e.set(tn, "page", want, time.Minute)
	got, _ := e.get(tn, "page")
	if got == nil {
		t.Fatal("entry not found after Set")
	}
	if got.Status != want.Status || !bytes.Equal(got.Body, want.Body) ||
		!reflect.DeepEqual(got.Header(), header) || !reflect.DeepEqual(got.Tags, want.Tags) ||
		!reflect.DeepEqual(got.Vary, want.Vary) || !got.RequestTime.Equal(want.RequestTime) ||
		!got.ResponseTime.Equal(want.ResponseTime) || got.FetchGen != want.FetchGen {
		t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
	}
	// A variant record: Vary and no status, body or header.
	rec := &gateway.Entry{Vary: []string{"Accept-Encoding"}, FetchGen: e.gen(tn)}
	e.set(tn, "variants", rec, time.Minute)
	got, _ = e.get(tn, "variants")
	if got == nil || got.Status != 0 || len(got.Body) != 0 || !reflect.DeepEqual(got.Vary, rec.Vary) {
		t.Fatalf("variant record: got %+v", got)
	}
}

func testReplace(t *testing.T, e *env) {
	tn := e.tenant(1)
	e.set(tn, "k", entry("one", e.gen(tn)), time.Minute)
	e.set(tn, "k", entry("two", e.gen(tn)), time.Minute)
	e.wantLive(tn, "k", "two")
}

func testDelete(t *testing.T, e *env) {
	tn := e.tenant(1)
	e.set(tn, "k", entry("v", e.gen(tn)), time.Minute)
	e.set(tn, "other", entry("w", e.gen(tn)), time.Minute)
	if err := e.s.Delete(e.ctx, tn, key(tn, "k")); err != nil {
		t.Fatal(err)
	}
	e.wantDead(tn, "k")
	e.wantLive(tn, "other", "w")
	if err := e.s.Delete(e.ctx, tn, key(tn, "never-set")); err != nil {
		t.Fatalf("Delete of a missing key: %v", err)
	}
}

func testTTL(t *testing.T, e *env) {
	tn := e.tenant(1)
	e.set(tn, "short", entry("s", e.gen(tn)), 150*time.Millisecond)
	e.set(tn, "long", entry("l", e.gen(tn)), time.Minute)
	start := time.Now()
	e.wantLive(tn, "short", "s")
	deadline := start.Add(5 * time.Second)
	for {
		got, _ := e.get(tn, "short")
		if got == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("entry with a 150ms ttl still there after 5s")
		}
		time.Sleep(10 * time.Millisecond) // polling for expiry: there is no event to wait on
	}
	if age := time.Since(start); age < 100*time.Millisecond {
		t.Fatalf("entry with a 150ms ttl gone after %v", age)
	}
	e.wantLive(tn, "long", "l")
}

func testBadSet(t *testing.T, e *env) {
	tn := e.tenant(1)
	for _, c := range []struct {
		name string
		en   *gateway.Entry
		ttl  time.Duration
	}{
		{"nil entry", nil, time.Minute},
		{"zero ttl", entry("v", 0), 0},
		{"negative ttl", entry("v", 0), -time.Second},
	} {
		if err := e.s.Set(e.ctx, tn, key(tn, "k"), c.en, c.ttl); err == nil {
			t.Errorf("%s: Set succeeded, want an error", c.name)
		}
	}
	e.wantDead(tn, "k")
}

func testTagInvalidation(t *testing.T, e *env) {
	tn := e.tenant(1)
	g := e.gen(tn)
	e.set(tn, "a", entry("a", g, "x", "y"), time.Minute)
	e.set(tn, "b", entry("b", g, "y"), time.Minute)
	e.set(tn, "c", entry("c", g, "z"), time.Minute)
	e.set(tn, "untagged", entry("u", g), time.Minute)
	e.invalidate(tn, "x")
	e.wantDead(tn, "a")
	e.wantLive(tn, "b", "b")
	e.wantLive(tn, "c", "c")
	e.invalidate(tn, "y", "unknown-tag")
	e.wantDead(tn, "b")
	e.wantLive(tn, "c", "c")
	e.wantLive(tn, "untagged", "u")
}

func testTenantIsolation(t *testing.T, e *env) {
	t1, t2 := e.tenant(1), e.tenant(2)
	e.set(t1, "k", entry("one", e.gen(t1), "x"), time.Minute)
	e.set(t2, "k", entry("two", e.gen(t2), "x"), time.Minute)
	e.invalidate(t1, "x")
	e.wantDead(t1, "k")
	e.wantLive(t2, "k", "two")
	if err := e.s.InvalidateTenant(e.ctx, t1); err != nil {
		t.Fatal(err)
	}
	e.wantLive(t2, "k", "two")
}

func testGenerationRises(t *testing.T, e *env) {
	tn := e.tenant(1)
	g0 := e.gen(tn)
	e.invalidate(tn, "x")
	g1 := e.gen(tn)
	if g1 <= g0 {
		t.Fatalf("generation %d after InvalidateTags, was %d", g1, g0)
	}
	if err := e.s.InvalidateTenant(e.ctx, tn); err != nil {
		t.Fatal(err)
	}
	if g2 := e.gen(tn); g2 <= g1 {
		t.Fatalf("generation %d after InvalidateTenant, was %d", g2, g1)
	}
}

// testRacingFill is PITFALLS 2: the fetch read the origin before the change,
// the invalidation ran, then the fill is stored. It must never be served.
func testRacingFill(t *testing.T, e *env) {
	tn := e.tenant(1)
	_, g := e.get(tn, "k") // the miss that starts the fetch
	e.invalidate(tn, "x")
	e.set(tn, "k", entry("stale", g, "x", "other"), time.Minute)
	e.wantDead(tn, "k")
	// Same for a whole-tenant invalidation.
	_, g = e.get(tn, "k2")
	if err := e.s.InvalidateTenant(e.ctx, tn); err != nil {
		t.Fatal(err)
	}
	e.set(tn, "k2", entry("stale", g), time.Minute)
	e.wantDead(tn, "k2")
}

func testFillAfter(t *testing.T, e *env) {
	tn := e.tenant(1)
	e.set(tn, "k", entry("old", e.gen(tn), "x"), time.Minute)
	e.invalidate(tn, "x")
	e.wantDead(tn, "k")
	_, g := e.get(tn, "k")
	e.set(tn, "k", entry("new", g, "x"), time.Minute)
	e.wantLive(tn, "k", "new")
}

func testFutureFetchGen(t *testing.T, e *env) {
	tn := e.tenant(1)
	e.set(tn, "k", entry("v", e.gen(tn)+1000, "x"), time.Minute)
	e.invalidate(tn, "x")
	e.wantDead(tn, "k")
}

func testManyEntries(t *testing.T, e *env) {
	tn := e.tenant(1)
	const n = 300
	g := e.gen(tn)
	for i := range n {
		tags := []string{"hot"}
		if i%2 == 0 {
			tags = append(tags, "even")
		}
		e.set(tn, fmt.Sprint("k", i), entry(fmt.Sprint(i), g, tags...), time.Minute)
	}
	e.set(tn, "cold", entry("cold", g, "cold"), time.Minute)
	e.invalidate(tn, "hot")
	for i := range n {
		e.wantDead(tn, fmt.Sprint("k", i))
	}
	e.wantLive(tn, "cold", "cold")
}

func testInvalidateTenant(t *testing.T, e *env) {
	tn := e.tenant(1)
	g := e.gen(tn)
	e.set(tn, "tagged", entry("t", g, "x"), time.Minute)
	e.set(tn, "untagged", entry("u", g), time.Minute)
	if err := e.s.InvalidateTenant(e.ctx, tn); err != nil {
		t.Fatal(err)
	}
	e.wantDead(tn, "tagged")
	e.wantDead(tn, "untagged")
	_, g = e.get(tn, "untagged")
	e.set(tn, "untagged", entry("fresh", g), time.Minute)
	e.wantLive(tn, "untagged", "fresh")
}

func testEmptyTags(t *testing.T, e *env) {
	tn := e.tenant(1)
	e.set(tn, "k", entry("v", e.gen(tn), "x"), time.Minute)
	if err := e.s.InvalidateTags(e.ctx, tn, nil); err != nil {
		t.Fatal(err)
	}
	e.wantLive(tn, "k", "v")
}

// testOddKeys is PITFALLS 1's URL-encoded keys: keys and tags are opaque.
func testOddKeys(t *testing.T, e *env) {
	tn := e.tenant(1)
	keys := []string{"GET https://example.com/a%20b?c=%2F&d=é", "with space", "{braces}", "*?[glob]", "\x00\xffbinary"}
	tags := []string{"url:/a%20b?c=%2F", "path:/companies/", "*", "{x}", "ünïcode"}
	g := e.gen(tn)
	for i, k := range keys {
		e.set(tn, k, entry(k, g, tags[i]), time.Minute)
	}
	e.invalidate(tn, tags[0], tags[2])
	for i, k := range keys {
		if i == 0 || i == 2 {
			e.wantDead(tn, k)
		} else {
			e.wantLive(tn, k, k)
		}
	}
}

func testLargeBody(t *testing.T, e *env) {
	tn := e.tenant(1)
	body := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	en := entry("", e.gen(tn), "x")
	en.Body = body
	e.set(tn, "big", en, time.Minute)
	got, _ := e.get(tn, "big")
	if got == nil || !bytes.Equal(got.Body, body) {
		t.Fatal("1 MiB body did not round-trip")
	}
}

func testClear(t *testing.T, e *env) {
	c, ok := e.s.(gateway.Clearer)
	if !ok {
		t.Skip("store is not a gateway.Clearer")
	}
	t1, t2 := e.tenant(1), e.tenant(2)
	_, g := e.get(t1, "racing")
	e.set(t1, "a", entry("a", e.gen(t1), "x"), time.Minute)
	e.set(t2, "b", entry("b", e.gen(t2)), time.Minute)
	if err := c.Clear(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.wantDead(t1, "a")
	e.wantDead(t2, "b")
	e.set(t1, "racing", entry("stale", g), time.Minute)
	e.wantDead(t1, "racing")
	e.set(t2, "b", entry("fresh", e.gen(t2)), time.Minute)
	e.wantLive(t2, "b", "fresh")
}
