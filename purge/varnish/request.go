package varnish

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/cachegate/cachegate/invalidation"
	"github.com/cachegate/cachegate/purge"
)

// The VCL's request headers (deploy/varnish/cachegate.vcl).
const (
	HeaderPurge     = "xkey-purge"
	HeaderSoftPurge = "xkey-softpurge"
	HeaderBanURL    = "X-Ban-Url"
	HeaderBanPrefix = "X-Ban-Prefix"
	HeaderBanHost   = "X-Ban-Host"
	HeaderBanTenant = "X-Ban-Tenant"
	// HeaderPurged and HeaderBanned mark the VCL's answers: a 200 without
	// them came from something else (a Varnish without this VCL piping
	// PURGE to the backend) and confirms nothing.
	HeaderPurged = "X-Purged"
	HeaderBanned = "X-Banned"
)

// The request methods the VCL handles.
const (
	MethodPurge = "PURGE"
	MethodBan   = "BAN"
)

// call is one HTTP request to each node.
type call struct {
	method string
	kind   string // for logs and errors: tags, url, prefix, host, tenant
	host   string // Host header; empty means the node's own
	header string
	value  string
}

// plan turns a batch into the requests each node gets. Its errors wrap
// purge.ErrPermanent: the batch cannot be expressed, and retrying will not
// change that.
func (p *Purger) plan(b purge.Batch) ([]call, error) {
	var calls []call
	header := HeaderPurge
	if b.Soft || p.cfg.Soft {
		header = HeaderSoftPurge
	}
	budget := p.cfg.MaxHeaderBytes - len(header) - len(": \r\n")
	var keys []string
	size := 0
	flush := func() {
		if len(keys) > 0 {
			calls = append(calls, call{method: MethodPurge, kind: "tags", header: header, value: strings.Join(keys, " ")})
		}
		keys, size = keys[:0:0], 0
	}
	for _, tag := range b.Tags {
		if err := checkTag(tag); err != nil {
			return nil, err
		}
		add := len(tag)
		if len(keys) > 0 {
			add++ // the separating space
		}
		if len(keys) == p.cfg.TagsPerCall || size+add > budget {
			flush()
			add = len(tag)
		}
		keys = append(keys, tag)
		size += add
	}
	flush()

	if n := len(b.URLs) + len(b.Prefixes) + len(b.Hosts); n > p.cfg.TargetsPerCall {
		return nil, fmt.Errorf("%w: varnish: %d URLs, prefixes and hosts in one batch, limit %d", purge.ErrPermanent, n, p.cfg.TargetsPerCall)
	}
	for _, raw := range b.URLs {
		host, target, err := splitURL(raw)
		if err != nil {
			return nil, err
		}
		calls = append(calls, call{method: MethodBan, kind: "url", host: host, header: HeaderBanURL, value: target})
	}
	for _, raw := range b.Prefixes {
		host, path, err := splitPrefix(raw)
		if err != nil {
			return nil, err
		}
		calls = append(calls, call{method: MethodBan, kind: "prefix", host: host, header: HeaderBanPrefix, value: path})
	}
	for _, host := range b.Hosts {
		if err := checkHost(host); err != nil {
			return nil, err
		}
		calls = append(calls, call{method: MethodBan, kind: "host", host: host, header: HeaderBanHost, value: "1"})
	}
	if b.Everything {
		// Varnish has no zones; the zone of a Varnish batch is the tenant,
		// and everything means every object tagged for it. Without one,
		// banning the whole cache would reach other tenants: refuse.
		if b.Zone == "" {
			if len(b.Hosts) > 0 {
				return calls, nil // the host bans are everything
			}
			return nil, fmt.Errorf("%w: varnish: purging everything needs the tenant as the batch's zone (or its hosts)", purge.ErrPermanent)
		}
		if err := invalidation.ValidateTenant(b.Zone); err != nil {
			return nil, fmt.Errorf("%w: varnish: zone: %w", purge.ErrPermanent, err)
		}
		calls = append(calls, call{method: MethodBan, kind: "tenant", header: HeaderBanTenant, value: b.Zone})
	}
	if len(calls) == 0 {
		return nil, fmt.Errorf("%w: varnish: empty batch", purge.ErrPermanent)
	}
	return calls, nil
}

func checkTag(tag string) error {
	if tag == "" || len(tag) > MaxTagLength {
		return fmt.Errorf("%w: varnish: tag of %d bytes, want 1 to %d", purge.ErrPermanent, len(tag), MaxTagLength)
	}
	for i := 0; i < len(tag); i++ {
		// xkey splits keys on white space and commas.
		if c := tag[i]; c <= ' ' || c >= 0x7f || c == ',' {
			return fmt.Errorf("%w: varnish: tag %q: only printable ASCII without space or comma", purge.ErrPermanent, tag)
		}
	}
	return nil
}

// banSafe reports whether s can go into a ban expression as the VCL builds
// it: no white space, quotes, backslashes or non-ASCII.
func banSafe(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

func checkHost(host string) error {
	if host == "" || !banSafe(host) || strings.ContainsAny(host, "/?#@") {
		return fmt.Errorf("%w: varnish: bad host %q", purge.ErrPermanent, host)
	}
	return nil
}

// splitURL splits an absolute URL into its host and request target.
func splitURL(raw string) (host, target string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", fmt.Errorf("%w: varnish: URL %q: %w", purge.ErrPermanent, raw, err)
	}
	if u.Host == "" || u.Scheme != "http" && u.Scheme != "https" {
		return "", "", fmt.Errorf("%w: varnish: URL %q is not absolute", purge.ErrPermanent, raw)
	}
	if err := checkHost(u.Host); err != nil {
		return "", "", err
	}
	target = u.RequestURI()
	if !banSafe(target) {
		return "", "", fmt.Errorf("%w: varnish: URL %q: quote, backslash or white space in its path", purge.ErrPermanent, raw)
	}
	return u.Host, target, nil
}

// splitPrefix splits "host/path" (an http or https scheme is allowed) into
// host and path.
func splitPrefix(raw string) (host, path string, err error) {
	s := strings.TrimPrefix(strings.TrimPrefix(raw, "https://"), "http://")
	host, path = s, "/"
	if i := strings.IndexByte(s, '/'); i >= 0 {
		host, path = s[:i], s[i:]
	}
	if err := checkHost(host); err != nil {
		return "", "", fmt.Errorf("varnish: prefix %q: %w", raw, err)
	}
	if !banSafe(path) {
		return "", "", fmt.Errorf("%w: varnish: prefix %q: quote, backslash or white space in its path", purge.ErrPermanent, raw)
	}
	return host, path, nil
}
