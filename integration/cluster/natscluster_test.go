package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cachegate/cachegate/events"
	"github.com/cachegate/cachegate/internal/testenv"
)

// published is one wait-publish of the burst.
type published struct {
	ev         events.Event
	start, end time.Time
	err        error
	// acked: published with publishAckTimeout, else with the node's
	// publisher (no bound but its 10 s wait timeout).
	acked bool
}

// publishAckTimeout is the JetStream ack bound of half the publishers.
const publishAckTimeout = time.Second

// TestNATSClusterLeaderKilled runs three nodes on a three-server NATS
// cluster (separate nats-server processes, every stream and bucket at R3)
// and kills the events stream's leader (SIGKILL) in the middle of a burst
// of wait-publishes. No event JetStream acknowledged is lost: each is
// applied, at once or after the election; wait-publishes succeed again
// after the election; and the publish→applied latency across it is
// reported, for the node's publishers and for publishers with an ack
// timeout (PublisherConfig.AckTimeout, on the test's own connection),
// which learn sooner that an attempt sent to the dead leader was not
// accepted.
func TestNATSClusterLeaderKilled(t *testing.T) {
	bin := testenv.BuildNATSServer(t)
	nc := testenv.StartNATSCluster(t, bin, 3, "cachegate", "cluster-secret-0123")
	c := startCluster(t, clusterOptions{natsCluster: nc.URL, replicas: 3})
	ctx := context.Background()
	s, err := c.jetStream().Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := s.Info(ctx); err != nil || info.Config.Replicas != 3 {
		t.Fatalf("events stream: %v, replicas %v; want 3", err, info)
	}
	if kv, err := c.jetStream().KeyValue(ctx, events.RegistryBucket); err != nil {
		t.Fatal(err)
	} else if st, err := kv.Status(ctx); err != nil || st.(*jetstream.KeyValueBucketStatus).StreamInfo().Config.Replicas != 3 {
		t.Fatalf("registry bucket: %v; want 3 replicas", err)
	}

	const publishers = 6
	var (
		mu      sync.Mutex
		results []published
		seq     atomic.Int64
		killed  atomic.Int64    // unix nanoseconds of the kill; 0 before
		after   atomic.Int64    // wait-publishes begun after the kill that succeeded
		retries [2]atomic.Int64 // attempts not accepted, published again: node's, with ack timeout
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	pubs := make([]*events.Publisher, publishers)
	for p := range pubs {
		if pubs[p] = c.nodes[p%len(c.nodes)].Publisher(); p%2 == 1 {
			pubs[p] = ackTimeoutPublisher(t, c.jetStream())
		}
	}
	for p, pub := range pubs {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				n := seq.Add(1)
				ev := companyUpdated([]string{"acme", "berg"}[n%2])
				ev.ID = fmt.Sprint("burst-", n)
				r := published{ev: ev, start: time.Now(), acked: p%2 == 1}
				// As an app does: an event not accepted (no JetStream ack,
				// as during the election) is published again with its id,
				// and its latency counts from the first attempt.
				for {
					wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
					_, r.err = pub.PublishAndWait(wctx, ev)
					cancel()
					if !errors.Is(r.err, events.ErrNotAccepted) || time.Since(r.start) > time.Minute {
						break
					}
					retries[p%2].Add(1)
				}
				r.end = time.Now()
				if k := killed.Load(); k != 0 && r.start.UnixNano() > k && applied(r.err) {
					after.Add(1)
				}
				mu.Lock()
				results = append(results, r)
				mu.Unlock()
			}
		})
	}
	testenv.WaitFor(t, 30*time.Second, func() error {
		if n := seq.Load(); n < 200 {
			return fmt.Errorf("%d events published", n)
		}
		return nil
	})
	// The short form kills one leader; make chaos (CACHEGATE_CHAOS=long)
	// kills the leader of the moment five times, restarting each.
	rounds := 1
	if os.Getenv("CACHEGATE_CHAOS") == "long" {
		rounds = 5
	}
	var killedAt time.Time
	var leaders []int
	for round := range rounds {
		if round > 0 {
			nc.Servers[leaders[round-1]].Start() // back as a follower
			after.Store(0)
		}
		leader := nc.StreamLeader(t, events.StreamName)
		leaders = append(leaders, leader)
		killedAt = time.Now()
		killed.Store(killedAt.UnixNano())
		nc.Servers[leader].Kill()
		testenv.WaitFor(t, 60*time.Second, func() error {
			if n := after.Load(); n < 100 {
				return fmt.Errorf("round %d: %d wait-publishes applied since the leader was killed", round, n)
			}
			return nil
		})
	}
	close(stop)
	wg.Wait()

	// Every acknowledged event is applied: those that timed out waiting
	// are published again with their id (deduplicated) and waited for.
	var timedOut int
	var late time.Duration // the longest publish→applied of those
	var before, rest []time.Duration
	var election [2][]time.Duration // node's publishers, with ack timeout
	for _, r := range results {
		switch {
		case applied(r.err):
			d := r.end.Sub(r.start)
			switch {
			case r.start.Before(killedAt):
				if r.end.After(killedAt) {
					election[kind(r)] = append(election[kind(r)], d)
				} else {
					before = append(before, d)
				}
			case r.start.Before(killedAt.Add(5 * time.Second)):
				election[kind(r)] = append(election[kind(r)], d)
			default:
				rest = append(rest, d)
			}
		case errors.Is(r.err, events.ErrApplyTimeout):
			timedOut++
			// An ack or nak lost in the election leaves the event to
			// JetStream's redelivery after the consumer's ack wait; a
			// wait-publish waits at most its own timeout, so wait again.
			deadline := time.Now().Add(events.DefaultAckWait + 30*time.Second)
			var err error
			for {
				_, err = c.nodes[0].Publisher().PublishAndWait(ctx, r.ev)
				if applied(err) || !errors.Is(err, events.ErrApplyTimeout) || time.Now().After(deadline) {
					break
				}
			}
			if !applied(err) {
				t.Errorf("event %s was acknowledged (timed out waiting) but is not applied %v after the election: %v",
					r.ev.ID, events.DefaultAckWait+30*time.Second, err)
			} else {
				late = max(late, time.Since(r.start))
			}
		default:
			t.Errorf("event %s: %v", r.ev.ID, r.err)
		}
	}
	t.Logf("%d wait-publishes; leaders %v killed in turn; attempts not accepted during the election and published again: %d by the node's publishers, %d with a %v ack timeout; %d acknowledged and applied later",
		len(results), leaders, retries[0].Load(), retries[1].Load(), publishAckTimeout, timedOut)
	t.Logf("acknowledged but applied only after the election's redelivery: %d, the last %v after its publish", timedOut, late.Round(time.Millisecond))
	t.Logf("publish→applied before the kill: %s", percentiles(before))
	t.Logf("publish→applied across the (last) election (begun up to 5 s after the kill), node's publishers: %s", percentiles(election[0]))
	t.Logf("publish→applied across the (last) election, publishers with a %v ack timeout: %s", publishAckTimeout, percentiles(election[1]))
	t.Logf("publish→applied after: %s", percentiles(rest))
	nc.Servers[leaders[len(leaders)-1]].Start() // back as a follower, for a clean stop
}

// kind indexes a result by its publisher: 0 the node's, 1 with an ack
// timeout.
func kind(r published) int {
	if r.acked {
		return 1
	}
	return 0
}

// ackTimeoutPublisher is a publisher on js that gives up on an
// unanswered publish after publishAckTimeout.
func ackTimeoutPublisher(t *testing.T, js jetstream.JetStream) *events.Publisher {
	t.Helper()
	p, err := events.NewPublisher(js, nil, events.PublisherConfig{AckTimeout: publishAckTimeout})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// applied reports whether a wait-publish ended with the event applied
// (to every L1 and, unless L2 was down, L2).
func applied(err error) bool { return err == nil || errors.Is(err, events.ErrL2Pending) }

// percentiles formats p50, p99 and max of ds.
func percentiles(ds []time.Duration) string {
	if len(ds) == 0 {
		return "none"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	at := func(q float64) time.Duration {
		return s[min(len(s)-1, int(q*float64(len(s))))].Round(100 * time.Microsecond)
	}
	return fmt.Sprintf("n=%d p50 %v p99 %v max %v", len(s), at(0.5), at(0.99), s[len(s)-1].Round(100*time.Microsecond))
}
