package invalidation

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cachegate/cachegate/uri"
)

// Limits on what one Request may name. They bound the work of one
// invalidation and the size of the implicit tag set of a stored response.
const (
	MaxTagLength    = 1024
	MaxTenantLength = 128
	MaxItems        = 10000
	MaxPathSegments = 32
)

// Request is one invalidation of a tenant's cached responses.
type Request struct {
	// ID identifies the invalidation end to end (the event id or the purge
	// id); providers deduplicate on it.
	ID string `json:"id,omitempty"`
	// Tenant is the namespace; an invalidation never reaches another one.
	Tenant string `json:"tenant"`
	// Tags are tenant-local tag names, e.g. "company:acme".
	Tags []string `json:"tags,omitempty"`
	// URLs are request targets, a path with optional query: "/companies?page=2".
	URLs []string `json:"urls,omitempty"`
	// Prefixes are path prefixes matched on segment boundaries: "/companies"
	// covers /companies and /companies/x, not /companiesx.
	Prefixes []string `json:"prefixes,omitempty"`
	// Everything drops every response of the tenant.
	Everything bool `json:"everything,omitempty"`
	// Soft makes the responses stale instead of gone: each is served, for
	// at most its route's stale-while-revalidate after the invalidation,
	// while one refill runs; past that it is a miss. A layer that cannot
	// invalidate softly, and CDN providers without a soft purge, apply it
	// hard. The default (false) is hard, with the read-your-writes
	// guarantee.
	Soft bool `json:"soft,omitempty"`
}

// ErrInvalid is wrapped by every validation error of a Request.
var ErrInvalid = errors.New("invalid invalidation request")

// Validate reports the first thing wrong with r, wrapping ErrInvalid.
func (r Request) Validate() error {
	if err := ValidateTenant(r.Tenant); err != nil {
		return err
	}
	if !r.Everything && len(r.Tags)+len(r.URLs)+len(r.Prefixes) == 0 {
		return fmt.Errorf("%w: name tags, urls, prefixes or everything", ErrInvalid)
	}
	if n := len(r.Tags) + len(r.URLs) + len(r.Prefixes); n > MaxItems {
		return fmt.Errorf("%w: %d items, at most %d", ErrInvalid, n, MaxItems)
	}
	for _, t := range r.Tags {
		if err := ValidateTag(t); err != nil {
			return err
		}
	}
	for _, u := range r.URLs {
		if !strings.HasPrefix(u, "/") {
			return fmt.Errorf("%w: url %q must be a path starting with /", ErrInvalid, u)
		}
	}
	for _, p := range r.Prefixes {
		if !strings.HasPrefix(p, "/") {
			return fmt.Errorf("%w: prefix %q must be a path starting with /", ErrInvalid, p)
		}
	}
	return nil
}

// ValidateTenant checks a tenant name: 1 to 128 characters of [a-z0-9._-].
func ValidateTenant(t string) error {
	if t == "" {
		return fmt.Errorf("%w: tenant is required", ErrInvalid)
	}
	if len(t) > MaxTenantLength {
		return fmt.Errorf("%w: tenant longer than %d characters", ErrInvalid, MaxTenantLength)
	}
	for i := 0; i < len(t); i++ {
		c := t[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_') {
			return fmt.Errorf("%w: tenant %q: only lower-case letters, digits, '.', '-' and '_'", ErrInvalid, t)
		}
	}
	return nil
}

// ValidateTag checks a tag: 1 to 1024 printable ASCII characters with no
// space or comma (the separators of Surrogate-Key and Cache-Tag).
func ValidateTag(t string) error {
	if t == "" {
		return fmt.Errorf("%w: empty tag", ErrInvalid)
	}
	if len(t) > MaxTagLength {
		return fmt.Errorf("%w: tag longer than %d characters", ErrInvalid, MaxTagLength)
	}
	for i := 0; i < len(t); i++ {
		if c := t[i]; c <= ' ' || c >= 0x7f || c == ',' {
			return fmt.Errorf("%w: tag %q: only printable ASCII without space or comma", ErrInvalid, t)
		}
	}
	return nil
}

// StoreTags returns every tag a layer must invalidate for r: its explicit
// tags and the implicit tags of its URLs and prefixes. Everything is not a
// tag; layers handle it on its own.
func (r Request) StoreTags() []string {
	out := make([]string, 0, len(r.Tags)+len(r.URLs)+len(r.Prefixes))
	out = append(out, r.Tags...)
	for _, u := range r.URLs {
		out = append(out, URLTag(u))
	}
	for _, p := range r.Prefixes {
		out = append(out, PrefixTag(p))
	}
	return out
}

// URLTag is the implicit tag of a request target (path and query), in its
// canonical form (uri.Target): a purge of "/caf%c3%a9" names the entry a
// request for "/caf%C3%A9" stored.
func URLTag(target string) string { return "url:" + uri.Target(target) }

// PrefixTag is the implicit tag that a prefix purge of p invalidates, with
// p in its canonical form (uri.Target), as ImplicitTags writes it.
func PrefixTag(p string) string {
	p = uri.Target(p)
	if len(p) > 1 {
		p = strings.TrimRight(p, "/")
		if p == "" {
			p = "/"
		}
	}
	return "path:" + p
}

// ImplicitTags returns the tags a response to target (path and query)
// carries besides its own: its URL tag and one path tag per leading run of
// segments, capped at MaxPathSegments, all of target's canonical form.
func ImplicitTags(target string) []string {
	target = uri.Target(target)
	path := target
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	out := []string{"url:" + target, "path:/"}
	for i := 1; i < len(path) && len(out) < MaxPathSegments+2; i++ {
		if path[i] == '/' {
			out = append(out, "path:"+path[:i])
		}
	}
	if p := strings.TrimRight(path, "/"); len(p) > 1 && len(out) < MaxPathSegments+2 {
		if last := "path:" + p; out[len(out)-1] != last {
			out = append(out, last)
		}
	}
	return out
}

// CDNTag is the name of a tenant's tag at a CDN, which is shared by all
// tenants: the tenant prefixes it so one tenant's purge never reaches
// another's objects.
func CDNTag(tenant, tag string) string { return tenant + ":" + tag }
