package web

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/cachegate/cachegate/invalidation"
)

// purgeFormPage is what purge.html shows.
type purgeFormPage struct {
	Tenant    string
	Items     []string
	ID        string
	Guarantee string
	Error     string
}

// purgeForm is POST /purge: the dashboard's purge form when no script
// runs (JavaScript off, or a script that failed to load). The route's
// middleware checked the session and the form's CSRF token; the answer is
// a page saying what was accepted, or why not.
func (s *Server) purgeForm(w http.ResponseWriter, r *http.Request) {
	page := purgeFormPage{Tenant: strings.TrimSpace(r.PostFormValue("tenant"))}
	req, err := purgeFromForm(r)
	if err == nil && s.cfg.Purges == nil {
		err = notConfigured("purging is")
	}
	if err == nil {
		page.Items = append(append(append(page.Items, req.Tags...), req.URLs...), req.Prefixes...)
		if req.Everything {
			page.Items = []string{"everything"}
		}
		page.ID, err = s.cfg.Purges.Purge(r.Context(), req, false, actorOf(r.Context()))
	}
	if err != nil {
		code, msg, _ := classify(err)
		page.Error = msg
		s.render(w, code, "purge.html", page)
		return
	}
	page.Guarantee = guaranteeDurable
	s.render(w, http.StatusOK, "purge.html", page)
}

// purgeFromForm reads the form's fields (tenant, kind, value; confirm for
// everything, which the script asks in a dialog) into a checked request.
func purgeFromForm(r *http.Request) (invalidation.Request, error) {
	req := invalidation.Request{Tenant: strings.TrimSpace(r.PostFormValue("tenant"))}
	values := strings.Fields(r.PostFormValue("value"))
	switch kind := r.PostFormValue("kind"); kind {
	case "tags":
		req.Tags = values
	case "urls":
		req.URLs = values
	case "prefixes":
		req.Prefixes = values
	case "everything":
		if r.PostFormValue("confirm") != "everything" {
			return req, fmt.Errorf("%w: purging everything needs the confirmation box ticked", ErrBadRequest)
		}
		req.Everything = true
	default:
		return req, fmt.Errorf("%w: choose what to purge by: tags, urls, prefixes or everything", ErrBadRequest)
	}
	if err := req.Validate(); err != nil {
		return req, err
	}
	return req, nil
}
