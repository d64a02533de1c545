package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/cachegate/cachegate/audit"
	"github.com/cachegate/cachegate/invalidation"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/stats"
)

// Bounds of list endpoints' ?limit.
const (
	DefaultListLimit = 100
	MaxIDLength      = 128
)

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyz answers 503 only when this instance cannot do its job (the
// Ready check: the event bus). A CDN that fails does not make it unready:
// the gateway still serves and invalidates its own layers, and pulling it
// from the load balancer would not bring the CDN back. The CDN's backlog
// is shown as detail instead, "degraded" while a provider fails or purges
// failed for good.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	body := map[string]any{"status": "ready"}
	if s.cfg.EventBacklog != nil {
		body["events"] = eventHealth(s.cfg.EventBacklog.EventBacklog())
	}
	if s.cfg.Backlog != nil {
		body["purges"] = s.purgeHealth(ctx)
	}
	if s.cfg.Ready != nil {
		if err := s.cfg.Ready(ctx); err != nil {
			s.log.Warn("admin: not ready", "err", err)
			body["status"], body["error"] = "not ready", err.Error()
			writeJSON(w, http.StatusServiceUnavailable, body)
			return nil
		}
	}
	writeJSON(w, http.StatusOK, body)
	return nil
}

// EventHealth is the invalidation part of /readyz. Like the CDN's, a
// backlog does not make the instance unready: it still serves, and its
// invalidations are retried until they apply.
type EventHealth struct {
	// Status is "ok", or "degraded" while an invalidation waits longer
	// than eventLagDegraded or L2 has not recorded one.
	Status string `json:"status"`
	EventBacklogSample
}

// eventLagDegraded is how old the oldest unapplied event may be before
// the backlog counts as degraded: far above a normal apply (milliseconds)
// and a sampling interval.
const eventLagDegraded = 15 * time.Second

func eventHealth(b EventBacklogSample) EventHealth {
	h := EventHealth{Status: "ok", EventBacklogSample: b}
	if b.L2Pending > 0 || b.OldestSeconds > eventLagDegraded.Seconds() {
		h.Status = "degraded"
	}
	return h
}

// PurgeHealth is the CDN part of /readyz: the backlog without the
// providers' error messages, which /readyz, unauthenticated, does not show
// (the failed-purge listing does).
type PurgeHealth struct {
	// Status is "ok", "degraded" (a provider failing, or purges failed
	// for good) or "unknown" (the backlog could not be read).
	Status string `json:"status"`
	Detail string `json:"detail,omitempty"`
	purge.Backlog
}

func (s *Server) purgeHealth(ctx context.Context) PurgeHealth {
	b, err := s.cfg.Backlog.PurgeBacklog(ctx)
	if err != nil {
		s.log.Warn("admin: purge backlog", "err", err)
		return PurgeHealth{Status: "unknown", Detail: "the purge backlog could not be read"}
	}
	h := PurgeHealth{Status: "ok", Backlog: b}
	if bad, why := b.Degraded(); bad {
		h.Status, h.Detail = "degraded", why
	}
	for name, p := range h.Providers {
		p.LastError = ""
		h.Providers[name] = p
	}
	return h
}

// StatsResponse is the body of GET /api/v1/stats: the cluster's counters
// added up, this instance's name, and every live instance's own.
type StatsResponse struct {
	stats.Snapshot
	Instance  string                    `json:"instance"`
	Instances map[string]stats.Snapshot `json:"instances"`
	// Partial says the other instances' figures could not be read: the
	// totals are this instance's alone.
	Partial bool `json:"partial,omitempty"`
}

// clusterSnapshot adds up every live instance's counters; without a
// Cluster, or when it fails, this instance's alone (Partial).
func (s *Server) clusterSnapshot(ctx context.Context) StatsResponse {
	local := s.cfg.Stats.Snapshot()
	resp := StatsResponse{Snapshot: local, Instance: s.cfg.Instance, Instances: map[string]stats.Snapshot{s.cfg.Instance: local}}
	if s.cfg.Cluster == nil {
		return resp
	}
	all, err := s.cfg.Cluster.Instances(ctx)
	if err != nil {
		s.log.Warn("admin: the other instances' stats are unavailable; showing this one's", "err", err)
		resp.Partial = true
		return resp
	}
	all[s.cfg.Instance] = local
	snaps := make([]stats.Snapshot, 0, len(all))
	for _, sn := range all {
		snaps = append(snaps, sn)
	}
	resp.Snapshot, resp.Instances = stats.Merge(snaps...), all
	return resp
}

func (s *Server) getStats(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, s.clusterSnapshot(r.Context()))
	return nil
}

