package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// SessionCookie is the name of the dashboard's session cookie.
const SessionCookie = "cachegate_session"

// CSRFHeader carries the session's CSRF token on the dashboard's
// state-changing requests.
const CSRFHeader = "X-CSRF-Token"

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

// identity is who an authenticated request is from.
type identity struct {
	actor string
	// session is set for dashboard requests; nil for bearer tokens.
	session *sessionRef
	// tenant is set for a publish-only tenant token: it may only publish
	// events of this tenant.
	tenant string
}

// sessionRef is a request's session and its cookie, by which a live
// stream checks that it is still valid.
type sessionRef struct {
	cookie string
	Session
}

type identityKey struct{}

func actorOf(ctx context.Context) string {
	if id, ok := ctx.Value(identityKey{}).(identity); ok {
		return id.actor
	}
	return "admin"
}

func remoteHost(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

func (s *Server) tokenOK(token string) bool {
	h := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(h[:], s.tokenHash[:]) == 1
}

// authFailure is a refused request: its status, the reason logged and
// counted, and the message shown.
type authFailure struct {
	code   int
	reason string
	msg    string
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// sameOrigin reports whether a browser request comes from this listener's
// own pages, by Sec-Fetch-Site and Origin where the browser sent them: a
// second line of defence after SameSite cookies and CSRF tokens. Clients
// that are not browsers send neither and pass.
func sameOrigin(r *http.Request) bool {
	switch r.Header.Get("Sec-Fetch-Site") {
	case "", "same-origin", "none":
	default:
		return false
	}
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	if o == "null" {
		// Privacy-preserving browsers send "null"; trust it only with a
		// same-origin fetch site.
		return r.Header.Get("Sec-Fetch-Site") == "same-origin"
	}
	u, err := url.Parse(o)
	return err == nil && u.Host == r.Host
}

// authenticate checks the bearer token or, failing that, the session
// cookie; csrf checks a session's unsafe requests.
func (s *Server) authenticate(r *http.Request) (identity, *authFailure) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return identity{}, &authFailure{http.StatusUnauthorized, "unsupported authorization scheme", "use Authorization: Bearer <admin token>"}
		}
		if token = strings.TrimSpace(token); !s.tokenOK(token) {
			return s.authenticateTenantToken(r, token)
		}
		return identity{actor: "admin:" + remoteHost(r)}, nil
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return identity{}, &authFailure{http.StatusUnauthorized, "missing token", "missing admin token: send Authorization: Bearer <admin token>"}
	}
	sess, ok, err := s.sessions.get(r.Context(), c.Value, time.Now())
	if err != nil {
		s.log.Warn("admin: reading the session store", "err", err)
		return identity{}, &authFailure{http.StatusServiceUnavailable, "session store unavailable", "sessions are unavailable; use the admin token or retry"}
	}
	if !ok {
		return identity{}, &authFailure{http.StatusUnauthorized, "unknown or expired session", "session expired: log in again"}
	}
	return identity{actor: "dashboard:" + remoteHost(r), session: &sessionRef{cookie: c.Value, Session: sess}}, nil
}

// CSRFField is the form field that carries the CSRF token in the
// dashboard's plain HTML forms (the pages work without JavaScript).
const CSRFField = "csrf_token"

// checkCSRF checks an unsafe request of sess: its CSRF token, in the
// X-CSRF-Token header or a form's csrf_token field, and its origin.
func checkCSRF(r *http.Request, sess *sessionRef) *authFailure {
	got := r.Header.Get(CSRFHeader)
	if got == "" && isForm(r) {
		got = r.PostFormValue(CSRFField)
	}
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(sess.CSRF)) != 1 || !sameOrigin(r) {
		return &authFailure{http.StatusForbidden, "missing or wrong CSRF token", "missing or wrong CSRF token: reload the dashboard"}
	}
	return nil
}

func isForm(r *http.Request) bool {
	ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";")
	return strings.TrimSpace(strings.ToLower(ct)) == "application/x-www-form-urlencoded"
}

// refuse logs and counts a refused request; never the token itself.
func (s *Server) refuse(r *http.Request, f *authFailure) {
	s.log.Warn("admin: request refused", "status", f.code, "reason", f.reason,
		"method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
	s.metrics.authFailures.WithLabelValues(f.reason).Inc()
	if f.reason == reasonWrongToken { // a guess; a missing token or a stale session is not
		s.throttle.failed(remoteHost(r), time.Now())
	}
}

// reasonWrongToken is the refusal of a token that is not the admin token.
const reasonWrongToken = "wrong token"

// throttled answers 429 with Retry-After, and reports true, when r's
// address failed to authenticate too often lately.
func (s *Server) throttled(w http.ResponseWriter, r *http.Request) bool {
	wait := s.throttle.wait(remoteHost(r), time.Now())
	if wait <= 0 {
		return false
	}
	s.refuse(r, &authFailure{http.StatusTooManyRequests, "throttled", ""})
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": "too many failed attempts from your address; retry later"})
	return true
}

// fail refuses r with f's status and message.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, f *authFailure) {
	s.refuse(r, f)
	switch f.code {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="cachegate admin"`)
	case http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", strconv.Itoa(RetryAfterSeconds))
	}
	writeJSON(w, f.code, map[string]string{"error": f.msg})
}

func (s *Server) setSessionCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookie,
		Value:    value,
		Path:     "/",
		MaxAge:   maxAge,
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
		Secure:   r.TLS != nil || s.cfg.SecureCookies,
	})
}

// currentSession is the request's valid dashboard session; ok is false
// without one (or when the store cannot be read, which is logged).
func (s *Server) currentSession(r *http.Request) (cookie string, sess Session, ok bool) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return "", Session{}, false
	}
	sess, ok, err = s.sessions.get(r.Context(), c.Value, time.Now())
	if err != nil {
		s.log.Warn("admin: reading the session store", "err", err)
	}
	return c.Value, sess, ok
}
