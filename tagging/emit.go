package tagging

import (
	"fmt"
	"hash/fnv"
	"log/slog"
	"math/bits"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cachegate/cachegate/cdn"
	"github.com/cachegate/cachegate/invalidation"
)

// CDN providers whose tag header format FormatFor knows (cdn's names).
const (
	ProviderCloudflare = cdn.Cloudflare
	ProviderFastly     = cdn.Fastly
	ProviderAkamai     = cdn.Akamai
	ProviderVarnish    = cdn.Varnish
)

// FallbackTagPrefix starts the names of fallback bucket tags; tags from
// origins or rules may not start with it.
const FallbackTagPrefix = "~"

// FallbackBuckets is the number of fallback bucket tags a tenant has.
const FallbackBuckets = 64

// Format is how one CDN reads tags from a response, with its documented
// limits; zero limits mean none.
type Format struct {
	Provider string
	Header   string
	Sep      byte // ',' or ' '
	// MaxHeaderBytes bounds the header value.
	MaxHeaderBytes int
	// MaxTagBytes bounds one tag, including the tenant prefix.
	MaxTagBytes int
	// MaxTags bounds the number of tags.
	MaxTags int
	// NoStoreHeaders receive "no-store" when a response cannot be tagged at
	// all, so the CDN does not keep what no purge could reach.
	NoStoreHeaders []string
}

// FormatFor returns the format of a provider, from its facts in cdn.
func FormatFor(provider string) (Format, error) {
	f, err := cdn.Lookup(provider)
	if err != nil {
		return Format{}, err
	}
	return Format{Provider: f.Name, Header: f.TagHeader, Sep: f.TagSep, MaxHeaderBytes: f.MaxTagHeaderBytes,
		MaxTagBytes: f.MaxTagBytes, MaxTags: f.MaxTags, NoStoreHeaders: f.NoStoreHeaders}, nil
}

// FallbackTag returns the bucket tag that stands in for a tenant-local tag
// that did not fit a response's tag header: one of FallbackBuckets names
// "~00".."~3f", chosen by a hash of the tag.
//
// Why buckets and not a broader tag ("product:123" → "product" → "all"):
// a purge of "product:123" must still reach an object that only carries the
// fallback. With buckets, the purge side adds exactly one tag per purged tag
// (CDNPurgeTags), and over-purges only the objects that overflowed into the
// same bucket (about 1/64 of the overflowed ones). A hierarchical fallback
// would make every "product:123" purge also purge "product", and every purge
// at all purge "all": the whole tenant. Buckets also bound the fallback's
// own size: at most 64 short names, which always fit every provider's budget
// (except a tenant name so long that even "<tenant>:~00" breaks Akamai's 128
// characters, handled by marking the response no-store for the CDN).
func FallbackTag(tag string) string {
	return fallbackName(bucketOf(tag))
}

// bucketOf is the fallback bucket of tag; a fallback name (a tag that
// already fell back, as ReportTags does past MaxResponseTags) is its own
// bucket, so that falling back again keeps the name purges reach.
func bucketOf(tag string) uint {
	if b, ok := fallbackBucket(tag); ok {
		return b
	}
	h := fnv.New32a()
	h.Write([]byte(tag))
	return uint(h.Sum32() % FallbackBuckets)
}

// fallbackBucket parses a fallback name.
func fallbackBucket(tag string) (uint, bool) {
	if len(tag) != len(FallbackTagPrefix)+2 || !strings.HasPrefix(tag, FallbackTagPrefix) {
		return 0, false
	}
	b, err := strconv.ParseUint(tag[len(FallbackTagPrefix):], 16, 8)
	if err != nil || b >= FallbackBuckets || fallbackName(uint(b)) != tag {
		return 0, false
	}
	return uint(b), true
}

func fallbackName(b uint) string {
	const hex = "0123456789abcdef"
	return FallbackTagPrefix + string([]byte{hex[b>>4], hex[b&15]})
}

