package gateway

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/cachegate/cachegate/headers"
	"github.com/cachegate/cachegate/stats"
)

// Inspection is what a GET of one URL would find in each layer: how the
// gateway keys it and, per layer, the entry, its tags, age, freshness and
// stale windows, or the variant record that sends it on. It reads the
// layers as the request path does and changes nothing but L1's recency.
type Inspection struct {
	URL     string `json:"url"`
	Tenant  string `json:"tenant"`
	Route   string `json:"route,omitempty"`
	Locale  string `json:"locale,omitempty"`
	Key     string `json:"key"`
	Private bool   `json:"private,omitempty"`
	Bypass  bool   `json:"bypass,omitempty"`
	// Reason says why the URL is never cached when Private or Bypass.
	Reason string            `json:"reason,omitempty"`
	Layers []LayerInspection `json:"layers"`
}

// LayerInspection is one layer's view of an Inspection's key.
type LayerInspection struct {
	Layer string `json:"layer"`
	// Present: the layer holds the response this request selects.
	Present bool   `json:"present"`
	Error   string `json:"error,omitempty"`
	// Vary names the headers that select among the URL's variants, when
	// the layer holds a variant record; VariantKey is the variant this
	// request (its headers) selects.
	Vary       []string `json:"vary,omitempty"`
	VariantKey string   `json:"variant_key,omitempty"`

	Status     int       `json:"status,omitempty"`
	Tags       []string  `json:"tags,omitempty"`
	Stored     time.Time `json:"stored,omitzero"`
	Bytes      int       `json:"bytes,omitempty"`
	AgeSeconds int64     `json:"age_seconds"`
	TTLSeconds int64     `json:"ttl_seconds"` // freshness left; negative once stale
	SWRSeconds int64     `json:"stale_while_revalidate_seconds"`
	SIESeconds int64     `json:"stale_if_error_seconds"`
	MustReval  bool      `json:"must_revalidate,omitempty"`
	// State is fresh, stale-while-revalidate (served while one refill
	// runs), stale-if-error (served only when the origin fails), or
	// expired (revalidated or fetched on the next request).
	State string `json:"state,omitempty"`
}

// Inspect reports what r (a GET of its URL, with its headers) would find
// in each layer.
func (g *Gateway) Inspect(ctx context.Context, r *http.Request) (Inspection, error) {
	target, ok := canonicalize(r)
	if !ok {
		return Inspection{}, errors.New("gateway: not a valid host")
	}
	d := g.cfg.Policy.Decide(r)
	if !d.Private && len(r.Header["Authorization"]) > 0 {
		d.Private, d.PrivateReason = true, "authorization"
	}
	in := Inspection{URL: r.Host + target, Tenant: d.Tenant, Route: d.Rule, Private: d.Private, Bypass: d.Bypass, Layers: []LayerInspection{}}
	switch {
	case d.Private:
		in.Reason = "private: " + d.PrivateReason
		return in, nil
	case d.Bypass:
		in.Reason = "bypass: " + d.BypassReason
		return in, nil
	case d.Tenant == "":
		in.Bypass, in.Reason = true, "bypass: no tenant"
		return in, nil
	}
	x := &exchange{d: d, target: target, method: http.MethodGet, req: r.Header, host: r.Host}
	if len(d.Locales) > 0 {
		x.locale = headers.NegotiateLocale(strings.Join(r.Header["Accept-Language"], ","), d.Locales)
	}
	x.key = primaryKey(d.Tenant, x.host, x.locale, target)
	in.Locale, in.Key = x.locale, x.key
	layers := []struct {
		name string
		s    Store
	}{{stats.L1, g.cfg.L1}}
	if g.cfg.L2 != nil {
		layers = append(layers, struct {
			name string
			s    Store
		}{stats.L2, g.cfg.L2})
	}
	now := g.now()
	for _, l := range layers {
		in.Layers = append(in.Layers, g.inspectLayer(ctx, l.name, l.s, x, now))
	}
	return in, nil
}

func (g *Gateway) inspectLayer(ctx context.Context, name string, s Store, x *exchange, now time.Time) LayerInspection {
	li := LayerInspection{Layer: name}
	e, _, err := s.Get(ctx, x.d.Tenant, x.key)
	if err == nil && e != nil && e.Status == 0 && len(e.Vary) > 0 {
		li.Vary = slices.Clone(e.Vary)
		li.VariantKey = variantKey(x.key, e.Vary, x.req, x.d.Locales)
		e, _, err = s.Get(ctx, x.d.Tenant, li.VariantKey)
	}
	if err != nil {
		li.Error = err.Error()
		return li
	}
	if e == nil || e.Status == 0 {
		return li
	}
	f := g.evaluate(x, e, now)
	li.Present, li.Status, li.Tags = true, e.Status, slices.Clone(e.Tags)
	li.Stored, li.Bytes = e.ResponseTime.UTC(), e.Size()
	li.AgeSeconds = int64(f.age / time.Second)
	li.TTLSeconds = int64((f.lifetime - f.age) / time.Second)
	li.SWRSeconds, li.SIESeconds = int64(f.swr/time.Second), int64(f.sie/time.Second)
	li.MustReval = f.mustRevalidate
	switch {
	case f.age < f.lifetime && !f.noCache:
		li.State = "fresh"
	case f.use == useStale:
		li.State = "stale-while-revalidate"
	case f.staleIfError(x):
		li.State = "stale-if-error"
	default:
		li.State = "expired"
	}
	return li
}

// TagLister is a layer that can list the keys of its live entries that
// carry a tag (L1: a walk of memory; L2 offers none, a scan of Redis being
// too costly to serve an operator's question).
type TagLister interface {
	KeysByTag(ctx context.Context, tenant, tag string, limit int) ([]string, error)
}

// KeysByTag lists up to limit keys of this instance's L1 whose live
// entries carry tag; the bool reports the list complete (false: limit was
// reached, or L1 cannot list).
func (g *Gateway) KeysByTag(ctx context.Context, tenant, tag string, limit int) ([]string, bool, error) {
	tl, ok := g.l1.Store.(TagLister)
	if !ok {
		return []string{}, false, nil
	}
	keys, err := tl.KeysByTag(ctx, tenant, tag, limit+1)
	if err != nil {
		return nil, false, err
	}
	if len(keys) > limit {
		return keys[:limit], false, nil
	}
	return keys, true, nil
}
