package web

import (
	"context"
	"net/http"

	"github.com/cachegate/cachegate/gateway"
)

// Warmer starts on-demand warm jobs and reports their progress (the
// gateway behind an adapter).
type Warmer interface {
	// StartWarm starts warming urls (absolute) of tenant in the
	// background and returns the job's id; bad input is an error wrapping
	// ErrBadRequest.
	StartWarm(ctx context.Context, tenant string, urls []string, actor string) (id string, err error)
	// WarmProgress returns job id's progress; an unknown id is an error
	// wrapping ErrNotFound.
	WarmProgress(ctx context.Context, id string) (gateway.WarmProgress, error)
}

// WarmRequest is the body of POST /api/v1/warm.
type WarmRequest struct {
	Tenant string   `json:"tenant"`
	URLs   []string `json:"urls"`
}

// WarmAccepted is the answer to POST /api/v1/warm: follow Status for the
// progress.
type WarmAccepted struct {
	ID     string `json:"id"`
	Total  int    `json:"total"`
	Status string `json:"status"`
}

func (s *Server) postWarm(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Warm == nil {
		return notConfigured("warming is")
	}
	b, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	var req WarmRequest
	if err := decodeStrict(b, &req); err != nil {
		return err
	}
	id, err := s.cfg.Warm.StartWarm(r.Context(), req.Tenant, req.URLs, actorOf(r.Context()))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, WarmAccepted{ID: id, Total: len(req.URLs), Status: "/api/v1/warm/" + id})
	return nil
}

func (s *Server) getWarm(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Warm == nil {
		return notConfigured("warming is")
	}
	id := r.PathValue("id")
	if err := validateID(id); err != nil {
		return err
	}
	p, err := s.cfg.Warm.WarmProgress(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}
