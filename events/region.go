package events

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cachegate/cachegate/internal/setting"
)

// SourcedSubjectPrefix + "<region>.<partition>.<tenant>.<entity>" is the
// subject (published form: without the partition, see publishedSubject), in a
// region's events stream, of an event published in another region and
// sourced from that region's stream. Sourced events are kept apart from the
// local ones (SubjectPrefix) so that a region sources only the other
// regions' own events, never what they sourced in turn: the regions can
// source from each other in both directions without an event circling back
// once the duplicate window has passed. No client publishes there: the
// stream listens on SubjectPrefix only, so only sourcing writes these.
const SourcedSubjectPrefix = "cachegate.from."

// streamSourceHeader is the header JetStream adds to a sourced message
// (nats.go names no constant for it).
const streamSourceHeader = "Nats-Stream-Source"

// Values of Regions.PurgeRegion besides a region's name.
const (
	// PurgeOrigin: the region the event was published in sends its CDN
	// purges (the default).
	PurgeOrigin = "origin"
	// PurgeEvery: every region sends every event's purges, for a purge
	// target that is a layer of each region (a Varnish per region).
	PurgeEvery = "every"
)

// Regions says how this region shares events with others. The zero value
// is one region alone, as before regions existed.
//
// Each region runs its own NATS (a JetStream domain named after the
// region), its own L2 and its own instances. Its events stream sources
// the events published in every region of Sources, over a leaf node
// connection, so its coordinators apply them to its own L1 and L2. A
// wait-publish answers once the region it was published in applied the
// event; the others follow one replication lag later (docs/scaling.md).
type Regions struct {
	// Name of this region, which is also the JetStream domain of its NATS
	// servers (the jetstream.domain of their configuration); Setup checks
	// that it is. Empty: a single region.
	Name string
	// Sources are the other regions whose events this region applies,
	// each by its name (its JetStream domain, reached over a leaf node).
	Sources []string
	// PurgeRegion says which region sends an event's CDN purges, so that
	// the CDN gets each once: PurgeOrigin or "" (the region where it was
	// published), the name of one region (that region, for the events of
	// every region), or PurgeEvery.
	PurgeRegion string
}

// Validate reports a configuration Setup or NewCoordinator would refuse.
// Field names are the config file's.
func (r Regions) Validate() error {
	var errs []error
	if r.Name == "" {
		if len(r.Sources) > 0 {
			errs = append(errs, setting.Errorf("nats.region", "is required with nats.sources: the name (JetStream domain) of this region"))
		}
		if r.PurgeRegion != "" {
			errs = append(errs, setting.Errorf("cdn.purge_region", "needs nats.region and nats.sources (it says which region purges)"))
		}
		return errors.Join(errs...)
	}
	if err := regionName(r.Name); err != nil {
		errs = append(errs, setting.Errorf("nats.region", "%q: %w", r.Name, err))
	}
	for i, s := range r.Sources {
		switch err := regionName(s); {
		case err != nil:
			errs = append(errs, setting.Errorf(setting.Index("nats.sources", i), "%q: %w", s, err))
		case s == r.Name:
			errs = append(errs, setting.Errorf(setting.Index("nats.sources", i), "%q is this region (nats.region)", s))
		case slices.Contains(r.Sources[:i], s):
			errs = append(errs, setting.Errorf(setting.Index("nats.sources", i), "%q is listed twice", s))
		}
	}
	switch p := r.PurgeRegion; {
	case p == "" || p == PurgeOrigin || p == PurgeEvery || p == r.Name || slices.Contains(r.Sources, p):
	default:
		// A region nobody runs would purge nothing, silently.
		errs = append(errs, setting.Errorf("cdn.purge_region", "%q is neither %q, %q, this region (%s) nor one of nats.sources %v",
			p, PurgeOrigin, PurgeEvery, r.Name, r.Sources))
	}
	return errors.Join(errs...)
}