// RouteTTLsResponse is the body of GET /api/v1/routes/ttl.
type RouteTTLsResponse struct {
	Routes []RouteTTL `json:"routes"`
}

// getRouteTTLs lists the "ttl: auto" routes this instance has served,
// each with its TTL and why.
func (s *Server) getRouteTTLs(w http.ResponseWriter, r *http.Request) error {
	resp := RouteTTLsResponse{Routes: []RouteTTL{}}
	if s.cfg.RouteTTLs != nil {
		resp.Routes = append(resp.Routes, s.cfg.RouteTTLs.RouteTTLs()...)
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) getHistory(w http.ResponseWriter, r *http.Request) error {
	samples := s.history.samples()
	if samples == nil {
		samples = []Sample{}
	}
	writeJSON(w, http.StatusOK, HistoryResponse{
		IntervalSeconds: s.cfg.SampleInterval.Seconds(),
		WindowSeconds:   s.cfg.HistoryWindow.Seconds(),
		Samples:         samples,
	})
	return nil
}

// readBody reads a size-limited body.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxBodyBytes))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return nil, errorf(http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", tooBig.Limit))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: reading body: %v", ErrBadRequest, err)
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, fmt.Errorf("%w: empty body: send a JSON object", ErrBadRequest)
	}
	return b, nil
}

// decodeStrict decodes one JSON value into v, refusing unknown fields and
// trailing data.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: invalid JSON body: %v", ErrBadRequest, err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("%w: invalid JSON body: data after the JSON object", ErrBadRequest)
	}
	return nil
}

// waitParam reads ?wait=1.
func waitParam(r *http.Request) (bool, error) {
	v := r.URL.Query().Get("wait")
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, fmt.Errorf("%w: wait=%q: use wait=1 or wait=0", ErrBadRequest, v)
	}
	return b, nil
}

// validateID checks a client-chosen id: it ends up in URLs and NATS
// message ids.
func validateID(id string) error {
	if len(id) > MaxIDLength {
		return fmt.Errorf("%w: id longer than %d characters", ErrBadRequest, MaxIDLength)
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("%w: id %q: only letters, digits, '-', '_' and '.'", ErrBadRequest, id)
		}
	}
	return nil
}

func notConfigured(what string) error {
	return fmt.Errorf("%w: %s not configured on this instance", ErrUnavailable, what)
}

// waitCtx bounds a ?wait=1 call by WaitTimeout.
func (s *Server) waitCtx(ctx context.Context, wait bool) (context.Context, context.CancelFunc) {
	if !wait {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, s.cfg.WaitTimeout)
}

// acceptedResponse is the body of 202 and, with wait, 200 answers.
type acceptedResponse struct {
	ID string `json:"id"`
	// Applied is true once the gateway's layers (L1, L2) applied it; it
	// says nothing of the CDN, whose providers confirm later.
	Applied bool `json:"applied,omitempty"`
	// L2Pending: a wait saw the invalidation applied to every instance's
	// L1 while L2 was unreachable; readers see the change (ErrL2Pending).
	L2Pending bool `json:"l2_pending,omitempty"`
	// Targets is, for a purge waited for, its state at every target when
	// the answer was written, the CDN providers' included: typically
	// queued or sent. Follow GET /api/v1/purges/<id> for their outcome.
	Targets map[string]purge.State `json:"targets,omitempty"`
	// Guarantee says in words what the caller got.
	Guarantee string `json:"guarantee"`
}

// writeAccepted answers a purge or event: 202 durable, 200 applied, or,
// for a wait that ended with L2 unreachable, 202 with what readers see. A
// soft one's answers say that readers may see the old content within the
// window.
func (s *Server) writeAccepted(w http.ResponseWriter, id string, wait, soft bool, err error, applied string) error {
	switch {
	case errors.Is(err, ErrL2Pending):
		g := guaranteeGuarded
		if soft {
			g = guaranteeGuardedSoft
		}
		writeJSON(w, http.StatusAccepted, acceptedResponse{ID: id, L2Pending: true, Guarantee: s.inRegion(g)})
	case err != nil:
		return withID(id, err)
	case wait:
		writeJSON(w, http.StatusOK, acceptedResponse{ID: id, Applied: true, Guarantee: s.inRegion(applied)})
	default:
		writeJSON(w, http.StatusAccepted, acceptedResponse{ID: id, Guarantee: guaranteeDurable})
	}
	return nil
}

// inRegion scopes what a wait saw to this region, when there are several:
// the coordinators that answered are this region's.
func (s *Server) inRegion(g string) string {
	if s.cfg.Region == "" {
		return g
	}
	return g + "; in region " + s.cfg.Region + " only: the other regions apply it a replication lag later, longer while their link is down"
}