// PurgeTags returns the tags a layer invalidates for a purge of tags: each
// tag and its fallback bucket, deduplicated. A response whose tag fell back
// (past MaxResponseTags, or over a CDN header's limits) carries the bucket
// only, so a purge of the bare names would miss it.
func PurgeTags(tags []string) []string {
	out := make([]string, 0, 2*len(tags))
	seen := make(map[string]struct{}, 2*len(tags))
	for _, t := range tags {
		for _, n := range [2]string{t, FallbackTag(t)} {
			if _, dup := seen[n]; !dup {
				seen[n] = struct{}{}
				out = append(out, n)
			}
		}
	}
	return out
}

// CDNPurgeTags returns the CDN names to purge for a tenant's tags: the CDN
// names of PurgeTags. The CDN purge dispatcher must purge these, not bare
// CDNTag names, or a response whose tag overflowed its header is missed.
func CDNPurgeTags(tenant string, tags []string) []string {
	out := PurgeTags(tags)
	for i, t := range out {
		out[i] = invalidation.CDNTag(tenant, t)
	}
	return out
}

// EmitterConfig configures a Emitter.
type EmitterConfig struct {
	// Provider selects the format (FormatFor); required unless Format
	// is set.
	Provider string
	// Format, when its Header is set, replaces the provider's format (tests
	// use it to shrink the limits).
	Format Format
	// Logger receives a warning on fallbacks (sampled: the 1st, 2nd, 4th,
	// 8th... occurrence, so a site-wide overflow cannot flood the log); nil
	// discards.
	Logger *slog.Logger
	// Registerer receives the emitter's counters; nil registers none.
	Registerer prometheus.Registerer
}

// Emitter writes a response's tags, namespaced by tenant, in one CDN's
// header format and within its limits.
type Emitter struct {
	f      Format
	log    *slog.Logger
	fell   atomic.Uint64
	unfit  atomic.Uint64
	events atomic.Uint64
	mFell  prometheus.Counter
	mUnfit prometheus.Counter
}

// EmitterStats counts what the emitter could not send as asked.
type EmitterStats struct {
	// FallbackTags counts tags replaced by their fallback bucket.
	FallbackTags uint64
	// Untaggable counts responses that could not carry even the fallback
	// buckets and were marked no-store for the CDN.
	Untaggable uint64
}

// The gateway declares this interface where it calls the emitter.
var (
	_ interface {
		Emit(h http.Header, tenant string, tags []string)
	} = (*Emitter)(nil)
	_ interface {
		Emit(h http.Header, tenant string, tags []string)
	} = Emitters(nil)
)

// NewEmitter builds an emitter; it fails for an unknown provider or when
// its metrics cannot be registered.
func NewEmitter(cfg EmitterConfig) (*Emitter, error) {
	f := cfg.Format
	if f.Header == "" {
		var err error
		if f, err = FormatFor(cfg.Provider); err != nil {
			return nil, err
		}
	}
	if f.Sep != ',' && f.Sep != ' ' {
		return nil, fmt.Errorf("tag format %q: separator must be ',' or ' '", f.Header)
	}
	e := &Emitter{f: f, log: cfg.Logger}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	labels := prometheus.Labels{"provider": f.Provider}
	e.mFell = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "cachegate_cdn_tag_fallbacks_total", ConstLabels: labels,
		Help: "Tags replaced by a fallback bucket tag because the CDN tag header was over its limits.",
	})
	e.mUnfit = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "cachegate_cdn_untaggable_responses_total", ConstLabels: labels,
		Help: "Responses that could not be tagged within the CDN's limits and were marked no-store for the CDN.",
	})
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{e.mFell, e.mUnfit} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("register tag emitter metrics: %w", err)
			}
		}
	}
	return e, nil
}

// Format returns the emitter's format.
func (e *Emitter) Format() Format { return e.f }

