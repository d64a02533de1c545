package origin_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/cachegate/cachegate/demo/origin"
)

// With ESI the profile page is a shell tagged company:<t> alone, asking
// for assembly, with one include per fragment; each fragment is a page of
// its own with its own tag and validators.
func TestProfileShellAndFragments(t *testing.T) {
	_, srv := server(t, origin.Config{ESI: true})
	shell := get(t, srv, "acme.localhost", "/", "Accept-Language", "de")
	if shell.status != 200 || shell.header.Get("Surrogate-Key") != "company:acme" || shell.header.Get("Surrogate-Control") != `content="ESI/1.0"` {
		t.Fatalf("shell: %d %v", shell.status, shell.header)
	}
	for _, want := range []string{`<esi:include src="/fragments/gallery"/>`, `<esi:include src="/fragments/listings"/>`, "Über uns"} {
		if !strings.Contains(shell.body, want) {
			t.Errorf("the shell lacks %q:\n%s", want, shell.body)
		}
	}
	if strings.Contains(shell.body, `id="gallery"`) || strings.Contains(shell.body, `id="listings"`) {
		t.Error("the shell renders a fragment inline")
	}
	tests := []struct {
		path, tags, etag string
		has              []string
	}{
		{"/fragments/gallery", "gallery:acme", `W/"acme-gallery-v1-de"`, []string{`data-fragment="gallery"`, "Lager", "/gallery/3.svg"}},
		{"/fragments/listings", "listings:acme", `W/"acme-listings-v1-de"`, []string{`data-fragment="listings"`, "Nordbolt AB", `href="/companies/sealwise"`, "Dichtungen"}},
	}
	for _, tt := range tests {
		r := get(t, srv, "acme.localhost", tt.path, "Accept-Language", "de")
		if r.status != 200 || r.header.Get("Surrogate-Key") != tt.tags || r.header.Get("ETag") != tt.etag ||
			r.header.Get("Surrogate-Control") != "" || r.header.Get("Cache-Control") != origin.PublicCacheControl {
			t.Errorf("%s: %d %v", tt.path, r.status, r.header)
		}
		for _, want := range tt.has {
			if !strings.Contains(r.body, want) {
				t.Errorf("%s lacks %q", tt.path, want)
			}
		}
		if strings.Contains(r.body, "<html") {
			t.Errorf("%s is a whole page, not a fragment", tt.path)
		}
	}
	// Without ESI, one page shows all three parts.
	_, whole := server(t, origin.Config{})
	r := get(t, whole, "acme.localhost", "/")
	if r.header.Get("Surrogate-Control") != "" || strings.Contains(r.body, "esi:") || !strings.Contains(r.body, `id="gallery"`) || !strings.Contains(r.body, `id="listings"`) {
		t.Errorf("the whole page: %v\n%s", r.header, r.body)
	}
}

type galleryRecorder struct {
	mu      sync.Mutex
	tenants []string
	err     error
}

func (h *galleryRecorder) onGalleryEdit(_ context.Context, tenant string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.tenants = append(h.tenants, tenant)
	return h.err
}

func (h *galleryRecorder) calls() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.tenants)
}

