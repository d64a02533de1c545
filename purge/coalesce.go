package purge

import (
	"fmt"
	"sort"

	"github.com/cachegate/cachegate/invalidation"
	"github.com/cachegate/cachegate/tagging"
)

// kind is the kind of target in a batch; a provider call carries one kind
// (Cloudflare rejects mixed bodies).
type kind int

const (
	kindTags kind = iota
	kindURLs
	kindPrefixes
	kindHosts
	kindEverything
)

// planned is one batch and the jobs (indices into the round) it serves.
type planned struct {
	batch Batch
	jobs  []int
}

// route is how a provider reaches tenants: a zone per tenant, or a zone
// shared by all others, and the public host of each tenant.
type route struct {
	zone   string
	zones  map[string]string
	hosts  map[string]string
	limits Limits
	soft   bool
}

// zoneOf is the zone of tenant: its own, or the shared one ("" for none).
func (r route) zoneOf(tenant string) string {
	if z, own := r.zones[tenant]; own {
		return z
	}
	return r.zone
}

// plan merges the requests of a round per zone, deduplicates their targets
// and splits them into batches within r.limits. A request that cannot be
// delivered by this provider (no zone, a tag too long for it, no public
// host to make a URL absolute) is rejected with the reason, and none of its
// targets are sent: a half-done purge would read as done.
//
// Targets a provider cannot purge directly become the implicit tags every
// stored response carries (invalidation.URLTag, PrefixTag), and Everything
// in a shared zone becomes a purge of the tenant's host, or of the tag
// "path:/" that all of its responses carry: purging the shared zone would
// reach other tenants.
func plan(reqs []invalidation.Request, r route) (batches []planned, rejected map[int]string) {
	// Soft requests are batched apart from hard ones: a hard purge sent
	// soft would lose its guarantee.
	type key struct {
		zone string
		kind kind
		soft bool
	}
	type values struct {
		order []string
		jobs  map[string][]int
	}
	groups := map[key]*values{}
	var keys []key
	add := func(zone string, k kind, soft bool, v string, job int) {
		gk := key{zone, k, soft}
		g := groups[gk]
		if g == nil {
			g = &values{jobs: map[string][]int{}}
			groups[gk] = g
			keys = append(keys, gk)
		}
		js, seen := g.jobs[v]
		if !seen {
			g.order = append(g.order, v)
		}
		if len(js) == 0 || js[len(js)-1] != job {
			g.jobs[v] = append(js, job)
		}
	}
	rejected = map[int]string{}
	for i, req := range reqs {
		items, zone, reason := targets(req, r)
		if reason != "" {
			rejected[i] = reason
			continue
		}
		for _, it := range items {
			add(zone, it.kind, r.soft || req.Soft, it.value, i)
		}
	}
	sort.SliceStable(keys, func(i, j int) bool {
		if keys[i].zone != keys[j].zone {
			return keys[i].zone < keys[j].zone
		}
		if keys[i].kind != keys[j].kind {
			return keys[i].kind < keys[j].kind
		}
		return !keys[i].soft && keys[j].soft
	})
	for _, k := range keys {
		g := groups[k]
		per := perCall(r.limits, k.kind)
		for start := 0; start < len(g.order); start += per {
			end := min(start+per, len(g.order))
			chunk := g.order[start:end]
			p := planned{batch: Batch{Zone: k.zone, Soft: k.soft}}
			switch k.kind {
			case kindTags:
				p.batch.Tags = chunk
			case kindURLs:
				p.batch.URLs = chunk
			case kindPrefixes:
				p.batch.Prefixes = chunk
			case kindHosts:
				p.batch.Hosts = chunk
			case kindEverything:
				p.batch.Everything = true
			}
			seen := map[int]bool{}
			for _, v := range chunk {
				for _, j := range g.jobs[v] {
					if !seen[j] {
						seen[j] = true
						p.jobs = append(p.jobs, j)
					}
				}
			}
			sort.Ints(p.jobs)
			batches = append(batches, p)
		}
	}
	return batches, rejected
}

func perCall(l Limits, k kind) int {
	n := 1
	switch k {
	case kindTags:
		n = l.TagsPerCall
	case kindURLs:
		n = l.URLsPerCall
	case kindPrefixes:
		n = l.PrefixesPerCall
	case kindHosts:
		n = l.HostsPerCall
	}
	return max(n, 1)
}

type target struct {
	kind  kind
	value string
}

// targets turns one request into this provider's targets.
func targets(req invalidation.Request, r route) (items []target, zone, reason string) {
	zone = r.zoneOf(req.Tenant)
	_, own := r.zones[req.Tenant]
	if zone == "" {
		return nil, "", fmt.Sprintf("no zone configured for tenant %q", req.Tenant)
	}
	host := r.hosts[req.Tenant]
	tag := func(t string) string {
		if reason == "" && r.limits.MaxTagLength > 0 && len(invalidation.CDNTag(req.Tenant, t)) > r.limits.MaxTagLength {
			reason = fmt.Sprintf("tag %q is longer than the provider's %d characters once prefixed with the tenant", t, r.limits.MaxTagLength)
		}
		return invalidation.CDNTag(req.Tenant, t)
	}
	if req.Everything {
		switch {
		case own:
			items = append(items, target{kindEverything, ""})
		case r.limits.HostsPerCall > 0 && host != "":
			items = append(items, target{kindHosts, host})
		default:
			items = append(items, target{kindTags, tag(invalidation.PrefixTag("/"))})
		}
	}
	for _, t := range req.Tags {
		tag(t) // the length check
	}
	// Each tag's CDN name and its fallback bucket's: a response whose tag
	// overflowed its tag header carries only the bucket.
	for _, n := range tagging.CDNPurgeTags(req.Tenant, req.Tags) {
		items = append(items, target{kindTags, n})
	}
	for _, u := range req.URLs {
		if r.limits.URLsPerCall <= 0 {
			items = append(items, target{kindTags, tag(invalidation.URLTag(u))})
			continue
		}
		if host == "" {
			return nil, zone, fmt.Sprintf("no public host configured for tenant %q to make URL %q absolute", req.Tenant, u)
		}
		items = append(items, target{kindURLs, "https://" + host + u})
	}
	for _, p := range req.Prefixes {
		if r.limits.PrefixesPerCall <= 0 {
			items = append(items, target{kindTags, tag(invalidation.PrefixTag(p))})
			continue
		}
		if host == "" {
			return nil, zone, fmt.Sprintf("no public host configured for tenant %q to make prefix %q absolute", req.Tenant, p)
		}
		items = append(items, target{kindPrefixes, host + p})
	}
	if reason != "" {
		return nil, zone, reason
	}
	return items, zone, ""
}
