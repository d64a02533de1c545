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
	d.Gallery = gallery(snap, r.locale)
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
	in, ok := readEdit(w, r, "description")
	if !ok {
		return
	}
	desc := strings.TrimSpace(in.fields["description"])
	if err := ValidateDescription(desc); err != nil {
		in.fail(http.StatusBadRequest, err.Error())
		return
	}
	snap := r.site.edit(in.locale, desc, time.Now())
	o.stats.edited()
	o.log.Info("origin: description edited", "tenant", r.site.ID, "locale", in.locale, "version", snap.version)
	res := EditResult{Tenant: r.site.ID, Locale: in.locale, Description: desc, Version: snap.version}
	var hook func(context.Context) error
	if o.onEdit != nil {
		hook = func(ctx context.Context) error { return o.onEdit(ctx, r.site.ID, desc) }
	}
	status := o.announce(r, hook, &res.Applied, &res.Note)
	in.answer(status, res.Note, res)
}

// editInput is the body of a POST /edit or /edit/gallery, read by
// readEdit: its string fields, its locale, and how it is answered.
type editInput struct {
	w      http.ResponseWriter
	r      request
	fields map[string]string
	locale string
	asJSON bool // answered as JSON, else a form's 303 (text on failure)
}

func (in *editInput) fail(status int, msg string) {
	if in.asJSON {
		in.w.Header().Set("Content-Type", "application/json")
		in.w.WriteHeader(status)
		_ = json.NewEncoder(in.w).Encode(map[string]string{"error": msg})
		return
	}
	http.Error(in.w, msg, status)
}

// answer writes the result of an applied edit: JSON, or for a form the
// redirect to the profile page (the result's note as text when the
// announcement failed).
func (in *editInput) answer(status int, note string, res any) {
	if !in.asJSON {
		if status != http.StatusOK {
			http.Error(in.w, note, status)
			return
		}
		http.Redirect(in.w, in.r.Request, "/", http.StatusSeeOther)
		return
	}
	in.w.Header().Set("Content-Type", "application/json")
	in.w.WriteHeader(status)
	_ = json.NewEncoder(in.w).Encode(res)
}

// readEdit checks the editor's Authorization and reads the body's fields
// as JSON or a form; required names the field a JSON body must have. It
// answers the request itself (and reports false) when the input is bad.
func readEdit(w http.ResponseWriter, r request, required string) (*editInput, bool) {
	w.Header().Set("Cache-Control", "no-store")
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	in := &editInput{w: w, r: r, fields: map[string]string{},
		asJSON: mediaType == "application/json" || strings.Contains(r.Header.Get("Accept"), "application/json")}
	if r.Header.Get("Authorization") == "" {
		w.Header().Set("WWW-Authenticate", `Basic realm="cachegate demo", charset="UTF-8"`)
		in.fail(http.StatusUnauthorized, "editing needs an Authorization header")
		return nil, false
	}
	body := http.MaxBytesReader(w, r.Body, maxEditBody)
	switch mediaType {
	case "application/json":
		var req map[string]any
		dec := json.NewDecoder(body)
		dec.UseNumber()
		if err := dec.Decode(&req); err != nil {
			in.fail(bodyStatus(err), "bad JSON body: "+err.Error())
			return nil, false
		}
		for k, v := range req {
			switch v := v.(type) {
			case string:
				in.fields[k] = v
			case json.Number:
				in.fields[k] = v.String()
			default:
				in.fail(http.StatusBadRequest, fmt.Sprintf("bad JSON body: %q must be a string", k))
				return nil, false
			}
		}
		if _, ok := in.fields[required]; !ok {
			in.fail(http.StatusBadRequest, fmt.Sprintf("the JSON body has no %q", required))
			return nil, false
		}
	case "application/x-www-form-urlencoded", "multipart/form-data":
		r.Body = body
		if err := r.ParseMultipartForm(maxEditBody); err != nil && !errors.Is(err, http.ErrNotMultipart) {
			in.fail(bodyStatus(err), "bad form body: "+err.Error())
			return nil, false
		}
		for k := range r.PostForm {
			in.fields[k] = r.PostFormValue(k)
		}
	default:
		in.fail(http.StatusUnsupportedMediaType, fmt.Sprintf("send the edit as JSON or as a form, not %q", mediaType))
		return nil, false
	}
	switch in.locale = in.fields["locale"]; in.locale {
	case "":
		in.locale = r.locale
	case LocaleEN, LocaleDE:
	default:
		in.fail(http.StatusBadRequest, fmt.Sprintf("locale %q: want %q or %q", in.locale, LocaleEN, LocaleDE))
		return nil, false
	}
	return in, true
}

// announce calls hook (nil: nothing to call) for an edit already applied
// here, and says in applied and note what the editor can expect; it
// returns the status of the answer: 200, or 502 when announcing failed.
func (o *Origin) announce(r request, hook func(context.Context) error, applied *bool, note *string) int {
	*applied = true
	if hook == nil {
		return http.StatusOK
	}
	// The change is already live here: announcing it must not stop
	// because the editor's browser went away, or caches would keep the
	// old page until it expires.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), onEditTimeout)
	err := hook(ctx)
	cancel()
	switch {
	case errors.Is(err, ErrNotYetApplied):
		o.log.Warn("origin: edit announced, not yet applied everywhere", "tenant", r.site.ID, "err", err)
		*applied, *note = false, "saved: "+err.Error()
	case err != nil:
		o.log.Error("origin: announcing an edit failed", "tenant", r.site.ID, "err", err)
		*applied, *note = false, "saved, but announcing the change failed, so caches may show the old text until it expires: "+err.Error()
		return http.StatusBadGateway
	}
	return http.StatusOK
}

// bodyStatus is 413 for a body over the limit, 400 for anything else.
func bodyStatus(err error) int {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}
