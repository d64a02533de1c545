package origin

import (
	"context"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Origin is the demo marketplace. Create it with New; it is safe for
// concurrent use.
type Origin struct {
	latency       time.Duration
	esi           bool
	onEdit        func(ctx context.Context, tenant, description string) error
	onGalleryEdit func(ctx context.Context, tenant string) error
	log           *slog.Logger
	sites         map[string]*site // read-only after New; each site guards itself
	ids           []string         // tenant ids in configuration order
	tmpl          *template.Template
	stats         counter
	renders       atomic.Int64 // sequence of rendered pages, the "rendered" marker
	handler       http.Handler
}

// site is the live state of one tenant.
type site struct {
	Tenant // static parts; Description is the initial one

	mu          sync.RWMutex
	description Localized
	gallery     []Image   // replaced, never changed in place: snapshots share it
	version     int64     // bumped by every edit
	modified    time.Time // Last-Modified, whole seconds, strictly increasing
}

// snapshot is what a page renders of a site, read under its lock.
type snapshot struct {
	description Localized
	gallery     []Image // read-only
	version     int64
	modified    time.Time
}

func (s *site) snapshot() snapshot {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return snapshot{description: s.description, gallery: s.gallery, version: s.version, modified: s.modified}
}

// edit replaces the description of one locale and returns the new state.
func (s *site) edit(locale, description string, now time.Time) snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.description = s.description.with(locale, description)
	return s.touch(now)
}

// editCaption replaces the caption of image n (1-based, in range) in one
// locale and returns the new state.
func (s *site) editCaption(n int, locale, title string, now time.Time) snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	g := slices.Clone(s.gallery)
	g[n-1].Title = g[n-1].Title.with(locale, title)
	s.gallery = g
	return s.touch(now)
}

// touch records a change made under s.mu: a new version and a later
// Last-Modified.
func (s *site) touch(now time.Time) snapshot {
	s.version++
	// Last-Modified has one-second resolution: two edits in one second
	// must still give different validators, or If-Modified-Since would
	// answer 304 for changed content.
	m := now.UTC().Truncate(time.Second)
	if !m.After(s.modified) {
		m = s.modified.Add(time.Second)
	}
	s.modified = m
	return snapshot{description: s.description, gallery: s.gallery, version: s.version, modified: s.modified}
}

// New returns an Origin for cfg, or the reasons cfg is invalid.
func New(cfg Config) (*Origin, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	tenants := cfg.Tenants
	if tenants == nil {
		tenants = DefaultTenants()
	}
	o := &Origin{
		latency:       cfg.Latency,
		esi:           cfg.ESI,
		onEdit:        cfg.OnEdit,
		onGalleryEdit: cfg.OnGalleryEdit,
		log:           cfg.Logger,
		sites:         make(map[string]*site, len(tenants)),
	}
	if o.latency == 0 {
		o.latency = DefaultLatency
	}
	if o.log == nil {
		o.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	start := time.Now().UTC().Truncate(time.Second)
	for _, t := range tenants {
		t.Gallery = slices.Clone(t.Gallery)
		t.Listings = slices.Clone(t.Listings)
		o.sites[t.ID] = &site{Tenant: t, description: t.Description, gallery: t.Gallery, version: 1, modified: start}
		o.ids = append(o.ids, t.ID)
	}
	tmpl, err := parseTemplates()
	if err != nil {
		return nil, fmt.Errorf("origin: templates: %w", err)
	}
	o.tmpl = tmpl
	o.handler = o.routes()
	return o, nil
}

// Tenants returns the tenant ids in configuration order.
func (o *Origin) Tenants() []string { return slices.Clone(o.ids) }

// Handler returns the origin's HTTP handler. The tenant is the first label
// of the request's host, <tenant>.localhost, taken from X-Forwarded-Host
// when present (a gateway in front sets it), else from Host; an unknown
// tenant gets 404.
func (o *Origin) Handler() http.Handler { return o.handler }

func (o *Origin) routes() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", o.page(o.profile))
	mux.Handle("GET /companies", o.page(o.companies))
	mux.Handle("GET /companies/{id}", o.page(o.company))
	mux.Handle("GET /fragments/gallery", o.page(o.galleryFragment))
	mux.Handle("GET /fragments/listings", o.page(o.listingsFragment))
	mux.Handle("GET /gallery/{file}", o.page(o.galleryImage))
	mux.Handle("GET /account", o.page(o.account))
	mux.Handle("GET /edit", o.page(o.editForm))
	mux.Handle("POST /edit", o.page(o.edit))
	mux.Handle("POST /edit/gallery", o.page(o.editGallery))
	mux.Handle("/", o.page(o.notFound))

	stats := http.HandlerFunc(o.serveStats)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_origin/stats" {
			stats.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// request is what every page handler gets: the resolved site and locale.
type request struct {
	*http.Request
	site   *site
	locale string
}

type pageFunc func(w http.ResponseWriter, r request)

// page wraps a page handler with what every page does: count the request,
// resolve the tenant (404 when unknown), take the artificial latency, and
// pick the locale.
func (o *Origin) page(h pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := TenantFromHost(requestHost(r))
		s := o.sites[id]
		if ok && s != nil {
			o.stats.count(r.URL.Path, id)
		} else {
			o.stats.count(r.URL.Path, "")
		}
		if !o.wait(r.Context()) {
			return // the client went away; nobody reads an answer
		}
		loc := Locale(r.Header.Get("Accept-Language"))
		if s == nil {
			o.unknownTenant(w, r, loc)
			return
		}
		h(w, request{Request: r, site: s, locale: loc})
	})
}

// wait sleeps for the configured latency, or until ctx is done.
func (o *Origin) wait(ctx context.Context) bool {
	if o.latency <= 0 {
		return true
	}
	t := time.NewTimer(o.latency)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// requestHost is the host the client asked for: X-Forwarded-Host (its
// first entry) when a proxy set it, else Host.
func requestHost(r *http.Request) string {
	if xf := r.Header.Get("X-Forwarded-Host"); xf != "" {
		first, _, _ := strings.Cut(xf, ",")
		if h := strings.TrimSpace(first); h != "" {
			return h
		}
	}
	return r.Host
}

// TenantFromHost returns the tenant label of host "<tenant>.localhost",
// with or without a port or a trailing dot, case-insensitively. It reports
// false for any other host.
func TenantFromHost(host string) (string, bool) {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	label, ok := strings.CutSuffix(host, ".localhost")
	if !ok || !validLabel(label) {
		return "", false
	}
	return label, true
}

// Locale picks the page language for an Accept-Language header: the
// highest-weighted range whose primary tag is "de" or "en" ("de-DE" counts
// as "de"; q=0 excludes), English when none matches.
func Locale(acceptLanguage string) string {
	best, bestQ := LocaleEN, -1.0
	for part := range strings.SplitSeq(acceptLanguage, ",") {
		tag, params, _ := strings.Cut(part, ";")
		tag = strings.ToLower(strings.TrimSpace(tag))
		primary, _, _ := strings.Cut(tag, "-")
		if primary != LocaleEN && primary != LocaleDE {
			continue
		}
		q := 1.0
		for p := range strings.SplitSeq(params, ";") {
			k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil || f < 0 || f > 1 {
					f = 0
				}
				q = f
			}
		}
		if q > 0 && q > bestQ {
			best, bestQ = primary, q
		}
	}
	return best
}
