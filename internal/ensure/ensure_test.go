package ensure_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cachegate/cachegate/internal/ensure"
	"github.com/cachegate/cachegate/internal/testenv"
)

func TestDiffers(t *testing.T) {
	cur := jetstream.StreamConfig{Name: "S", Subjects: []string{"a.>"}, MaxMsgs: -1, MaxAge: time.Hour,
		Replicas: 1, Metadata: map[string]string{"_nats.level": "1", "owner": "cg"}}
	tests := []struct {
		name string
		want jetstream.StreamConfig
		diff bool
	}{
		{"only zero fields", jetstream.StreamConfig{}, false},
		{"same set fields", jetstream.StreamConfig{Name: "S", Subjects: []string{"a.>"}, MaxAge: time.Hour}, false},
		{"server default left zero", jetstream.StreamConfig{Name: "S", Replicas: 1}, false},
		{"metadata subset", jetstream.StreamConfig{Metadata: map[string]string{"owner": "cg"}}, false},
		{"other max age", jetstream.StreamConfig{Name: "S", MaxAge: 2 * time.Hour}, true},
		{"other subjects", jetstream.StreamConfig{Subjects: []string{"b.>"}}, true},
		{"more subjects", jetstream.StreamConfig{Subjects: []string{"a.>", "b.>"}}, true},
		{"metadata value", jetstream.StreamConfig{Metadata: map[string]string{"owner": "x"}}, true},
		{"metadata key", jetstream.StreamConfig{Metadata: map[string]string{"new": "1"}}, true},
	}
	for _, tt := range tests {
		if got := ensure.Differs(tt.want, cur); got != tt.diff {
			t.Errorf("%s: Differs = %v, want %v", tt.name, got, tt.diff)
		}
	}
}

// Stream, KeyValue and Consumer create what is missing, leave what
// matches (no update request), and update a real difference, keeping the
// fields the caller does not set.
func TestEnsure(t *testing.T) {
	n := testenv.StartNATS(t)
	ctx := context.Background()
	nc, err := nats.Connect(n.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	writes, err := nc.SubscribeSync("$JS.API.STREAM.UPDATE.>")
	if err != nil {
		t.Fatal(err)
	}
	consumerWrites, err := nc.SubscribeSync("$JS.API.CONSUMER.CREATE.>")
	if err != nil {
		t.Fatal(err)
	}
	count := func(s *nats.Subscription) int {
		t.Helper()
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		c := 0
		for {
			if _, err := s.NextMsg(0); err != nil {
				return c
			}
			c++
		}
	}

	sc := jetstream.StreamConfig{Name: "S", Subjects: []string{"s.>"}, MaxAge: time.Hour}
	kc := jetstream.KeyValueConfig{Bucket: "B", TTL: time.Hour, History: 1}
	cc := jetstream.ConsumerConfig{Durable: "C", AckWait: time.Minute, FilterSubject: "s.>"}
	for round := range 2 {
		if _, err := ensure.Stream(ctx, js, sc); err != nil {
			t.Fatal(err)
		}
		if _, err := ensure.KeyValue(ctx, js, kc); err != nil {
			t.Fatal(err)
		}
		if _, err := ensure.Consumer(ctx, js, "S", cc); err != nil {
			t.Fatal(err)
		}
		if u, c := count(writes), count(consumerWrites); u != 0 || c != 1-round {
			t.Fatalf("round %d: %d updates and %d consumer creates, want none and %d", round, u, c, 1-round)
		}
	}

	// Someone else sets a description; a changed MaxAge keeps it.
	sc2 := sc
	sc2.Description = "set by an operator"
	if _, err := js.UpdateStream(ctx, sc2); err != nil {
		t.Fatal(err)
	}
	count(writes)
	sc.MaxAge = 2 * time.Hour
	s, err := ensure.Stream(ctx, js, sc)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.CachedInfo().Config; got.MaxAge != 2*time.Hour || got.Description != "set by an operator" {
		t.Errorf("after the update: max age %v, description %q", got.MaxAge, got.Description)
	}
	kc.TTL = 2 * time.Hour
	kv, err := ensure.KeyValue(ctx, js, kc)
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := kv.Status(ctx); st.TTL() != 2*time.Hour {
		t.Errorf("bucket TTL %v after the update", st.TTL())
	}
	cc.AckWait = 2 * time.Minute
	c, err := ensure.Consumer(ctx, js, "S", cc)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.CachedInfo().Config.AckWait; got != 2*time.Minute {
		t.Errorf("consumer ack wait %v after the update", got)
	}
	if u, c := count(writes), count(consumerWrites); u != 2 || c != 1 {
		t.Errorf("%d stream updates and %d consumer writes for three changes, want 2 and 1", u, c)
	}
}

// A consumer declared with several filter subjects where it had one (or
// one where it had several) is updated to the new form: the server
// refuses a consumer with both, which the overlay of the current
// configuration would otherwise send.
func TestConsumerFilterFormChanges(t *testing.T) {
	n := testenv.StartNATS(t)
	ctx := context.Background()
	nc, err := nats.Connect(n.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	if _, err := ensure.Stream(ctx, js, jetstream.StreamConfig{Name: "F", Subjects: []string{"f.>"}}); err != nil {
		t.Fatal(err)
	}
	steps := []jetstream.ConsumerConfig{
		{Durable: "c", FilterSubject: "f.a"},
		{Durable: "c", FilterSubjects: []string{"f.a", "f.b"}},
		{Durable: "c", FilterSubject: "f.b"},
	}
	for i, want := range steps {
		c, err := ensure.Consumer(ctx, js, "F", want)
		if err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		got := c.CachedInfo().Config
		if got.FilterSubject != want.FilterSubject || !slices.Equal(got.FilterSubjects, want.FilterSubjects) {
			t.Fatalf("step %d: filters %q %q, want %q %q", i, got.FilterSubject, got.FilterSubjects, want.FilterSubject, want.FilterSubjects)
		}
	}
}
