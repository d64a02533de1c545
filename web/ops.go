package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/cachegate/cachegate/invalidation"
)

// The operator's inspection endpoints, behind the admin token:
//
//	GET  /api/v1/inspect?url=URL[&header=Name:Value]  what each layer holds for URL
//	GET  /api/v1/keys?tenant=T&tag=T[&limit=N]         this instance's L1 keys carrying a tag
//	GET  /api/v1/version                              the build this instance runs
//	POST /api/v1/deadletters/{seq}/edit               publish a corrected event in its place
//	POST /api/v1/deadletters/{seq}/discard            drop it

// Inspector answers questions about what is cached (the gateway behind an
// adapter).
type Inspector interface {
	// Inspect reports what a GET of rawURL with header finds in each layer:
	// a JSON-encodable report (gateway.Inspection). A URL that cannot be
	// keyed is an error wrapping ErrBadRequest.
	Inspect(ctx context.Context, rawURL string, header http.Header) (any, error)
	// KeysByTag lists up to limit keys of this instance's L1 whose entries
	// carry tag; complete is false when more may exist.
	KeysByTag(ctx context.Context, tenant, tag string, limit int) (keys []string, complete bool, err error)
}

// DeadLetterEditor is a DeadLetterStore that can also replace a dead
// letter by a corrected event, and drop one.
type DeadLetterEditor interface {
	// EditDeadLetter publishes body, a corrected event, as a new event
	// (its own id: the first one's could be deduplicated away) and then
	// deletes dead letter seq; it returns the new event's id.
	EditDeadLetter(ctx context.Context, seq uint64, body []byte, actor string) (id string, err error)
	// DiscardDeadLetter deletes dead letter seq; ErrNotFound when unknown.
	DiscardDeadLetter(ctx context.Context, seq uint64) error
}

// VersionInfo is the body of GET /api/v1/version.
type VersionInfo struct {
	Version  string `json:"version"`
	Revision string `json:"revision,omitempty"`
	Go       string `json:"go"`
}

// KeysResponse is the body of GET /api/v1/keys.
type KeysResponse struct {
	Tenant string   `json:"tenant"`
	Tag    string   `json:"tag"`
	Layer  string   `json:"layer"`
	Keys   []string `json:"keys"`
	// Complete is false when the limit cut the list.
	Complete bool `json:"complete"`
}

// MaxKeys bounds one GET /api/v1/keys.
const MaxKeys = 10000

func (s *Server) opsRoutes(api func(string, handlerFunc)) {
	api("GET /api/v1/inspect", s.inspect)
	api("GET /api/v1/keys", s.keys)
	api("GET /api/v1/version", s.version)
	api("POST /api/v1/deadletters/{seq}/edit", s.editDeadLetter)
	api("POST /api/v1/deadletters/{seq}/discard", s.discardDeadLetter)
}

func (s *Server) inspect(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Inspector == nil {
		return notConfigured("inspection is")
	}
	q := r.URL.Query()
	raw := q.Get("url")
	u, err := url.Parse(raw)
	if raw == "" || err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("%w: url=%q: an absolute http(s) URL, e.g. http://acme.localhost/", ErrBadRequest, raw)
	}
	h := http.Header{}
	for _, kv := range q["header"] {
		name, value, ok := strings.Cut(kv, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return fmt.Errorf("%w: header=%q: Name:Value", ErrBadRequest, kv)
		}
		h.Add(strings.TrimSpace(name), strings.TrimSpace(value))
	}
	out, err := s.cfg.Inspector.Inspect(r.Context(), raw, h)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) keys(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Inspector == nil {
		return notConfigured("inspection is")
	}
	q := r.URL.Query()
	tenant, tag := q.Get("tenant"), q.Get("tag")
	if err := invalidation.ValidateTenant(tenant); err != nil {
		return fmt.Errorf("%w: tenant=%q: %v", ErrBadRequest, tenant, err)
	}
	if tag == "" {
		return fmt.Errorf("%w: tag is required", ErrBadRequest)
	}
	n, err := limitParam(r, MaxKeys)
	if err != nil {
		return err
	}
	keys, complete, err := s.cfg.Inspector.KeysByTag(r.Context(), tenant, tag, n)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, KeysResponse{Tenant: tenant, Tag: tag, Layer: "l1", Keys: keys, Complete: complete})
	return nil
}

func (s *Server) version(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, s.cfg.Version)
	return nil
}

// deadLetterTarget is the editor and the dead letter a request names.
func (s *Server) deadLetterTarget(r *http.Request) (DeadLetterEditor, uint64, error) {
	ed, ok := s.cfg.DeadLetters.(DeadLetterEditor)
	if !ok {
		return nil, 0, notConfigured("editing dead letters is")
	}
	seq, err := seqParam(r)
	return ed, seq, err
}

func seqParam(r *http.Request) (uint64, error) {
	seq, err := strconv.ParseUint(r.PathValue("seq"), 10, 64)
	if err != nil || seq == 0 {
		return 0, fmt.Errorf("%w: dead letter %q: a positive sequence number", ErrBadRequest, r.PathValue("seq"))
	}
	return seq, nil
}

func (s *Server) editDeadLetter(w http.ResponseWriter, r *http.Request) error {
	ed, seq, err := s.deadLetterTarget(r)
	if err != nil {
		return err
	}
	b, err := s.readEvent(w, r)
	if err != nil {
		return err
	}
	id, err := ed.EditDeadLetter(r.Context(), seq, b, actorOf(r.Context()))
	if err != nil {
		return withID(id, err)
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"seq": seq, "id": id, "retried": true})
	return nil
}

func (s *Server) discardDeadLetter(w http.ResponseWriter, r *http.Request) error {
	ed, seq, err := s.deadLetterTarget(r)
	if err != nil {
		return err
	}
	if err := ed.DiscardDeadLetter(r.Context(), seq); err != nil {
		return err
	}
	s.log.Info("dead letter discarded", "seq", seq, "by", actorOf(r.Context()))
	writeJSON(w, http.StatusOK, map[string]any{"seq": seq, "discarded": true})
	return nil
}
