package audit_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/cachegate/cachegate/audit"
	"github.com/cachegate/cachegate/internal/testenv"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

func TestRecordRecentNewestFirstAndBounded(t *testing.T) {
	n := testenv.StartNATS(t)
	nc, err := nats.Connect(n.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	log, err := audit.Open(ctx, js, audit.Options{MaxEntries: 5})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 8; i++ {
		if err := log.Record(ctx, audit.Entry{Actor: "test", Action: "purge", ID: fmt.Sprint(i)}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := log.Recent(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 5 || got[0].ID != "7" || got[4].ID != "3" {
		t.Fatalf("recent = %+v, want ids 7..3", got)
	}
	if got[0].Time.IsZero() {
		t.Error("time not stamped")
	}
}