// What a 202 and a 200 promise, as acceptedResponse.Guarantee says it.
const (
	guaranteeDurable = "durable: stored in JetStream; it will be applied, however long a layer is down"
	guaranteeApplied = "applied: L2 invalidated and every live instance's L1 dropped"
	guaranteePurged  = guaranteeApplied + guaranteeCDN
	guaranteeGuarded = "durable, and readers see the change: every live instance dropped its L1 copies and serves no older L2 entry; " +
		"L2 was unreachable and is invalidated as soon as it is back"
	guaranteeCDN = "; CDN providers confirm later (GET /api/v1/purges/{id})"

	// A soft invalidation keeps no read-your-writes promise: it says how
	// long the old content may still be read.
	softWindow = "readers may see the old content for up to the route's stale-while-revalidate after it, " +
		"while one refill runs; past that it is a miss"
	guaranteeAppliedSoft = "applied softly: L2 and every live instance's L1 marked it stale; " + softWindow
	guaranteePurgedSoft  = guaranteeAppliedSoft + guaranteeCDN + " (soft at Fastly, and at Varnish for tags; hard at Cloudflare)"
	guaranteeGuardedSoft = "durable, applied softly: every live instance marked its L1 copies stale (" + softWindow +
		") and serves no older L2 entry; L2 was unreachable and is invalidated as soon as it is back"
)

