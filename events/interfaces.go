package events

import (
	"context"
	"time"

	"github.com/cachegate/cachegate/audit"
	"github.com/cachegate/cachegate/invalidation"
	"github.com/cachegate/cachegate/purge"
)

// SharedInvalidator applies an invalidation to the shared layer (L2), once
// per event. *gateway.Gateway implements it.
type SharedInvalidator interface {
	InvalidateShared(ctx context.Context, req invalidation.Request) error
}

// LocalInvalidator is one instance's in-process layer (L1).
// *gateway.Gateway implements it.
type LocalInvalidator interface {
	// InvalidateLocal applies req to this instance's L1.
	InvalidateLocal(ctx context.Context, req invalidation.Request) error
	// DropLocal drops all of this instance's L1.
	DropLocal(ctx context.Context) error
	// SetLocalEnabled(false) makes L1 neither read nor written.
	SetLocalEnabled(enabled bool)
	// SetLocalLease makes L1 neither read nor written from until on,
	// checked on every use (the zero time: no lease).
	SetLocalLease(until time.Time)
}

// PurgeQueue is the durable CDN purge queue; it deduplicates on req.ID, so
// an event processed twice (a crash before its ack) is purged once.
type PurgeQueue interface {
	Enqueue(ctx context.Context, req invalidation.Request) error
}

// StateRecorder records the state of a purge at a target (purge.TargetL1,
// purge.TargetL2, a provider).
type StateRecorder interface {
	SetState(ctx context.Context, id, target string, s purge.State) error
}

// Auditor appends to the audit log. *audit.Log implements it.
type Auditor interface {
	Record(ctx context.Context, e audit.Entry) error
}

var _ Auditor = (*audit.Log)(nil)
