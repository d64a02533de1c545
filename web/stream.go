package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// heartbeatInterval keeps idle streams from being cut by proxies.
const heartbeatInterval = 15 * time.Second

func writeEvent(w io.Writer, event string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", event, b)
	return err
}

// stream is GET /api/v1/stream: Server-Sent Events of the live figures
// ("live", every LiveInterval) and of each closed history bucket
// ("sample"). A dashboard session's stream ends when it is logged out.
func (s *Server) stream(w http.ResponseWriter, r *http.Request) error {
	rc := http.NewResponseController(w)
	// The listener's WriteTimeout is for ordinary requests, not streams.
	_ = rc.SetWriteDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)

	id, _ := r.Context().Value(identityKey{}).(identity)
	live, _, lastSeq, changed := s.live.current()
	if live == nil {
		l := s.history.live(s.clusterSnapshot(r.Context()).Snapshot)
		live = &l
	}
	if writeEvent(w, "live", live) != nil || rc.Flush() != nil {
		return nil
	}
	heartbeat := time.NewTicker(heartbeatInterval)
	defer heartbeat.Stop()
	for {
		var err error
		select {
		case <-r.Context().Done():
			return nil
		case <-s.live.stopped:
			return nil
		case <-heartbeat.C:
			_, err = io.WriteString(w, ": ping\n\n")
		case <-changed:
			var sample *Sample
			var seq uint64
			live, sample, seq, changed = s.live.current()
			if id.session != nil && !s.sessionLive(r.Context(), id.session.cookie) {
				_ = writeEvent(w, "logout", map[string]string{"reason": "session ended"})
				_ = rc.Flush()
				return nil
			}
			err = writeEvent(w, "live", live)
			if err == nil && seq != lastSeq && sample != nil {
				lastSeq = seq
				err = writeEvent(w, "sample", sample)
			}
		}
		if err != nil || rc.Flush() != nil {
			return nil // the client went away
		}
	}
}

// sessionLive reports whether a stream's session is still valid; a store
// that cannot be read keeps the stream open (a NATS blip is no logout).
func (s *Server) sessionLive(ctx context.Context, cookie string) bool {
	_, ok, err := s.sessions.get(ctx, cookie, time.Now())
	return ok || err != nil
}
