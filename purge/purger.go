package purge

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Batch is one provider API call's worth of purge targets, already within
// the provider's Limits. Tags are CDN names (invalidation.CDNTag); URLs are
// absolute ("https://acme.example.com/companies"); Prefixes are host and
// path ("acme.example.com/companies").
type Batch struct {
	// Zone is the provider's target for the call (a Cloudflare zone id, a
	// Fastly service id), resolved by the dispatcher from the tenant.
	Zone       string
	Tags       []string
	URLs       []string
	Prefixes   []string
	Hosts      []string
	Everything bool
	// Soft marks content stale instead of removing it, where supported.
	Soft bool
}

// Limits are a provider's documented per-request limits; zero means the
// provider does not support that kind of target.
type Limits struct {
	TagsPerCall     int
	URLsPerCall     int
	PrefixesPerCall int
	HostsPerCall    int
	MaxTagLength    int
}

// Purger is one CDN provider.
type Purger interface {
	// Name identifies the provider in states, metrics and logs.
	Name() string
	Limits() Limits
	// Purge sends one batch. It returns nil only when the provider
	// confirmed the purge; a *RetryAfterError when the provider asked to
	// wait; an error wrapping ErrPermanent when retrying cannot help; any
	// other error is temporary and retried with backoff.
	Purge(ctx context.Context, b Batch) error
}

// ErrPermanent is wrapped by errors that retrying cannot fix (bad
// credentials, a rejected request).
var ErrPermanent = errors.New("permanent purge failure")

// RetryAfterError is a provider's request to wait (HTTP 429 Retry-After).
type RetryAfterError struct {
	After time.Duration
	Err   error
}

func (e *RetryAfterError) Error() string {
	return fmt.Sprintf("rate limited, retry after %v: %v", e.After, e.Err)
}

func (e *RetryAfterError) Unwrap() error { return e.Err }
