package redisstore

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cachegate/cachegate/internal/testenv"
)

// TestInvalidationRecordsAtScale invalidates many distinct tags across
// many tenants on a real redis-server and measures what the records cost
// (INFO used_memory). The bound is Redis's own expiry: every tag record
// must carry a TTL of MaxTTL plus the margin, so that the only keys kept
// for good are the tenants' counters (one small key each). The short form (10,000
// tenants, 100,000 tags) runs in make test; CACHEGATE_SCALE=long
// invalidates 1,000,000 tags.
func TestInvalidationRecordsAtScale(t *testing.T) {
	const tenants, perCall, workers = 10_000, 10, 8
	tags := 100_000
	if os.Getenv("CACHEGATE_SCALE") == "long" {
		tags = 1_000_000
	}
	r := testenv.StartRedis(t)
	rdb := client(t, Config{Addrs: []string{r.Addr}, ReadTimeout: slowMachine, WriteTimeout: slowMachine})
	s := store(t, rdb, Config{})
	ctx := context.Background()

	base := usedMemory(t, rdb)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w * perCall; i < tags; i += workers * perCall {
				batch := make([]string, perCall)
				for j := range batch {
					batch[j] = fmt.Sprintf("product:%07d", i+j)
				}
				if err := s.InvalidateTags(ctx, fmt.Sprintf("tenant-%05d", (i/perCall)%tenants), batch); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	used := usedMemory(t, rdb)
	t.Logf("%d tags over %d tenants in %v: used_memory +%.1f MiB, %.0f bytes per record",
		tags, tenants, elapsed.Round(time.Millisecond), float64(used-base)/(1<<20), float64(used-base)/float64(tags))

	keys, expires := keyspace(t, rdb)
	// Per tenant, a counter kept for good and a floor that expires like
	// the tag records (made with the counter when it was first raised).
	if keys != tags+2*tenants || expires != tags+tenants {
		t.Fatalf("keys=%d expires=%d; want %d tag records and %d floors expiring, %d counters kept",
			keys, expires, tags, tenants, tenants)
	}
	// The records expire once no entry filled before them can be stored
	// any more: after MaxTTL plus the margin, not sooner.
	for _, tenant := range []string{"tenant-00000", fmt.Sprintf("tenant-%05d", tenants-1)} {
		k, err := s.keys(tenant)
		if err != nil {
			t.Fatal(err)
		}
		iter := rdb.Scan(ctx, 0, k.tagPrefix()+"*", 100).Iterator()
		n := 0
		for iter.Next(ctx) && n < 10 {
			ttl, err := rdb.PTTL(ctx, iter.Val()).Result()
			if err != nil {
				t.Fatal(err)
			}
			if ttl <= DefaultMaxTTL || ttl > DefaultMaxTTL+recordMargin {
				t.Errorf("%s expires in %v, want within (MaxTTL, MaxTTL + %v]", iter.Val(), ttl, recordMargin)
			}
			n++
		}
		if err := iter.Err(); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatalf("no tag record of %s found", tenant)
		}
	}
}

// usedMemory is INFO memory's used_memory.
func usedMemory(t *testing.T, rdb redis.UniversalClient) int64 {
	t.Helper()
	return infoField(t, rdb, "memory", "used_memory")
}

// keyspace is INFO keyspace's keys and expires of database 0.
func keyspace(t *testing.T, rdb redis.UniversalClient) (keys, expires int) {
	t.Helper()
	info, err := rdb.Info(context.Background(), "keyspace").Result()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(info) {
		rest, ok := strings.CutPrefix(strings.TrimSpace(line), "db0:")
		if !ok {
			continue
		}
		for field := range strings.SplitSeq(rest, ",") {
			name, v, _ := strings.Cut(field, "=")
			n, _ := strconv.Atoi(v)
			switch name {
			case "keys":
				keys = n
			case "expires":
				expires = n
			}
		}
	}
	return keys, expires
}

func infoField(t *testing.T, rdb redis.UniversalClient, section, field string) int64 {
	t.Helper()
	info, err := rdb.Info(context.Background(), section).Result()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), field+":"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatalf("INFO %s: %v", field, err)
			}
			return n
		}
	}
	t.Fatalf("INFO %s has no %s", section, field)
	return 0
}