func (s *Server) postPurge(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Purges == nil {
		return notConfigured("purging is")
	}
	wait, err := waitParam(r)
	if err != nil {
		return err
	}
	b, err := s.readBody(w, r)
	if err != nil {
		return err
	}
	var req invalidation.Request
	if err := decodeStrict(b, &req); err != nil {
		return err
	}
	if err := validateID(req.ID); err != nil {
		return err
	}
	if err := req.Validate(); err != nil {
		return err
	}
	ctx, cancel := s.waitCtx(r.Context(), wait)
	defer cancel()
	id, err := s.cfg.Purges.Purge(ctx, req, wait, actorOf(r.Context()))
	applied := guaranteePurged
	if req.Soft {
		applied = guaranteePurgedSoft
	}
	if err != nil || !wait {
		return s.writeAccepted(w, id, wait, req.Soft, err, applied)
	}
	resp := acceptedResponse{ID: id, Applied: true, Guarantee: s.inRegion(applied)}
	// The state is a courtesy: the purge is applied whether or not it
	// can be read now.
	if st, err := s.cfg.Purges.PurgeState(r.Context(), id); err == nil {
		resp.Targets = st
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// PurgeStateResponse is the body of GET /api/v1/purges/<id>.
type PurgeStateResponse struct {
	ID string `json:"id"`
	// Targets is the state per gateway layer and CDN provider.
	Targets map[string]purge.State `json:"targets"`
	// Done is true once no target has work left (applied, confirmed or
	// failed); Failed once any target failed.
	Done   bool `json:"done"`
	Failed bool `json:"failed"`
}

func (s *Server) getPurge(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Purges == nil {
		return notConfigured("purging is")
	}
	id := r.PathValue("id")
	if err := validateID(id); err != nil {
		return err
	}
	states, err := s.cfg.Purges.PurgeState(r.Context(), id)
	if err != nil {
		return err
	}
	resp := PurgeStateResponse{ID: id, Targets: states, Done: true}
	if resp.Targets == nil {
		resp.Targets = map[string]purge.State{}
	}
	for _, st := range states {
		switch st.Status {
		case purge.StatusApplied, purge.StatusConfirmed:
		case purge.StatusFailed:
			resp.Failed = true
		default:
			resp.Done = false
		}
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// FailedPurgesResponse is the body of GET /api/v1/purges?status=failed.
type FailedPurgesResponse struct {
	Purges []purge.Failure `json:"purges"`
	// Backlog is what still waits for the CDN, with the providers' last
	// errors; absent without a CDN.
	Backlog *purge.Backlog `json:"backlog,omitempty"`
}

func (s *Server) listPurges(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.FailedPurges == nil {
		return notConfigured("the CDN purge queue is")
	}
	// Only the failed purges are listed: the others are in the audit log
	// and, by id, at /api/v1/purges/<id>.
	if st := r.URL.Query().Get("status"); st != "" && st != string(purge.StatusFailed) {
		return fmt.Errorf("%w: status=%q: only status=failed is listed", ErrBadRequest, st)
	}
	n, err := limitParam(r, audit.MaxRecent)
	if err != nil {
		return err
	}
	fails, err := s.cfg.FailedPurges.FailedPurges(r.Context(), n)
	if err != nil {
		return fmt.Errorf("listing failed purges: %w", err)
	}
	resp := FailedPurgesResponse{Purges: fails}
	if resp.Purges == nil {
		resp.Purges = []purge.Failure{}
	}
	if s.cfg.Backlog != nil {
		b, err := s.cfg.Backlog.PurgeBacklog(r.Context())
		if err != nil {
			return fmt.Errorf("reading the purge backlog: %w", err)
		}
		resp.Backlog = &b
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) retryPurge(w http.ResponseWriter, r *http.Request) error {
	return s.onFailedPurge(w, r, FailedPurges.RetryPurge, "retried")
}

func (s *Server) dismissPurge(w http.ResponseWriter, r *http.Request) error {
	return s.onFailedPurge(w, r, FailedPurges.DismissPurge, "dismissed")
}

// onFailedPurge runs op on the failed purge named in the path and answers
// 202 {"id", done: true}.
func (s *Server) onFailedPurge(w http.ResponseWriter, r *http.Request, op func(FailedPurges, context.Context, string) error, done string) error {
	if s.cfg.FailedPurges == nil {
		return notConfigured("the CDN purge queue is")
	}
	id := r.PathValue("id")
	if err := validateID(id); err != nil {
		return err
	}
	if err := op(s.cfg.FailedPurges, r.Context(), id); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"id": id, done: true})
	return nil
}

// readEvent reads an event's body. Its schema is the events package's to
// check; a body that is not even a JSON object is refused here with a
// clearer message, and so is, for a tenant token, another tenant's event.
func (s *Server) readEvent(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := s.readBody(w, r)
	if err != nil {
		return nil, err
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(b, &obj); err != nil {
		return nil, fmt.Errorf("%w: the event must be a JSON object: %v", ErrBadRequest, err)
	}
	return b, checkEventTenant(r.Context(), obj)
}

func (s *Server) postEvent(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Events == nil {
		return notConfigured("events are")
	}
	wait, err := waitParam(r)
	if err != nil {
		return err
	}
	b, err := s.readEvent(w, r)
	if err != nil {
		return err
	}
	ctx, cancel := s.waitCtx(r.Context(), wait)
	defer cancel()
	id, err := s.cfg.Events.SubmitEvent(ctx, b, wait, actorOf(r.Context()))
	// Only the answer's words depend on "soft"; a value that is not a
	// boolean is the events package's to refuse.
	var ev struct {
		Soft bool `json:"soft"`
	}
	_ = json.Unmarshal(b, &ev)
	soft := ev.Soft
	applied := guaranteeApplied
	if soft {
		applied = guaranteeAppliedSoft
	}
	return s.writeAccepted(w, id, wait, soft, err, applied)
}

// limitParam reads ?limit=N, defaulting to DefaultListLimit.
func limitParam(r *http.Request, max int) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return min(DefaultListLimit, max), nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, fmt.Errorf("%w: limit=%q: a number from 1 to %d", ErrBadRequest, v, max)
	}
	return n, nil
}

// AuditResponse is the body of GET /api/v1/audit.
type AuditResponse struct {
	Entries []audit.Entry `json:"entries"`
}

func (s *Server) getAudit(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Audit == nil {
		return notConfigured("the audit log is")
	}
	n, err := limitParam(r, audit.MaxRecent)
	if err != nil {
		return err
	}
	entries, err := s.cfg.Audit.Recent(r.Context(), n)
	if err != nil {
		return fmt.Errorf("reading the audit log: %w", err)
	}
	if entries == nil {
		entries = []audit.Entry{}
	}
	writeJSON(w, http.StatusOK, AuditResponse{Entries: entries})
	return nil
}

// DeadLettersResponse is the body of GET /api/v1/deadletters.
type DeadLettersResponse struct {
	DeadLetters []DeadLetter `json:"dead_letters"`
}

func (s *Server) getDeadLetters(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.DeadLetters == nil {
		return notConfigured("the dead-letter list is")
	}
	n, err := limitParam(r, audit.MaxRecent)
	if err != nil {
		return err
	}
	dls, err := s.cfg.DeadLetters.DeadLetters(r.Context(), n)
	if err != nil {
		return fmt.Errorf("reading dead letters: %w", err)
	}
	if dls == nil {
		dls = []DeadLetter{}
	}
	writeJSON(w, http.StatusOK, DeadLettersResponse{DeadLetters: dls})
	return nil
}

func (s *Server) retryDeadLetter(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.DeadLetters == nil {
		return notConfigured("the dead-letter list is")
	}
	seq, err := seqParam(r)
	if err != nil {
		return err
	}
	if err := s.cfg.DeadLetters.RetryDeadLetter(r.Context(), seq); err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"seq": seq, "retried": true})
	return nil
}
