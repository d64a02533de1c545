package statskv_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testenv"
	"github.com/cachegate/cachegate/stats"
	"github.com/cachegate/cachegate/stats/statskv"
)

// TestBoardsSeeEachOther: two instances on one NATS each see both
// snapshots, also after NATS restarts; once one stops, the other leaves
// it out after StaleAfter.
func TestBoardsSeeEachOther(t *testing.T) {
	srv := testenv.StartNATS(t)
	ctx := context.Background()
	recs := []*stats.Recorder{stats.New(), stats.New()}
	recs[0].Begin("acme", "home", "/").Hit(stats.L1)
	recs[1].Begin("berg", "api", "/api").Forwarded()
	var boards []*statskv.Board
	var cancels []context.CancelFunc
	for i, rec := range recs {
		b, err := statskv.Open(ctx, srv.JetStream(t), statskv.Config{
			Instance: fmt.Sprintf("node-%d", i), Source: rec.Snapshot, Interval: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		rctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); _ = b.Run(rctx) }()
		cancels = append(cancels, func() { cancel(); <-done })
		t.Cleanup(cancels[i])
		boards = append(boards, b)
	}
	for i, b := range boards {
		testenv.WaitFor(t, 5*time.Second, func() error {
			got, _ := b.Instances(ctx)
			if len(got) != 2 || got["node-0"].Tenants["acme"].Requests != 1 || got["node-1"].Tenants["berg"].Requests != 1 {
				return fmt.Errorf("board %d sees %d instances: %v", i, len(got), got)
			}
			return nil
		})
	}
	// A NATS restart pauses the view; it resumes with new figures.
	srv.Restart()
	recs[1].Begin("berg", "api", "/api").Forwarded()
	testenv.WaitFor(t, 15*time.Second, func() error {
		got, _ := boards[0].Instances(ctx)
		if got["node-1"].Tenants["berg"].Requests != 2 {
			return fmt.Errorf("after a NATS restart, board 0 sees node-1 at %d requests", got["node-1"].Tenants["berg"].Requests)
		}
		return nil
	})

	cancels[1]()
	start := time.Now()
	testenv.WaitFor(t, 5*time.Second, func() error {
		if got, _ := boards[0].Instances(ctx); len(got) != 1 {
			return fmt.Errorf("a stopped instance is still shown: %d instances", len(got))
		}
		return nil
	})
	if waited := time.Since(start); waited < boards[0].StaleAfter()/2 {
		t.Errorf("the stopped instance was dropped after %v, before it could be stale (%v)", waited, boards[0].StaleAfter())
	}
}

func TestConfigValidate(t *testing.T) {
	src := stats.New().Snapshot
	for _, tt := range []struct {
		cfg statskv.Config
		ok  bool
	}{
		{statskv.Config{Instance: "abc_1-2", Source: src}, true},
		{statskv.Config{Instance: "", Source: src}, false},
		{statskv.Config{Instance: "a.b", Source: src}, false},
		{statskv.Config{Instance: "a"}, false},
		{statskv.Config{Instance: "a", Source: src, Interval: -1}, false},
	} {
		if err := tt.cfg.Validate(); (err == nil) != tt.ok {
			t.Errorf("%+v: err %v, want ok=%v", tt.cfg.Instance, err, tt.ok)
		}
	}
}
