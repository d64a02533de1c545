package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cachegate/cachegate/internal/ensure"
	"github.com/nats-io/nats.go/jetstream"
)

// Stream and subject of the audit log.
const (
	StreamName = "CACHEGATE_AUDIT"
	Subject    = "cachegate.audit"
	// DefaultMaxEntries bounds the log; the oldest entries go first.
	DefaultMaxEntries = 100000
	// MaxRecent bounds one Recent read.
	MaxRecent = 1000
)

// Entry is one line of the audit log.
type Entry struct {
	Time time.Time `json:"time"`
	// Actor is who or what asked: "event:<id>", "admin:<remote addr>",
	// "cli", "demo".
	Actor string `json:"actor"`
	// Action is what happened: "event", "purge", "purge.sent",
	// "purge.confirmed", "purge.failed", "event.dead_letter", ...
	Action string `json:"action"`
	// ID is the event or purge id the line is about.
	ID     string   `json:"id,omitempty"`
	Tenant string   `json:"tenant,omitempty"`
	Tags   []string `json:"tags,omitempty"`
	URLs   []string `json:"urls,omitempty"`
	// Prefixes and Everything are the other kinds of purge target.
	Prefixes   []string `json:"prefixes,omitempty"`
	Everything bool     `json:"everything,omitempty"`
	// Provider names the layer or CDN provider for per-provider results.
	Provider string `json:"provider,omitempty"`
	// Result is "ok", "queued", "failed: <reason>", ...
	Result string `json:"result,omitempty"`
}

// Log is the audit log on a JetStream stream.
type Log struct {
	js     jetstream.JetStream
	stream jetstream.Stream
}

// Options size the audit stream.
type Options struct {
	// MaxEntries bounds the log; 0 means DefaultMaxEntries.
	MaxEntries int64
	// Replicas of the stream on a NATS cluster; 0 means 1.
	Replicas int
}

// Open creates or updates the audit stream and returns its Log.
func Open(ctx context.Context, js jetstream.JetStream, o Options) (*Log, error) {
	maxEntries := o.MaxEntries
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	s, err := ensure.Stream(ctx, js, jetstream.StreamConfig{
		Name:      StreamName,
		Subjects:  []string{Subject},
		MaxMsgs:   maxEntries,
		Discard:   jetstream.DiscardOld,
		Retention: jetstream.LimitsPolicy,
		Storage:   jetstream.FileStorage,
		Replicas:  max(o.Replicas, 1),
	})
	if err != nil {
		return nil, fmt.Errorf("audit: open stream %s: %w", StreamName, err)
	}
	return &Log{js: js, stream: s}, nil
}

// Record appends e, stamping its time when unset.
func (l *Log) Record(ctx context.Context, e Entry) error {
	if e.Time.IsZero() {
		e.Time = time.Now().UTC()
	}
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("audit: encode: %w", err)
	}
	if _, err := l.js.Publish(ctx, Subject, b); err != nil {
		return fmt.Errorf("audit: record %s %s: %w", e.Action, e.ID, err)
	}
	return nil
}

// Recent returns up to n of the newest entries, newest first.
func (l *Log) Recent(ctx context.Context, n int) ([]Entry, error) {
	if n <= 0 || n > MaxRecent {
		n = MaxRecent
	}
	info, err := l.stream.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit: stream info: %w", err)
	}
	out := make([]Entry, 0, n)
	for seq := info.State.LastSeq; seq >= info.State.FirstSeq && seq > 0 && len(out) < n; seq-- {
		msg, err := l.stream.GetMsg(ctx, seq)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("audit: read %d: %w", seq, err)
		}
		var e Entry
		if err := json.Unmarshal(msg.Data, &e); err != nil {
			continue // not ours; the stream is only written by Record
		}
		out = append(out, e)
	}
	return out, nil
}
