// Command invalidate publishes tag invalidations at a steady rate, for the
// invalidation-under-load benchmark: -rate tags per second in events of
// -batch tags, each tag new (so every one is a real invalidation record),
// until -duration has passed. With -nats it publishes on NATS JetStream as
// an app does (events.Publisher), else through a gateway's admin API. It
// prints the tags accepted per second.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cachegate/cachegate/events"
)

func main() {
	admin := flag.String("admin", "", "admin listener address, host:port (without -nats)")
	natsURL := flag.String("nats", "", "NATS URL to publish on directly")
	tenant := flag.String("tenant", "", "tenant whose tags are invalidated")
	rate := flag.Int("rate", 10000, "tags per second")
	batch := flag.Int("batch", 100, "tags per event")
	duration := flag.Duration("duration", 10*time.Second, "how long to publish")
	flag.Parse()
	if (*admin == "") == (*natsURL == "") || *tenant == "" || *rate < *batch || *batch < 1 {
		log.Fatal("invalidate: one of -admin or -nats, and -tenant, are required, and -rate >= -batch >= 1")
	}
	publish, err := publisher(*admin, *natsURL)
	if err != nil {
		log.Fatalf("invalidate: %v", err)
	}
	interval := time.Second * time.Duration(*batch) / time.Duration(*rate)
	t := time.NewTicker(interval)
	defer t.Stop()
	end := time.Now().Add(*duration)
	start := time.Now()
	sent, n := 0, 0
	for now := range t.C {
		if now.After(end) {
			break
		}
		tags := make([]string, *batch)
		for i := range tags {
			tags[i] = fmt.Sprintf("bench-inv-%d", n)
			n++
		}
		if err := publish(events.Event{Tenant: *tenant, Tags: tags}); err != nil {
			log.Fatalf("invalidate: %v", err)
		}
		sent += *batch
	}
	fmt.Printf("tags_per_second %.0f\n", float64(sent)/time.Since(start).Seconds())
}

// publisher returns how one event is sent: on NATS, or to the admin API
// with CACHEGATE_ADMIN_TOKEN.
func publisher(admin, natsURL string) (func(events.Event) error, error) {
	if natsURL != "" {
		nc, err := nats.Connect(natsURL)
		if err != nil {
			return nil, err
		}
		js, err := jetstream.New(nc)
		if err != nil {
			return nil, err
		}
		p, err := events.NewPublisher(js, nc, events.PublisherConfig{AckTimeout: 2 * time.Second})
		if err != nil {
			return nil, err
		}
		return func(e events.Event) error {
			_, err := p.Publish(context.Background(), e)
			return err
		}, nil
	}
	token := os.Getenv("CACHEGATE_ADMIN_TOKEN")
	if token == "" {
		return nil, fmt.Errorf("-admin needs CACHEGATE_ADMIN_TOKEN")
	}
	return func(e events.Event) error {
		body, _ := json.Marshal(e)
		req, _ := http.NewRequest(http.MethodPost, "http://"+admin+"/api/v1/events", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("event answered %s", resp.Status)
		}
		return nil
	}, nil
}
