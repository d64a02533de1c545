package origin

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"html"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// PublicCacheControl is the Cache-Control of every public page: a minute,
// and half a minute of stale-while-revalidate. SharedCacheControl, sent as
// CDN-Cache-Control (RFC 9213), gives shared caches five minutes instead.
// Not s-maxage: it implies proxy-revalidate (RFC 9111 5.2.2.10), so a
// shared cache could never serve the page stale, neither within
// stale-while-revalidate nor after a soft purge.
const (
	PublicCacheControl = "public, max-age=60, stale-while-revalidate=30"
	SharedCacheControl = "max-age=300, stale-while-revalidate=30"
)

// Gallery images live longer: they change only with the gallery.
const (
	imageCacheControl       = "public, max-age=300, stale-while-revalidate=60"
	imageSharedCacheControl = "max-age=3600, stale-while-revalidate=60"
)

func (o *Origin) profile(w http.ResponseWriter, r request) {
	s := r.site
	snap := s.snapshot()
	if !o.public(w, r, "profile", o.profileTags(s), snap) {
		return
	}
	d := o.data(r, snap, s.Name)
	d.Title = textsFor(r.locale).Home
	d.Description = snap.description.In(r.locale)
	if o.esi {
		// Assembled by cachegate: a user's gallery edit refetches the
		// gallery fragment alone.
		w.Header().Set("Surrogate-Control", `content="ESI/1.0"`)
		o.render(w, "profile-shell", d)
		return
	}
	d.Gallery = gallery(snap, r.locale)
	d.Listings = related(s, r.locale)
	o.render(w, "profile", d)
}

