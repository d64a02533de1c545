package memstore

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testenv"
)

// TestInvalidationRecordsAtScale invalidates many distinct tags across
// many tenants, measures what their records cost, and checks that they
// are kept while an entry filled before them may still live (MaxTTL plus
// the margin) and forgotten after, on a clock the test moves. The short
// form (10,000 tenants, 100,000 tags) runs in make test; CACHEGATE_SCALE=long
// invalidates 1,000,000 tags.
func TestInvalidationRecordsAtScale(t *testing.T) {
	const tenants, perCall = 10_000, 10
	tags := 100_000
	if os.Getenv("CACHEGATE_SCALE") == "long" {
		tags = 1_000_000
	}
	s := newStore(t, Config{}) // the default MaxTTL, 24 h
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	s.now = func() time.Time { return now }

	base := int64(testenv.HeapInUse())
	for i := 0; i < tags; i += perCall {
		batch := make([]string, perCall)
		for j := range batch {
			batch[j] = fmt.Sprintf("product:%07d", i+j)
		}
		if err := s.InvalidateTags(ctx, fmt.Sprintf("tenant-%05d", (i/perCall)%tenants), batch); err != nil {
			t.Fatal(err)
		}
	}
	if n := s.records(); n != tags {
		t.Fatalf("%d records, want %d", n, tags)
	}
	full := int64(testenv.HeapInUse())
	perRecord := float64(full-base) / float64(tags)
	t.Logf("%d tags over %d tenants: %.1f MiB of records, %.0f bytes per record (tag of 15 bytes)",
		tags, tenants, float64(full-base)/(1<<20), perRecord)
	// About 150 bytes are expected (the tag string, the boxed record, the
	// map's node); twice that would be a leak per record.
	if perRecord > 300 {
		t.Errorf("%.0f bytes per invalidation record, want under 300", perRecord)
	}

	// Still within MaxTTL + margin: an entry filled before these
	// invalidations may still be stored, so every record must stay.
	now = now.Add(DefaultMaxTTL + pruneMargin - time.Second)
	if err := s.InvalidateTags(ctx, "tenant-00000", []string{"late"}); err != nil {
		t.Fatal(err)
	}
	if n := s.records(); n != tags+1 {
		t.Fatalf("%d records before MaxTTL + margin, want all %d kept", n, tags+1)
	}

	// Past it (and past the sweep interval since the last sweep), the
	// next invalidation forgets them.
	now = now.Add(time.Hour + time.Second)
	if err := s.InvalidateTags(ctx, "tenant-00000", []string{"fresh"}); err != nil {
		t.Fatal(err)
	}
	if n := s.records(); n != 2 {
		t.Fatalf("%d records after MaxTTL + margin + sweep interval, want the 2 recent ones", n)
	}
	after := int64(testenv.HeapInUse())
	t.Logf("after the sweep: %.1f MiB above the start (the %d tenants' empty state stays)",
		float64(after-base)/(1<<20), tenants)
	// What stays is per tenant (its counters and empty map), not per tag.
	if left := after - base; left > tenants*512 {
		t.Errorf("%d bytes still held after the sweep, over 512 per tenant", left)
	}
}

// BenchmarkInvalidateNewTags: 100 never-seen tags per invalidation, the
// records growing as they would at a steady stream of new tags.
func BenchmarkInvalidateNewTags(b *testing.B) {
	s, err := New(Config{MaxBytes: 1 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	tags := make([]string, 100)
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		for i := range tags {
			tags[i] = "bench-inv-" + strconv.Itoa(n)
			n++
		}
		_ = s.InvalidateTags(context.Background(), "t", tags)
	}
}