// POST /edit/gallery changes one caption in one locale, shows in the
// gallery fragment and calls OnGalleryEdit (not OnEdit); bad input is
// refused before anything changes.
func TestEditGallery(t *testing.T) {
	gallery, desc := &galleryRecorder{}, &recorder{}
	_, srv := server(t, origin.Config{ESI: true, OnEdit: desc.onEdit, OnGalleryEdit: gallery.onGalleryEdit})
	auth := []string{"Authorization", "Bearer demo-editor"}
	asJSON := append([]string{"Content-Type", "application/json"}, auth...)
	asForm := append([]string{"Content-Type", "application/x-www-form-urlencoded"}, auth...)
	refused := []struct {
		name, body string
		hdr        []string
		status     int
		errHas     string
	}{
		{"no authorization", `{"image":1,"title":"x"}`, []string{"Content-Type", "application/json"}, 401, "Authorization"},
		{"no title", `{"image":1}`, asJSON, 400, "has no"},
		{"blank title", `{"image":1,"title":"  "}`, asJSON, 400, "caption is empty"},
		{"long title", `{"image":1,"title":"` + strings.Repeat("x", origin.MaxCaption+1) + `"}`, asJSON, 400, "101 characters"},
		{"image 0", `{"image":0,"title":"x"}`, asJSON, 400, "from 1 to 3"},
		{"image past the gallery", `{"image":"4","title":"x"}`, asJSON, 400, "from 1 to 3"},
		{"image not a number", url.Values{"image": {"two"}, "title": {"x"}}.Encode(), asForm, 400, "from 1 to 3"},
		{"title not a string", `{"image":1,"title":["x"]}`, asJSON, 400, "must be a string"},
		{"bad locale", `{"image":1,"title":"x","locale":"fr"}`, asJSON, 400, "want"},
	}
	for _, tt := range refused {
		r := do(t, srv, http.MethodPost, "acme.localhost", "/edit/gallery", strings.NewReader(tt.body), tt.hdr...)
		if r.status != tt.status || !strings.Contains(r.body, tt.errHas) {
			t.Errorf("%s: %d %s, want %d with %q", tt.name, r.status, r.body, tt.status, tt.errHas)
		}
	}
	if n := gallery.calls(); n != 0 {
		t.Fatalf("OnGalleryEdit called %d times for refused edits", n)
	}

	r := do(t, srv, http.MethodPost, "acme.localhost", "/edit/gallery", strings.NewReader(`{"image":2,"title":"New assembly line","locale":"en"}`), asJSON...)
	var res origin.GalleryEditResult
	if err := json.Unmarshal([]byte(r.body), &res); err != nil || r.status != 200 {
		t.Fatalf("JSON edit: %d %s", r.status, r.body)
	}
	if res != (origin.GalleryEditResult{Tenant: "acme", Locale: "en", Image: 2, Title: "New assembly line", Version: 2, Applied: true}) {
		t.Errorf("result %+v", res)
	}
	form := do(t, srv, http.MethodPost, "acme.localhost", "/edit/gallery",
		strings.NewReader(url.Values{"image": {"1"}, "title": {"Neues Lager"}, "locale": {"de"}}.Encode()), asForm...)
	if form.status != http.StatusSeeOther || form.header.Get("Location") != "/" {
		t.Errorf("form edit: %d %v", form.status, form.header)
	}
	if gallery.calls() != 2 || len(desc.list()) != 0 {
		t.Errorf("hooks: OnGalleryEdit %d calls, OnEdit %d; want 2 and 0", gallery.calls(), len(desc.list()))
	}
	en := get(t, srv, "acme.localhost", "/fragments/gallery", "Accept-Language", "en")
	de := get(t, srv, "acme.localhost", "/fragments/gallery", "Accept-Language", "de")
	if !strings.Contains(en.body, "New assembly line") || strings.Contains(en.body, "Neues Lager") || !strings.Contains(en.body, "Warehouse") {
		t.Errorf("English gallery after the edits:\n%s", en.body)
	}
	if !strings.Contains(de.body, "Neues Lager") || !strings.Contains(de.body, "Montagelinie") {
		t.Errorf("German gallery after the edits:\n%s", de.body)
	}
	if other := get(t, srv, "berg.localhost", "/fragments/gallery"); !strings.Contains(other.body, "Design office") {
		t.Error("acme's gallery edit changed berg's")
	}
	// The editor's form offers the gallery's captions.
	page := get(t, srv, "acme.localhost", "/edit", "Authorization", "Bearer e")
	if !strings.Contains(page.body, `action="/edit/gallery"`) || !strings.Contains(page.body, "2 · New assembly line") {
		t.Errorf("the edit page lacks the gallery form:\n%s", page.body)
	}

	// A failed announcement: saved, said so, 502.
	gallery.err = errors.New("not accepted")
	r = do(t, srv, http.MethodPost, "acme.localhost", "/edit/gallery", strings.NewReader(`{"image":3,"title":"Lab"}`), asJSON...)
	res = origin.GalleryEditResult{}
	if err := json.Unmarshal([]byte(r.body), &res); err != nil || r.status != 502 || res.Applied || !strings.Contains(res.Note, "announcing the change failed") || res.Title != "Lab" {
		t.Errorf("failed announcement: %d %s", r.status, r.body)
	}
}
