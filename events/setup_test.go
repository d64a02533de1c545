package events_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cachegate/cachegate/events"
	"github.com/cachegate/cachegate/internal/ensure"
	"github.com/cachegate/cachegate/internal/testenv"
)

// Setup is idempotent and makes what the contract names: the event stream
// on cachegate.events.> with file storage and a dedupe window of at least
// ten minutes, the dead-letter stream and the two buckets.
func TestSetup(t *testing.T) {
	e := newEnv(t) // Setup once
	ctx := context.Background()
	if err := events.Setup(ctx, e.js, events.StreamConfig{DuplicateWindow: 15 * time.Minute}); err != nil {
		t.Fatalf("second Setup: %v", err)
	}
	s, err := e.js.Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg := info.Config
	if len(cfg.Subjects) != 1 || cfg.Subjects[0] != "cachegate.events.>" || cfg.Storage != jetstream.FileStorage || cfg.Duplicates != 15*time.Minute {
		t.Errorf("event stream config %+v", cfg)
	}
	if _, err := e.js.Stream(ctx, events.DeadLetterStreamName); err != nil {
		t.Error(err)
	}
	if tr := cfg.SubjectTransform; tr == nil || tr.Source != "cachegate.events.*.>" ||
		tr.Destination != "cachegate.partition.{{partition(4,1)}}.{{wildcard(1)}}.>" {
		t.Errorf("event stream transform %+v, want the tenant's partition of 4", tr)
	}
	for _, b := range []string{events.RegistryBucket, events.AppliedBucket, events.CoordinatorBucket} {
		if _, err := e.js.KeyValue(ctx, b); err != nil {
			t.Errorf("bucket %s: %v", b, err)
		}
	}
}

// apiCalls counts the JetStream API requests on subject (a wildcard) that
// any client sends from now on.
type apiCalls struct {
	nc  *nats.Conn
	sub *nats.Subscription
}

func watchAPI(t *testing.T, url, subject string) *apiCalls {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return &apiCalls{nc: nc, sub: sub}
}

// subjects lists the requests seen so far: the server queues a request to
// this subscriber before it answers the requester, and the flush's PONG
// comes after it.
func (a *apiCalls) subjects(t *testing.T) []string {
	t.Helper()
	if err := a.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	var out []string
	for {
		m, err := a.sub.NextMsg(0)
		if err != nil {
			return out
		}
		out = append(out, m.Subject)
	}
}

// Several processes starting at once against one server (what two `serve`
// processes do) each run Setup and create the coordinator's consumer: all
// succeed, none sends a stream update (the race once seen inside the NATS
// server was concurrent updates of the event stream while a consumer was
// being created), and there is one consumer. A real change of the config
// is then sent as exactly one update. Run with -race -count=50.
func TestSetupConcurrent(t *testing.T) {
	n := testenv.StartNATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	updates := watchAPI(t, n.URL, "$JS.API.STREAM.UPDATE.>")
	consumerWrites := watchAPI(t, n.URL, "$JS.API.CONSUMER.CREATE.>")

	const procs = 6
	errs := make(chan error, procs)
	var wg sync.WaitGroup
	for i := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			nc, err := nats.Connect(n.URL)
			if err != nil {
				errs <- err
				return
			}
			defer nc.Close()
			js, _ := jetstream.New(nc)
			if err := events.Setup(ctx, js, events.StreamConfig{}); err != nil {
				errs <- fmt.Errorf("process %d: Setup: %w", i, err)
				return
			}
			_, err = ensure.Consumer(ctx, js, events.StreamName, jetstream.ConsumerConfig{
				Durable: events.DefaultDurable, AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second,
				MaxDeliver: -1, MaxAckPending: 1000, FilterSubject: events.SubjectPrefix + ">",
			})
			if err != nil {
				errs <- fmt.Errorf("process %d: consumer: %w", i, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := updates.subjects(t); len(got) != 0 {
		t.Errorf("concurrent Setups of one config sent stream updates: %v", got)
	}
	if got := consumerWrites.subjects(t); len(got) < 1 || len(got) > procs {
		t.Errorf("%d consumer create requests, want 1 to %d (creates only)", len(got), procs)
	}
	_, js := (&env{t: t, n: n}).connect()
	stream, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	names := stream.ConsumerNames(ctx)
	var consumers []string
	for name := range names.Name() {
		consumers = append(consumers, name)
	}
	if names.Err() != nil || !slices.Equal(consumers, []string{events.DefaultDurable}) {
		t.Errorf("consumers %v (%v), want only %s", consumers, names.Err(), events.DefaultDurable)
	}

	if err := events.Setup(ctx, js, events.StreamConfig{DuplicateWindow: 15 * time.Minute}); err != nil {
		t.Fatal(err)
	}
	if got := updates.subjects(t); !slices.Equal(got, []string{"$JS.API.STREAM.UPDATE." + events.StreamName}) {
		t.Errorf("a changed duplicate window sent updates %v, want one of %s", got, events.StreamName)
	}
}
