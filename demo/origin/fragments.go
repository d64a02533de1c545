package origin

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The profile page's fragments: its gallery and its related listings,
// each its own page with its own tags, so that an edit of one refetches
// that one alone (Config.ESI).

// profileTags are the Surrogate-Key tags of the profile page: the shell's
// own with ESI, else those of everything it shows inline.
func (o *Origin) profileTags(s *site) string {
	if o.esi {
		return "company:" + s.ID
	}
	return "company:" + s.ID + " gallery:" + s.ID + " listings:" + s.ID
}

func (o *Origin) galleryFragment(w http.ResponseWriter, r request) {
	s := r.site
	snap := s.snapshot()
	if !o.public(w, r, "gallery", "gallery:"+s.ID, snap) {
		return
	}
	d := o.data(r, snap, s.Name)
	d.Gallery = gallery(snap, r.locale)
	o.render(w, "gallery-fragment", d)
}

// listingsFragment is the profile page's "related listings": the other
// companies on the tenant's marketplace.
func (o *Origin) listingsFragment(w http.ResponseWriter, r request) {
	s := r.site
	snap := s.snapshot()
	if !o.public(w, r, "listings", "listings:"+s.ID, snap) {
		return
	}
	d := o.data(r, snap, s.Name)
	d.Listings = related(s, r.locale)
	o.render(w, "listings-fragment", d)
}

func gallery(snap snapshot, locale string) []galleryItem {
	items := make([]galleryItem, len(snap.gallery))
	for i, img := range snap.gallery {
		items[i] = galleryItem{N: i + 1, Title: img.Title.In(locale), Color: img.Color}
	}
	return items
}

func related(s *site, locale string) []listingView {
	out := make([]listingView, 0, len(s.Listings))
	for _, l := range s.Listings {
		out = append(out, listingView{ID: l.ID, Name: l.Name, City: l.City, Category: l.Category.In(locale), Summary: l.Summary.In(locale)})
	}
	return out
}

// GalleryEditResult is the JSON answer of a JSON POST /edit/gallery once
// the caption is saved, whatever became of its announcement.
type GalleryEditResult struct {
	Tenant  string `json:"tenant"`
	Locale  string `json:"locale"`
	Image   int    `json:"image"`
	Title   string `json:"title"`
	Version int64  `json:"version"`
	// Applied: every cache dropped the old gallery.
	Applied bool `json:"applied"`
	// Note says what the editor can expect, when not Applied.
	Note string `json:"note,omitempty"`
}

// editGallery is POST /edit/gallery: it replaces the caption of one
// gallery image (the "image" field, 1-based) with "title" in one locale,
// then calls OnGalleryEdit. Bodies, answers and errors are as POST /edit's.
func (o *Origin) editGallery(w http.ResponseWriter, r request) {
	in, ok := readEdit(w, r, "title")
	if !ok {
		return
	}
	s := r.site
	n, err := strconv.Atoi(strings.TrimSpace(in.fields["image"]))
	if err != nil || n < 1 || n > len(s.Gallery) {
		in.fail(http.StatusBadRequest, fmt.Sprintf("image %q: want a number from 1 to %d", in.fields["image"], len(s.Gallery)))
		return
	}
	title := strings.TrimSpace(in.fields["title"])
	if err := ValidateCaption(title); err != nil {
		in.fail(http.StatusBadRequest, err.Error())
		return
	}
	snap := s.editCaption(n, in.locale, title, time.Now())
	o.stats.edited()
	o.log.Info("origin: gallery edited", "tenant", s.ID, "image", n, "locale", in.locale, "version", snap.version)
	res := GalleryEditResult{Tenant: s.ID, Locale: in.locale, Image: n, Title: title, Version: snap.version}
	var hook func(context.Context) error
	if o.onGalleryEdit != nil {
		hook = func(ctx context.Context) error { return o.onGalleryEdit(ctx, s.ID) }
	}
	status := o.announce(r, hook, &res.Applied, &res.Note)
	in.answer(status, res.Note, res)
}
