package origin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"
)

// maxEditBody bounds what POST /edit reads: a 2,000-character description
// is at most 8 KB of UTF-8, and form or JSON encoding can triple that.
const maxEditBody = 64 << 10

// onEditTimeout bounds the OnEdit hook, which runs detached from the
// request's cancellation.
const onEditTimeout = 30 * time.Second

// ErrNotYetApplied, wrapped by an OnEdit error, says the change was
// announced durably but not every cache has dropped the old page yet (a
// layer is down): the edit is answered as a success that says so, with
// the error's text as the note.
var ErrNotYetApplied = errors.New("announced, not yet applied everywhere")

// EditResult is the JSON answer of a JSON POST /edit once the change is
// saved, whatever became of its announcement.
type EditResult struct {
	Tenant      string `json:"tenant"`
	Locale      string `json:"locale"`
	Description string `json:"description"`
	Version     int64  `json:"version"`
	// Applied: every cache dropped the old page; the editor's reload
	// shows the change.
	Applied bool `json:"applied"`
	// Note says what the editor can expect, when not Applied.
	Note string `json:"note,omitempty"`
}

// editRequest is the JSON body of POST /edit.
type editRequest struct {
	Description *string `json:"description"`
	Locale      string  `json:"locale"`
}

func (o *Origin) editForm(w http.ResponseWriter, r request) {
	if r.Header.Get("Authorization") == "" {
		o.unauthorized(w, r, "editing needs an Authorization header")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Language", r.locale)
	snap := r.site.snapshot()
	d := o.data(r, snap, r.site.Name)
	d.Title = textsFor(r.locale).Edit
	d.Description = snap.description.In(r.locale)
	o.render(w, "edit", d)
}

// edit is POST /edit: it replaces the tenant's description in one locale
// (the "locale" field, else the request's Accept-Language), which the
// profile page and the tenant's own listing entry show, then calls OnEdit.
//
// A JSON body ({"description": "...", "locale": "de"}) is answered 200 with
// an EditResult; a form post (application/x-www-form-urlencoded or
// multipart/form-data) is answered 303 See Other to /, so a browser's
// reload after the edit does not resubmit it. Bad input gets 400 (415 for
// another content type, 413 for a body over 64 KiB) with the reason, as
// JSON for JSON requests and as text otherwise.
func (o *Origin) edit(w http.ResponseWriter, r request) {
	w.Header().Set("Cache-Control", "no-store")
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	asJSON := mediaType == "application/json" || strings.Contains(r.Header.Get("Accept"), "application/json")
	fail := func(status int, msg string) {
		if asJSON {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
			return
		}
		http.Error(w, msg, status)
	}
	if r.Header.Get("Authorization") == "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="cachegate demo", charset="UTF-8"`)
		fail(http.StatusUnauthorized, "editing needs an Authorization header")
		return
	}

	body := http.MaxBytesReader(w, r.Body, maxEditBody)
	var desc, locale string
	switch mediaType {
	case "application/json":
		var req editRequest
		dec := json.NewDecoder(body)
		if err := dec.Decode(&req); err != nil {
			fail(bodyStatus(err), "bad JSON body: "+err.Error())
			return
		}
		if req.Description == nil {
			fail(http.StatusBadRequest, `the JSON body has no "description"`)
			return
		}
		desc, locale = *req.Description, req.Locale
	case "application/x-www-form-urlencoded", "multipart/form-data":
		r.Body = body
		if err := r.ParseMultipartForm(maxEditBody); err != nil && !errors.Is(err, http.ErrNotMultipart) {
			fail(bodyStatus(err), "bad form body: "+err.Error())
			return
		}
		desc, locale = r.PostFormValue("description"), r.PostFormValue("locale")
	default:
		fail(http.StatusUnsupportedMediaType, fmt.Sprintf("send the description as JSON or as a form, not %q", mediaType))
		return
	}
	switch locale {
	case "":
		locale = r.locale
	case LocaleEN, LocaleDE:
	default:
		fail(http.StatusBadRequest, fmt.Sprintf("locale %q: want %q or %q", locale, LocaleEN, LocaleDE))
		return
	}
	desc = strings.TrimSpace(desc)
	if err := ValidateDescription(desc); err != nil {
		fail(http.StatusBadRequest, err.Error())
		return
	}

	snap := r.site.edit(locale, desc, time.Now())
	o.stats.edited()
	o.log.Info("origin: description edited", "tenant", r.site.ID, "locale", locale, "version", snap.version)
	res := EditResult{Tenant: r.site.ID, Locale: locale, Description: desc, Version: snap.version, Applied: true}
	status := http.StatusOK
	if o.onEdit != nil {
		// The change is already live here: announcing it must not stop
		// because the editor's browser went away, or caches would keep
		// the old page until it expires.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), onEditTimeout)
		err := o.onEdit(ctx, r.site.ID, desc)
		cancel()
		switch {
		case errors.Is(err, ErrNotYetApplied):
			o.log.Warn("origin: edit announced, not yet applied everywhere", "tenant", r.site.ID, "err", err)
			res.Applied, res.Note = false, "saved: "+err.Error()
		case err != nil:
			o.log.Error("origin: announcing an edit failed", "tenant", r.site.ID, "err", err)
			res.Applied, res.Note = false, "saved, but announcing the change failed, so caches may show the old text until it expires: "+err.Error()
			status = http.StatusBadGateway
		}
	}
	if mediaType != "application/json" && !asJSON {
		if status != http.StatusOK {
			http.Error(w, res.Note, status)
			return
		}
		http.Redirect(w, r.Request, "/", http.StatusSeeOther)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(res)
}

// bodyStatus is 413 for a body over the limit, 400 for anything else.
func bodyStatus(err error) int {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}