// Stats returns the emitter's counts.
func (e *Emitter) Stats() EmitterStats {
	return EmitterStats{FallbackTags: e.fell.Load(), Untaggable: e.unfit.Load()}
}

// Emit sets the provider's tag header on h to the tenant's CDN names of
// tags, replacing any tag header already there. Tags are kept in the order
// given (put the most specific first); those that do not fit are replaced
// by their FallbackTag bucket, counted and logged; never dropped.
func (e *Emitter) Emit(h http.Header, tenant string, tags []string) {
	StripTagHeaders(h)
	e.emit(h, tenant, tags)
}

// emit is Emit without removing the tag headers already there.
func (e *Emitter) emit(h http.Header, tenant string, tags []string) {
	if len(tags) == 0 {
		return
	}
	f := &e.f
	prefix := len(tenant) + 1
	// Fast path: everything fits.
	total, fits := -1, true
	for _, t := range tags {
		n := prefix + len(t)
		total += n + 1
		if f.MaxTagBytes > 0 && n > f.MaxTagBytes || invalidation.ValidateTag(t) != nil {
			fits = false
			break
		}
	}
	if fits && (f.MaxHeaderBytes == 0 || total <= f.MaxHeaderBytes) && (f.MaxTags == 0 || len(tags) <= f.MaxTags) && !hasDup(tags) {
		var b strings.Builder
		b.Grow(total)
		for i, t := range tags {
			if i > 0 {
				b.WriteByte(f.Sep)
			}
			b.WriteString(tenant)
			b.WriteByte(':')
			b.WriteString(t)
		}
		h[f.Header] = []string{b.String()}
		return
	}
	e.emitWithFallback(h, tenant, dedup(tags))
}

// Emitters writes one response's tags in several formats at once, each
// within its own limits: a gateway behind several layers, such as Varnish
// (xkey, stripped by the shipped VCL) in front of it and a CDN (Cache-Tag)
// in front of Varnish. Build it with NewEmitters.
type Emitters []*Emitter

// NewEmitters builds one emitter per provider, in order, sharing logger
// and registerer (the counters are told apart by their provider label).
// Two providers writing the same header are an error: one would overwrite
// the other's tags.
//
// With Varnish among them, every header passes through Varnish on its way
// to the CDN above, and Varnish fails the whole fetch (503) on a response
// header over its http_resp_hdr_len (8 KB by default): so every format's
// header is also kept within Varnish's bound.
func NewEmitters(providers []string, logger *slog.Logger, reg prometheus.Registerer) (Emitters, error) {
	es := make(Emitters, 0, len(providers))
	seen := map[string]string{}
	headerCap := 0
	if slices.Contains(providers, ProviderVarnish) {
		v, _ := FormatFor(ProviderVarnish)
		headerCap = v.MaxHeaderBytes
	}
	for _, p := range providers {
		f, err := FormatFor(p)
		if err != nil {
			return nil, err
		}
		if headerCap > 0 && (f.MaxHeaderBytes == 0 || f.MaxHeaderBytes > headerCap) {
			f.MaxHeaderBytes = headerCap
		}
		e, err := NewEmitter(EmitterConfig{Provider: p, Format: f, Logger: logger, Registerer: reg})
		if err != nil {
			return nil, err
		}
		if other, dup := seen[e.f.Header]; dup {
			return nil, fmt.Errorf("CDN providers %q and %q both write %s", other, p, e.f.Header)
		}
		seen[e.f.Header] = p
		es = append(es, e)
	}
	return es, nil
}

// Emit sets every emitter's tag header on h, replacing any tag header
// already there (the origin's included).
func (es Emitters) Emit(h http.Header, tenant string, tags []string) {
	StripTagHeaders(h)
	for _, e := range es {
		e.emit(h, tenant, tags)
	}
}

// Stats sums the emitters' counts.
func (es Emitters) Stats() EmitterStats {
	var s EmitterStats
	for _, e := range es {
		st := e.Stats()
		s.FallbackTags += st.FallbackTags
		s.Untaggable += st.Untaggable
	}
	return s
}

