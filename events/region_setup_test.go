package events_test

import (
	"context"
	"strings"
	"testing"

	"github.com/cachegate/cachegate/events"
	"github.com/cachegate/cachegate/internal/testenv"
)

// A region whose name is not its server's JetStream domain is refused at
// Setup: the other regions would source from $JS.<name>.API and reach
// nothing, silently.
func TestSetupRefusesARegionThatIsNotTheDomain(t *testing.T) {
	e := newEnv(t) // a server without a domain
	err := events.Setup(context.Background(), e.js, events.StreamConfig{Regions: events.Regions{Name: "east", Sources: []string{"west"}}})
	if err == nil || !strings.Contains(err.Error(), `region "east" runs on a NATS server whose JetStream domain is ""`) {
		t.Fatalf("Setup: %v; want the domain named", err)
	}
}

// On the region's own server, Setup makes the stream source each other
// region under its own subjects, and a second Setup finds nothing to
// change: the sources read back as written, so processes starting
// together send no updates.
func TestSetupSourcesOtherRegions(t *testing.T) {
	bin := testenv.BuildNATSServer(t)
	n := testenv.StartNATSRegion(t, bin, "east", "cachegate", "region-secret-0123", "")
	_, js := (&env{t: t, n: &testenv.NATS{URL: n.URL}}).connect()
	ctx := context.Background()
	cfg := events.StreamConfig{Regions: events.Regions{Name: "east", Sources: []string{"west", "north"}}}
	if err := events.Setup(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	s, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	before := s.CachedInfo().Created
	var got []string
	for _, src := range s.CachedInfo().Config.Sources {
		if src.External == nil || len(src.SubjectTransforms) != 1 {
			t.Fatalf("source %+v: want an external stream and one transform", src)
		}
		got = append(got, src.External.APIPrefix+" "+src.SubjectTransforms[0].Source+" -> "+src.SubjectTransforms[0].Destination)
	}
	want := []string{
		"$JS.west.API cachegate.partition.*.*.> -> cachegate.from.west.{{partition(4,2)}}.{{wildcard(2)}}.>",
		"$JS.north.API cachegate.partition.*.*.> -> cachegate.from.north.{{partition(4,2)}}.{{wildcard(2)}}.>",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("sources:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	updates := watchAPI(t, n.URL, "$JS.API.STREAM.UPDATE.>")
	if err := events.Setup(ctx, js, cfg); err != nil {
		t.Fatal(err)
	}
	if got := updates.subjects(t); len(got) > 0 {
		t.Errorf("a second Setup sent updates: %v", got)
	}
	if s, err = js.Stream(ctx, events.StreamName); err != nil || !s.CachedInfo().Created.Equal(before) {
		t.Errorf("stream recreated or gone: %v", err)
	}
}
