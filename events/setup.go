package events

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cachegate/cachegate/internal/ensure"
	"github.com/cachegate/cachegate/internal/setting"
)

// Names of the JetStream resources and core NATS subjects.
const (
	StreamName           = "CACHEGATE_EVENTS"
	DeadLetterStreamName = "CACHEGATE_DEADLETTER"
	// DeadLetterSubjectPrefix + "<tenant>" holds the dead-lettered events.
	DeadLetterSubjectPrefix = "cachegate.deadletter."
	// RegistryBucket holds one key per live gateway instance.
	RegistryBucket = "CACHEGATE_INSTANCES"
	// AppliedBucket holds the ids of applied events for a while, so a
	// waiter whose publish was a duplicate learns the event was applied.
	AppliedBucket = "CACHEGATE_APPLIED"
	// L1Subject carries the L1 broadcasts (core NATS, not a stream: an
	// instance that misses one drops its whole L1 instead).
	L1Subject = "cachegate.l1.invalidate"
	// AppliedSubjectPrefix + idToken(id) carries the applied notification.
	AppliedSubjectPrefix = "cachegate.applied."
	// DefaultDurable is the coordinator's consumer, shared by every
	// instance so each event is processed once.
	DefaultDurable = "cachegate-coordinator"
)

// Headers the package sets on messages.
const (
	// HeaderPublished is the publish time in Unix nanoseconds; the
	// end-to-end latency histogram starts there.
	HeaderPublished = "Cachegate-Published"
	HeaderReason    = "Cachegate-Reason"
	HeaderSubject   = "Cachegate-Original-Subject"
	HeaderSeq       = "Cachegate-Original-Seq"
	HeaderMsgID     = "Cachegate-Original-Msg-Id"
	HeaderEventID   = "Cachegate-Event-Id"
	HeaderTime      = "Cachegate-Dead-Lettered-At"
	HeaderDelivered = "Cachegate-Deliveries"
)

// Defaults of StreamConfig.
const (
	DefaultMaxAge           = 7 * 24 * time.Hour
	DefaultDuplicateWindow  = 10 * time.Minute
	MinDuplicateWindow      = 10 * time.Minute
	DefaultDeadLetterMaxAge = 30 * 24 * time.Hour
	DefaultAppliedTTL       = 15 * time.Minute
	DefaultRegistryTTL      = time.Hour
)

// StreamConfig sizes the streams and buckets Setup creates. The zero value
// is a valid single-server configuration.
type StreamConfig struct {
	// Replicas of every stream and bucket; 0 means 1.
	Replicas int
	// MaxAge keeps events this long; 0 means DefaultMaxAge.
	MaxAge time.Duration
	// MaxBytes bounds the event stream; 0 means no bound but MaxAge.
	MaxBytes int64
	// DuplicateWindow is how long a re-published event id is dropped as a
	// duplicate; 0 means DefaultDuplicateWindow, less than
	// MinDuplicateWindow is an error.
	DuplicateWindow time.Duration
	// DeadLetterMaxAge keeps dead letters this long; 0 means
	// DefaultDeadLetterMaxAge.
	DeadLetterMaxAge time.Duration
	// AppliedTTL keeps applied ids this long; 0 means DefaultAppliedTTL. It
	// should outlast DuplicateWindow.
	AppliedTTL time.Duration
	// Regions: the other regions whose events the stream sources; zero:
	// one region alone.
	Regions Regions
	// RegistryTTL garbage-collects registry keys of instances that vanished
	// without deregistering; 0 means DefaultRegistryTTL. Liveness itself is
	// the heartbeat, not this.
	RegistryTTL time.Duration
	// Partitions the events are spread over by tenant, each applied by
	// one coordinator at a time; 0 means the existing stream's count, or
	// DefaultPartitions for a new one. Setup refuses to change the count
	// of an existing stream.
	Partitions int
}

// Validate reports a configuration Setup would refuse.
func (c StreamConfig) Validate() error {
	if c.Replicas < 0 || c.Replicas > 5 {
		return fmt.Errorf("events: %w", setting.Errorf("replicas", "%d: want 0 to 5", c.Replicas))
	}
	if c.DuplicateWindow != 0 && c.DuplicateWindow < MinDuplicateWindow {
		return fmt.Errorf("events: duplicate window %v is below %v", c.DuplicateWindow, MinDuplicateWindow)
	}
	for _, d := range []time.Duration{c.MaxAge, c.DeadLetterMaxAge, c.AppliedTTL, c.RegistryTTL} {
		if d < 0 {
			return errors.New("events: durations must not be negative")
		}
	}
	if c.Partitions < 0 || c.Partitions > MaxPartitions {
		return fmt.Errorf("events: %w", setting.Errorf("partitions", "%d: want 1 to %d", c.Partitions, MaxPartitions))
	}
	if c.MaxBytes < 0 {
		return errors.New("events: max bytes must not be negative")
	}
	return c.Regions.Validate()
}