// regionName accepts a JetStream domain that is also one subject token.
func regionName(s string) error {
	if s == "" || token(s) != s {
		return errors.New("want letters, digits, '_' and '-' (a JetStream domain)")
	}
	if s == PurgeOrigin || s == PurgeEvery {
		return fmt.Errorf("%q names a cdn.purge_region mode, not a region", s)
	}
	return nil
}

// streamSources are the event stream's sources: each other region's local
// events, stored under SourcedSubjectPrefix + "<region>.<partition>." and
// partitioned by tenant as this region's own are (the other region's
// partition count may differ: the partition is computed again here). The
// events keep their Nats-Msg-Id, so an event sourced twice (a source
// restarted) is dropped as a duplicate like a re-published one.
func (r Regions) streamSources(partitions int) []*jetstream.StreamSource {
	var out []*jetstream.StreamSource
	for _, s := range r.Sources {
		out = append(out, &jetstream.StreamSource{
			Name: StreamName,
			SubjectTransforms: []jetstream.SubjectTransformConfig{{
				// Their stored form: cachegate.partition.<p>.<tenant>.<entity>.
				Source:      PartitionSubjectPrefix + "*.*.>",
				Destination: fmt.Sprintf("%s%s.{{partition(%d,2)}}.{{wildcard(2)}}.>", SourcedSubjectPrefix, s, partitions),
			}},
			// What Domain would be turned into; written out so that the
			// config read back equals the one wanted.
			External: &jetstream.ExternalStream{APIPrefix: "$JS." + s + ".API"},
		})
	}
	return out
}

// partitionFilters are the subjects of partition p's consumer: this
// region's events of p and, with regions, the sourced ones of p.
func (r Regions) partitionFilters(p int) []string {
	local := PartitionSubjectPrefix + strconv.Itoa(p) + ".>"
	if r.Name == "" {
		return []string{local}
	}
	return []string{local, SourcedSubjectPrefix + "*." + strconv.Itoa(p) + ".>"}
}

// sourceRegion is the region a source of the events stream reads from
// (streamSources' API prefix).
func sourceRegion(src *jetstream.StreamSourceInfo) (string, bool) {
	if src == nil || src.External == nil {
		return "", false
	}
	rest, ok := strings.CutPrefix(src.External.APIPrefix, "$JS.")
	if !ok {
		return "", false
	}
	region, ok := strings.CutSuffix(rest, ".API")
	return region, ok && region != ""
}

// checkDomain verifies that the server's JetStream domain is this region's
// name: the other regions source from $JS.<name>.API, which reaches
// nothing otherwise.
func (r Regions) checkDomain(ctx context.Context, js jetstream.JetStream) error {
	if r.Name == "" {
		return nil
	}
	info, err := js.AccountInfo(ctx)
	if err != nil {
		return fmt.Errorf("events: JetStream account info: %w", err)
	}
	if info.Domain != r.Name {
		return fmt.Errorf("events: region %q runs on a NATS server whose JetStream domain is %q; set jetstream { domain: %s } in its configuration, or nats.region to the domain",
			r.Name, info.Domain, r.Name)
	}
	return nil
}

// purgesHere reports whether this region sends the CDN purges of an event
// published in origin ("" for this region).
func (r Regions) purgesHere(origin string) bool {
	switch r.PurgeRegion {
	case "", PurgeOrigin:
		return origin == ""
	case PurgeEvery:
		return true
	default:
		return r.PurgeRegion == r.Name
	}
}

// splitSubject parses an event subject, local or sourced: the region it
// was published in ("" for this one) and the rest after the prefix,
// "<tenant>.<entity>".
func splitSubject(subject string) (origin, rest string, ok bool) {
	if rest, ok := strings.CutPrefix(subject, SubjectPrefix); ok {
		return "", rest, true
	}
	rest, ok = strings.CutPrefix(subject, SourcedSubjectPrefix)
	if !ok {
		return "", "", false
	}
	origin, rest, ok = strings.Cut(rest, ".")
	if !ok || origin == "" {
		return "", "", false
	}
	return origin, rest, true
}
