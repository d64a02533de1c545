package events

import (
	"time"

	"github.com/cachegate/cachegate/invalidation"
)

// l1Broadcast is one L1 broadcast: the merged requests of one batch, one per
// tenant (or more when a tenant's tags exceed invalidation.MaxItems).
type l1Broadcast struct {
	Batch string                 `json:"batch"`
	Reqs  []invalidation.Request `json:"reqs"`
	// Pending are the invalidations of this batch that L2 has not
	// recorded, by PendingBucket key: an instance adds them to its
	// L2Guard before it acks.
	Pending map[string]pendingRecord `json:"pending,omitempty"`
}

// l1Ack is an instance's answer to a broadcast.
type l1Ack struct {
	Batch    string `json:"batch"`
	Instance string `json:"instance"`
	Error    string `json:"error,omitempty"`
}

// appliedNote tells waiters the fate of an event: applied, or (Error set)
// dead-lettered.
type appliedNote struct {
	ID    string `json:"id"`
	Error string `json:"error,omitempty"`
	// L2Pending: not applied to L2 yet, but every live instance dropped
	// its L1 copies and vetoes the older L2 entries (see L2Guard).
	L2Pending bool `json:"l2_pending,omitempty"`
}

// instanceInfo is an instance's registry value, rewritten every heartbeat.
type instanceInfo struct {
	ID string `json:"id"`
	// TTL is how long after this heartbeat the instance counts as live.
	TTL     time.Duration `json:"ttl"`
	Started time.Time     `json:"started"`
}

func appliedSubject(id string) string { return AppliedSubjectPrefix + idToken(id) }
