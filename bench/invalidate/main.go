// Command invalidate publishes tag invalidations to a gateway's admin API
// at a steady rate, for the invalidation-under-load benchmark: -rate tags
// per second in events of -batch tags, each tag new (so every one is a
// real invalidation record), until -duration has passed. It prints the
// tags accepted per second.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"time"
)

func main() {
	admin := flag.String("admin", "", "admin listener address, host:port")
	tenant := flag.String("tenant", "", "tenant whose tags are invalidated")
	rate := flag.Int("rate", 10000, "tags per second")
	batch := flag.Int("batch", 100, "tags per event")
	duration := flag.Duration("duration", 10*time.Second, "how long to publish")
	flag.Parse()
	token := os.Getenv("CACHEGATE_ADMIN_TOKEN")
	if *admin == "" || *tenant == "" || token == "" || *rate < *batch || *batch < 1 {
		log.Fatal("invalidate: -admin, -tenant and CACHEGATE_ADMIN_TOKEN are required, and -rate >= -batch >= 1")
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
		body, _ := json.Marshal(map[string]any{"tenant": *tenant, "tags": tags})
		req, _ := http.NewRequest(http.MethodPost, "http://"+*admin+"/api/v1/events", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatalf("invalidate: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			log.Fatalf("invalidate: event answered %s", resp.Status)
		}
		sent += *batch
	}
	fmt.Printf("tags_per_second %.0f\n", float64(sent)/time.Since(start).Seconds())
}