func (e *Emitter) emitWithFallback(h http.Header, tenant string, tags []string) {
	f := &e.f
	prefix := len(tenant) + 1
	bucketLen := prefix + len(FallbackTagPrefix) + 2
	buckets := make([]uint, len(tags))
	suffix := make([]uint64, len(tags)+1) // buckets of tags[i:]
	for i := len(tags) - 1; i >= 0; i-- {
		buckets[i] = bucketOf(tags[i])
		suffix[i] = suffix[i+1] | 1<<buckets[i]
	}
	// fitsWith says whether n kept tags of size bytes (each counted with
	// one separator) plus the bucket set m are within the limits.
	fitsWith := func(n, size int, m uint64) bool {
		k := bits.OnesCount64(m)
		if f.MaxTags > 0 && n+k > f.MaxTags {
			return false
		}
		return f.MaxHeaderBytes == 0 || size+k*(bucketLen+1)-1 <= f.MaxHeaderBytes
	}
	if f.MaxTagBytes > 0 && bucketLen > f.MaxTagBytes || !fitsWith(0, 0, suffix[0]) {
		e.untaggable(h, tenant, len(tags))
		return
	}
	kept := make([]string, 0, len(tags))
	var dropped uint64
	var firstDropped string
	nDropped, size := 0, 0
	for i, t := range tags {
		n := prefix + len(t)
		ok := (f.MaxTagBytes == 0 || n <= f.MaxTagBytes) && invalidation.ValidateTag(t) == nil &&
			fitsWith(len(kept)+1, size+n+1, dropped|suffix[i+1])
		if ok {
			kept = append(kept, t)
			size += n + 1
			continue
		}
		if nDropped == 0 {
			firstDropped = t
		}
		nDropped++
		dropped |= 1 << buckets[i]
	}
	var b strings.Builder
	write := func(t string) {
		if b.Len() > 0 {
			b.WriteByte(f.Sep)
		}
		b.WriteString(tenant)
		b.WriteByte(':')
		b.WriteString(t)
	}
	for _, t := range kept {
		write(t)
	}
	for m := dropped; m != 0; m &= m - 1 {
		write(fallbackName(uint(bits.TrailingZeros64(m))))
	}
	h[f.Header] = []string{b.String()}
	e.fell.Add(uint64(nDropped))
	e.mFell.Add(float64(nDropped))
	if n := e.events.Add(1); n&(n-1) == 0 {
		e.log.Warn("CDN tag header over its limits: tags replaced by fallback buckets",
			"provider", f.Provider, "tenant", tenant, "tags", len(tags), "replaced", nDropped,
			"first_replaced", truncate(firstDropped, 80), "occurrence", n)
	}
}

func (e *Emitter) untaggable(h http.Header, tenant string, n int) {
	for _, k := range e.f.NoStoreHeaders {
		h.Set(k, "no-store")
	}
	e.unfit.Add(1)
	e.mUnfit.Inc()
	e.log.Warn("response cannot be tagged within the CDN's limits; marked no-store for the CDN",
		"provider", e.f.Provider, "tenant", truncate(tenant, 80), "tags", n)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

func hasDup(tags []string) bool {
	if len(tags) > 16 {
		seen := make(map[string]struct{}, len(tags))
		for _, t := range tags {
			if _, ok := seen[t]; ok {
				return true
			}
			seen[t] = struct{}{}
		}
		return false
	}
	for i := range tags {
		for j := 0; j < i; j++ {
			if tags[i] == tags[j] {
				return true
			}
		}
	}
	return false
}

func dedup(tags []string) []string {
	out := make([]string, 0, len(tags))
	seen := make(map[string]struct{}, len(tags))
	for _, t := range tags {
		if _, ok := seen[t]; !ok {
			seen[t] = struct{}{}
			out = append(out, t)
		}
	}
	return out
}
