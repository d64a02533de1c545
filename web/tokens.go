package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/cachegate/cachegate/audit"
	"github.com/cachegate/cachegate/tokens"
)

// TokenStore keeps the publish-only tenant tokens (*tokens.Store
// implements it). A tenant token authenticates only POST /api/v1/events,
// and only for events of its own tenant; every other endpoint answers it
// 403.
type TokenStore interface {
	// Authenticate returns the token presented; tokens.ErrUnknown when it
	// is not (or no longer) valid.
	Authenticate(ctx context.Context, token string) (tokens.Token, error)
	// Create makes a token of tenant and returns it with its secret form.
	Create(ctx context.Context, tenant, name string) (tokens.Token, string, error)
	// List returns the tokens, without secrets or hashes.
	List(ctx context.Context) ([]tokens.Token, error)
	// Revoke deletes token id; tokens.ErrNotFound when there is none.
	Revoke(ctx context.Context, id string) (tokens.Token, error)
}

var _ TokenStore = (*tokens.Store)(nil)

// CreateTokenRequest is the body of POST /api/v1/tokens.
type CreateTokenRequest struct {
	Tenant string `json:"tenant"`
	Name   string `json:"name,omitempty"`
}

// CreatedToken is the answer to POST /api/v1/tokens: the only time the
// secret is shown.
type CreatedToken struct {
	tokens.Token
	Secret string `json:"token"`
}

// TokensResponse is the body of GET /api/v1/tokens.
type TokensResponse struct {
	Tokens []tokens.Token `json:"tokens"`
}

// tokenRoutes registers the admin's token endpoints.
func (s *Server) tokenRoutes(api func(string, handlerFunc)) {
	api("GET /api/v1/tokens", s.listTokens)
	api("POST /api/v1/tokens", s.createToken)
	api("POST /api/v1/tokens/{id}/revoke", s.revokeToken)
}

// tokenError classifies the token store's errors.
func tokenError(err error) error {
	switch {
	case errors.Is(err, tokens.ErrInvalid):
		return fmt.Errorf("%w: %v", ErrBadRequest, err)
	case errors.Is(err, tokens.ErrNotFound):
		return fmt.Errorf("%w: %v", ErrNotFound, err)
	}
	return err
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Tokens == nil {
		return notConfigured("tenant tokens are")
	}
	b, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	var req CreateTokenRequest
	if err := decodeStrict(b, &req); err != nil {
		return err
	}
	t, secret, err := s.cfg.Tokens.Create(r.Context(), req.Tenant, req.Name)
	if err != nil {
		return tokenError(err)
	}
	s.log.Info("tenant token created", "id", t.ID, "tenant", t.Tenant, "name", t.Name, "by", actorOf(r.Context()))
	s.auditToken(r, "token.created", t)
	writeJSON(w, http.StatusCreated, CreatedToken{Token: t, Secret: secret})
	return nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Tokens == nil {
		return notConfigured("tenant tokens are")
	}
	list, err := s.cfg.Tokens.List(r.Context())
	if err != nil {
		return tokenError(err)
	}
	writeJSON(w, http.StatusOK, TokensResponse{Tokens: list})
	return nil
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Tokens == nil {
		return notConfigured("tenant tokens are")
	}
	id := r.PathValue("id")
	if err := validateID(id); err != nil {
		return err
	}
	t, err := s.cfg.Tokens.Revoke(r.Context(), id)
	if err != nil {
		return tokenError(err)
	}
	s.log.Info("tenant token revoked", "id", t.ID, "tenant", t.Tenant, "by", actorOf(r.Context()))
	s.auditToken(r, "token.revoked", t)
	writeJSON(w, http.StatusOK, map[string]any{"id": t.ID, "tenant": t.Tenant, "revoked": true})
	return nil
}

// auditRecorder is an audit log that takes entries (audit.Log does); the
// token changes go to it, so that who may publish for a tenant is on
// record beside what was published.
type auditRecorder interface {
	Record(ctx context.Context, e audit.Entry) error
}

// auditToken records a token's creation or revocation; a failure to record
// is logged, the change itself stands.
func (s *Server) auditToken(r *http.Request, action string, t tokens.Token) {
	rec, ok := s.cfg.Audit.(auditRecorder)
	if !ok {
		return
	}
	e := audit.Entry{Time: time.Now().UTC(), Actor: actorOf(r.Context()), Action: action, ID: t.ID, Tenant: t.Tenant, Result: "ok"}
	if err := rec.Record(context.WithoutCancel(r.Context()), e); err != nil {
		s.log.Warn("audit of a token change failed", "action", action, "id", t.ID, "err", err)
	}
}

// authenticateTenantToken checks a bearer token that is not the admin
// token against the tenant tokens.
func (s *Server) authenticateTenantToken(r *http.Request, token string) (identity, *authFailure) {
	if s.cfg.Tokens == nil || !tokens.IsToken(token) {
		return identity{}, &authFailure{http.StatusUnauthorized, reasonWrongToken, "wrong admin token"}
	}
	t, err := s.cfg.Tokens.Authenticate(r.Context(), token)
	switch {
	case errors.Is(err, tokens.ErrUnknown):
		return identity{}, &authFailure{http.StatusUnauthorized, reasonWrongToken, "unknown or revoked tenant token"}
	case err != nil:
		s.log.Warn("tenant token check failed", "err", err)
		return identity{}, &authFailure{http.StatusServiceUnavailable, "token store unavailable", "the token store is unavailable; retry later"}
	}
	return identity{actor: "token:" + t.ID + ":" + remoteHost(r), tenant: t.Tenant}, nil
}

// publishOnly is the refusal of a tenant token anywhere but its one
// endpoint.
func publishOnly(tenant string) *authFailure {
	return &authFailure{http.StatusForbidden, "tenant token outside its scope",
		fmt.Sprintf("this token is publish-only: it can only POST /api/v1/events for tenant %q", tenant)}
}

// checkEventTenant refuses, for a tenant token, an event of another tenant.
func checkEventTenant(ctx context.Context, obj map[string]json.RawMessage) error {
	id, _ := ctx.Value(identityKey{}).(identity)
	if id.tenant == "" {
		return nil
	}
	var tenant string
	_ = json.Unmarshal(obj["tenant"], &tenant)
	if tenant != id.tenant {
		return errorf(http.StatusForbidden, fmt.Sprintf("this token can only publish events for tenant %q, not %q", id.tenant, tenant))
	}
	return nil
}
