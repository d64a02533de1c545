package web

import (
	"context"
	"time"

	"github.com/cachegate/cachegate/audit"
	"github.com/cachegate/cachegate/cdnstats"
	"github.com/cachegate/cachegate/invalidation"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/stats"
)

// The interfaces web reads and acts through. Each is implemented by a small
// adapter in the binary; errors are classified by wrapping ErrBadRequest,
// ErrNotFound, ErrTimeout or ErrUnavailable.

// StatsSource gives the current counters (*stats.Recorder implements it).
type StatsSource interface {
	Snapshot() stats.Snapshot
}

// ClusterStats gives every live instance's latest counters
// (*statskv.Board implements it).
type ClusterStats interface {
	// Instances returns the latest snapshot of every live instance, this
	// one included, by instance name.
	Instances(ctx context.Context) (map[string]stats.Snapshot, error)
}

// CDNStats reads the CDN's own hit ratio from the providers' analytics
// (*cdnstats.Reader implements it).
type CDNStats interface {
	Configured() bool
	Samples(ctx context.Context) []cdnstats.Sample
}

// RouteTTLSource gives the TTL of every "ttl: auto" route the instance has
// served (the gateway's AutoTTLs behind an adapter).
type RouteTTLSource interface {
	RouteTTLs() []RouteTTL
}

// RouteTTL is one "ttl: auto" route's current TTL, its bounds, the
// evidence it was decided from and why, in words.
type RouteTTL struct {
	Route      string  `json:"route"`
	TTLSeconds float64 `json:"ttl_seconds"`
	MinSeconds float64 `json:"min_seconds"`
	MaxSeconds float64 `json:"max_seconds"`
	Fraction   float64 `json:"fraction"`
	// Revalidations observed; Changes they found that no event announced;
	// EventChanges announced by invalidation events.
	Revalidations int `json:"revalidations"`
	Changes       int `json:"changes"`
	EventChanges  int `json:"event_changes"`
	// ObservedSeconds is the summed life of the entries observed.
	ObservedSeconds float64 `json:"observed_seconds"`
	// ChangeIntervalSeconds is the mean interval between changes; 0 when
	// none was seen.
	ChangeIntervalSeconds float64 `json:"change_interval_seconds"`
	// ReadEverySeconds is the mean time between reads of one URL; 0 until
	// the route was watched for an hour.
	ReadEverySeconds float64 `json:"read_every_seconds"`
	// Covered: invalidation events announce its changes (TTL at the max).
	Covered bool   `json:"covered"`
	Reason  string `json:"reason"`
}

// EventSubmitter publishes a change event given as its JSON body, as
// POST /api/v1/events does.
type EventSubmitter interface {
	// SubmitEvent returns once the event is durable, or with wait once its
	// invalidation is applied. A malformed event is an error wrapping
	// ErrBadRequest with the reason; one that was not made durable,
	// ErrNotAccepted; a wait that ends at ctx's deadline after the event
	// was made durable returns the id and an error wrapping ErrTimeout.
	// actor says who asked, for the audit log.
	SubmitEvent(ctx context.Context, body []byte, wait bool, actor string) (id string, err error)
}

// Purger starts purges and reports their state.
type Purger interface {
	// Purge queues req durably and returns its id (req.ID when set); with
	// wait it returns once the purge is applied in the gateway's layers,
	// or the id and an error wrapping ErrTimeout at ctx's deadline.
	Purge(ctx context.Context, req invalidation.Request, wait bool, actor string) (id string, err error)
	// PurgeState returns the state of purge id per gateway layer
	// (purge.TargetL1, purge.TargetL2) and CDN provider name; an unknown
	// id is an error wrapping ErrNotFound.
	PurgeState(ctx context.Context, id string) (map[string]purge.State, error)
}

// FailedPurges lists and retries the purges a CDN provider refused for
// good (*purge.States and *purge.Queue behind an adapter).
type FailedPurges interface {
	// FailedPurges returns up to n failed purges, oldest first.
	FailedPurges(ctx context.Context, n int) ([]purge.Failure, error)
	// RetryPurge enqueues purge id again for the providers at which it
	// failed; an id with no failure is an error wrapping ErrNotFound.
	RetryPurge(ctx context.Context, id string) error
	// DismissPurge forgets the failures of purge id without retrying it;
	// an id with no failure is an error wrapping ErrNotFound.
	DismissPurge(ctx context.Context, id string) error
}

// EventBacklog reports the invalidations not yet applied (the event
// coordinator's sample).
type EventBacklog interface {
	EventBacklog() EventBacklogSample
}

// EventBacklogSample is what EventBacklog reports.
type EventBacklogSample struct {
	// Events accepted and not yet applied, retrying ones included.
	Events uint64 `json:"events"`
	// OldestSeconds is the oldest one's age; 0 when none waits.
	OldestSeconds float64 `json:"oldest_seconds"`
	// L2Pending counts invalidations L2 has not recorded yet (it was
	// unreachable): readers already see them, L2 catches up.
	L2Pending uint64 `json:"l2_pending"`
}

// PurgeBacklog reports what waits for the CDN (*purge.Dispatcher behind an
// adapter).
type PurgeBacklog interface {
	PurgeBacklog(ctx context.Context) (purge.Backlog, error)
}

// AuditReader reads the audit log (*audit.Log implements it).
type AuditReader interface {
	// Recent returns up to n of the newest entries, newest first.
	Recent(ctx context.Context, n int) ([]audit.Entry, error)
}

// DeadLetter is an event that could not be processed.
type DeadLetter struct {
	// Seq identifies the dead letter for RetryDeadLetter.
	Seq     uint64    `json:"seq"`
	Time    time.Time `json:"time"`
	Subject string    `json:"subject,omitempty"`
	// Reason says why the event was set aside.
	Reason string `json:"reason"`
	// Body is the event as received (possibly truncated by the adapter).
	Body string `json:"body,omitempty"`
}

// DeadLetterStore lists and retries dead letters.
type DeadLetterStore interface {
	// DeadLetters returns up to n of the newest dead letters, newest first.
	DeadLetters(ctx context.Context, n int) ([]DeadLetter, error)
	// RetryDeadLetter submits dead letter seq again; an unknown seq is an
	// error wrapping ErrNotFound.
	RetryDeadLetter(ctx context.Context, seq uint64) error
}

// Interface guards: the types that already exist implement these.
var (
	_ StatsSource = (*stats.Recorder)(nil)
	_ AuditReader = (*audit.Log)(nil)
	_ CDNStats    = (*cdnstats.Reader)(nil)
)