// galleryImage draws /gallery/<n>.svg: the image's colour with the
// company's name, the same in every locale.
func (o *Origin) galleryImage(w http.ResponseWriter, r request) {
	s := r.site
	name, ok := strings.CutSuffix(r.PathValue("file"), ".svg")
	n, err := strconv.Atoi(name)
	if !ok || err != nil || n < 1 || n > len(s.Gallery) || strconv.Itoa(n) != name {
		o.notFound(w, r)
		return
	}
	snap := s.snapshot()
	h := w.Header()
	h.Set("Surrogate-Key", "gallery:"+s.ID)
	h.Set("Cache-Control", imageCacheControl)
	h.Set("CDN-Cache-Control", imageSharedCacheControl)
	h.Set("Last-Modified", snap.modified.Format(http.TimeFormat))
	h.Set("ETag", fmt.Sprintf(`W/"%s-img%d-v%d"`, s.ID, n, snap.version))
	if notModified(r.Request, h.Get("ETag"), snap.modified) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	img := s.Gallery[n-1]
	var b bytes.Buffer
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="480" height="320" viewBox="0 0 480 320">`+
		`<rect width="480" height="320" fill="%s"/><text x="24" y="296" fill="#fff" font-family="sans-serif" font-size="28">%s · %d</text></svg>`,
		html.EscapeString(img.Color), html.EscapeString(s.Name), n)
	h.Set("Content-Type", "image/svg+xml")
	h.Set("Content-Length", strconv.Itoa(b.Len()))
	_, _ = w.Write(b.Bytes())
}

func (o *Origin) companies(w http.ResponseWriter, r request) {
	s := r.site
	snap := s.snapshot()
	if !o.public(w, r, "companies", "company", snap) {
		return
	}
	d := o.data(r, snap, s.Name)
	d.Title = textsFor(r.locale).Companies
	d.Listings = append([]listingView{ownListing(s, snap, r.locale)}, related(s, r.locale)...)
	o.render(w, "companies", d)
}

// ownListing is the tenant's own entry in its listing: its profile, so an
// edit shows here too.
func ownListing(s *site, snap snapshot, locale string) listingView {
	return listingView{ID: s.ID, Name: s.Name, City: s.City, Category: s.Tagline.In(locale), Summary: snap.description.In(locale), Own: true}
}

func (o *Origin) company(w http.ResponseWriter, r request) {
	s := r.site
	id := r.PathValue("id")
	snap := s.snapshot()
	var view listingView
	found := false
	if id == s.ID {
		view, found = ownListing(s, snap, r.locale), true
	}
	for _, l := range s.Listings {
		if l.ID == id {
			view, found = listingView{ID: l.ID, Name: l.Name, City: l.City, Category: l.Category.In(r.locale), Summary: l.Summary.In(r.locale)}, true
		}
	}
	if !found {
		o.notFound(w, r)
		return
	}
	if !o.public(w, r, "company."+id, "company:"+id, snap) {
		return
	}
	d := o.data(r, snap, s.Name)
	d.Title = view.Name
	d.Listing = view
	o.render(w, "company", d)
}

func (o *Origin) account(w http.ResponseWriter, r request) {
	user, ok := userFrom(r.Request)
	if !ok {
		o.unauthorized(w, r, "sign in to see your account: send Authorization or a sessionid cookie")
		return
	}
	h := w.Header()
	h.Set("Cache-Control", "private")
	h.Set("Vary", "Accept-Language, Authorization, Cookie")
	h.Set("Content-Language", r.locale)
	snap := r.site.snapshot()
	d := o.data(r, snap, r.site.Name)
	d.Title = textsFor(r.locale).Account
	d.User = user
	d.Orders = orders(r.site.ID, user)
	o.render(w, "account", d)
}

// userFrom names the signed-in user: the Basic user name or the Bearer
// token of Authorization, else the value of a sessionid or session cookie.
// The demo has no user database, so the credential is the name; that
// makes one user's page easy to tell from another's in tests.
func userFrom(r *http.Request) (string, bool) {
	name := ""
	if a := r.Header.Get("Authorization"); a != "" {
		if u, _, ok := r.BasicAuth(); ok {
			name = u
		} else {
			_, cred, _ := strings.Cut(a, " ")
			name = strings.TrimSpace(cred)
		}
		if name == "" {
			name = "user"
		}
	} else {
		for _, c := range []string{"sessionid", "session"} {
			if ck, err := r.Cookie(c); err == nil && ck.Value != "" {
				name = ck.Value
				break
			}
		}
		if name == "" {
			return "", false
		}
	}
	if utf8.RuneCountInString(name) > 40 {
		name = string([]rune(name)[:40])
	}
	return name, true
}

// orders makes up a user's recent orders, the same on every request.
func orders(tenant, user string) []orderView {
	h := fnv.New32a()
	_, _ = h.Write([]byte(tenant + "\x00" + user))
	seed := h.Sum32()
	out := make([]orderView, 3)
	for i := range out {
		v := seed >> (i * 8)
		out[i] = orderView{ID: fmt.Sprintf("%s-%05d", strings.ToUpper(tenant[:1]), (v*7919+uint32(i))%100000), Items: int(v%9) + 1, Shipped: i > 0 || v%2 == 0}
	}
	return out
}

func (o *Origin) notFound(w http.ResponseWriter, r request) {
	h := w.Header()
	h.Set("Cache-Control", "public, max-age=30")
	h.Set("Vary", "Accept-Language")
	h.Set("Content-Language", r.locale)
	d := o.data(r, r.site.snapshot(), r.site.Name)
	d.Title = textsFor(r.locale).NotFound
	o.renderStatus(w, http.StatusNotFound, "not-found", d)
}

// unknownTenant answers a host that is no tenant's, with links to the
// tenants' sites at the same port. It is not cacheable: any host can be
// sent, and none of them should take cache space.
func (o *Origin) unknownTenant(w http.ResponseWriter, r *http.Request, locale string) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Language", locale)
	hostPort := ""
	if _, port, err := net.SplitHostPort(requestHost(r)); err == nil && port != "" {
		hostPort = ":" + port
	} else if port := r.Header.Get("X-Forwarded-Port"); port != "" && port != "80" {
		// Behind cachegate, whose Host and X-Forwarded-Host carry no port.
		hostPort = ":" + port
	}
	d := pageData{T: textsFor(locale), Lang: locale, Title: textsFor(locale).UnknownSite,
		Rendered: o.renders.Add(1), Generated: time.Now().UTC().Format(time.RFC3339Nano),
		Sites: o.Tenants(), HostPort: hostPort}
	o.renderStatus(w, http.StatusNotFound, "unknown-site", d)
}

func (o *Origin) unauthorized(w http.ResponseWriter, r request, msg string) {
	h := w.Header()
	h.Set("WWW-Authenticate", `Basic realm="cachegate demo", charset="UTF-8"`)
	h.Set("Cache-Control", "no-store")
	http.Error(w, msg, http.StatusUnauthorized)
}

// public writes the headers of a cacheable page and answers 304 when the
// request's validators match; it reports whether a body should follow.
//
// The ETag names the page, the tenant's content version and the locale:
// every edit changes it, and a German page never validates an English one.
func (o *Origin) public(w http.ResponseWriter, r request, page, tags string, snap snapshot) bool {
	h := w.Header()
	h.Set("Surrogate-Key", tags)
	h.Set("Cache-Control", PublicCacheControl)
	h.Set("CDN-Cache-Control", SharedCacheControl)
	h.Set("Last-Modified", snap.modified.Format(http.TimeFormat))
	h.Set("Vary", "Accept-Language")
	h.Set("Content-Language", r.locale)
	etag := fmt.Sprintf(`W/"%s-%s-v%d-%s"`, r.site.ID, page, snap.version, r.locale)
	h.Set("ETag", etag)
	if notModified(r.Request, etag, snap.modified) {
		w.WriteHeader(http.StatusNotModified)
		return false
	}
	return true
}

// notModified applies RFC 9110's conditional GET: If-None-Match (weak
// comparison) when present, else If-Modified-Since.
func notModified(r *http.Request, etag string, modified time.Time) bool {
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		for cand := range strings.SplitSeq(inm, ",") {
			cand = strings.TrimSpace(cand)
			if cand == "*" || strings.TrimPrefix(cand, "W/") == strings.TrimPrefix(etag, "W/") {
				return true
			}
		}
		return false
	}
	if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		if t, err := http.ParseTime(ims); err == nil && !modified.After(t) {
			return true
		}
	}
	return false
}

func (o *Origin) data(r request, snap snapshot, siteName string) pageData {
	return pageData{
		T: textsFor(r.locale), Lang: r.locale, SiteName: siteName,
		Tagline: r.site.Tagline.In(r.locale), City: r.site.City,
		Version: snap.version, Rendered: o.renders.Add(1),
		Generated: time.Now().UTC().Format(time.RFC3339Nano),
	}
}

func (o *Origin) render(w http.ResponseWriter, name string, d pageData) {
	o.renderStatus(w, http.StatusOK, name, d)
}

// renderStatus renders into a buffer first, so that a template error is a
// clean 500 rather than half a page.
func (o *Origin) renderStatus(w http.ResponseWriter, status int, name string, d pageData) {
	var b bytes.Buffer
	if err := o.tmpl.ExecuteTemplate(&b, name, d); err != nil {
		o.log.Error("origin: rendering a page failed", "page", name, "err", err)
		w.Header().Del("ETag")
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, "internal error rendering the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(b.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}