func (c StreamConfig) withDefaults() StreamConfig {
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.MaxAge == 0 {
		c.MaxAge = DefaultMaxAge
	}
	if c.DuplicateWindow == 0 {
		c.DuplicateWindow = DefaultDuplicateWindow
	}
	if c.DeadLetterMaxAge == 0 {
		c.DeadLetterMaxAge = DefaultDeadLetterMaxAge
	}
	if c.AppliedTTL == 0 {
		c.AppliedTTL = DefaultAppliedTTL
	}
	if c.RegistryTTL == 0 {
		c.RegistryTTL = DefaultRegistryTTL
	}
	if c.MaxBytes == 0 {
		c.MaxBytes = -1
	}
	return c
}

// Setup creates or updates the event and dead-letter streams and the
// registry and applied-id buckets. It is idempotent and safe to run from
// several processes at once: it reads what exists first and updates only a
// real difference (internal/ensure), so processes starting together send no
// updates at all.
func Setup(ctx context.Context, js jetstream.JetStream, cfg StreamConfig) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.withDefaults()
	if err := cfg.Regions.checkDomain(ctx, js); err != nil {
		return err
	}
	partitions, err := partitionCount(ctx, js, cfg.Partitions)
	if err != nil {
		return err
	}
	if _, err := ensure.Stream(ctx, js, jetstream.StreamConfig{
		Name:     StreamName,
		Subjects: []string{SubjectPrefix + ">"},
		// Stored as cachegate.partition.<p>.<tenant>.<entity>; a stream
		// from before partitioning gets the transform here, and the
		// events it already holds keep their subjects (see doc.go).
		SubjectTransform: partitionTransform(partitions),
		Metadata:         map[string]string{partitionsKey: strconv.Itoa(partitions)},
		Storage:          jetstream.FileStorage,
		Retention:        jetstream.LimitsPolicy,
		MaxAge:           cfg.MaxAge,
		MaxBytes:         cfg.MaxBytes,
		Duplicates:       cfg.DuplicateWindow,
		Replicas:         cfg.Replicas,
		Discard:          jetstream.DiscardOld,
		Sources:          cfg.Regions.streamSources(partitions),
	}); err != nil {
		return fmt.Errorf("events: stream %s: %w", StreamName, err)
	}
	if _, err := ensure.Stream(ctx, js, jetstream.StreamConfig{
		Name:       DeadLetterStreamName,
		Subjects:   []string{DeadLetterSubjectPrefix + ">"},
		Storage:    jetstream.FileStorage,
		Retention:  jetstream.LimitsPolicy,
		MaxAge:     cfg.DeadLetterMaxAge,
		Duplicates: 2 * time.Minute,
		Replicas:   cfg.Replicas,
	}); err != nil {
		return fmt.Errorf("events: stream %s: %w", DeadLetterStreamName, err)
	}
	for _, kv := range []jetstream.KeyValueConfig{
		{Bucket: RegistryBucket, TTL: cfg.RegistryTTL, History: 1, Storage: jetstream.FileStorage, Replicas: cfg.Replicas,
			Description: "cachegate gateway instances (heartbeats)"},
		{Bucket: CoordinatorBucket, TTL: cfg.RegistryTTL, History: 1, Storage: jetstream.FileStorage, Replicas: cfg.Replicas,
			Description: "cachegate coordinators (heartbeats), dealt the event partitions"},
		{Bucket: AppliedBucket, TTL: cfg.AppliedTTL, History: 1, Storage: jetstream.FileStorage, Replicas: cfg.Replicas,
			Description: "ids of applied cachegate events"},
		// Kept as long as the events themselves: a record goes when its
		// event is applied, and an event older than MaxAge is gone anyway.
		{Bucket: PendingBucket, TTL: cfg.MaxAge, History: 1, Storage: jetstream.FileStorage, Replicas: cfg.Replicas,
			Description: "cachegate invalidations not yet recorded by L2"},
	} {
		if _, err := ensure.KeyValue(ctx, js, kv); err != nil {
			return fmt.Errorf("events: bucket %s: %w", kv.Bucket, err)
		}
	}
	return nil
}
