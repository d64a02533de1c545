package purge

import "time"

// Status of a purge at one target (a gateway layer or a CDN provider).
type Status string

// The statuses a purge goes through at a target.
const (
	StatusQueued    Status = "queued"    // durable, not yet sent
	StatusSent      Status = "sent"      // an API call is under way
	StatusApplied   Status = "applied"   // a gateway layer dropped the tags
	StatusConfirmed Status = "confirmed" // the provider confirmed the purge
	StatusRetrying  Status = "retrying"  // failed, will be tried again
	StatusFailed    Status = "failed"    // the provider refused it for good: kept, visible, retryable
)

// State is the state of one purge at one target.
type State struct {
	Status   Status    `json:"status"`
	Detail   string    `json:"detail,omitempty"`
	Attempts int       `json:"attempts,omitempty"`
	Updated  time.Time `json:"updated"`
}

// Targets of the gateway's own layers, beside provider names.
const (
	TargetL1 = "l1" // every live instance's in-process cache
	TargetL2 = "l2" // the shared Redis cache
)
