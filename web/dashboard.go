package web

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

//go:embed assets
var assets embed.FS

// pages are the dashboard's HTML templates, parsed once.
var pages = template.Must(template.ParseFS(assets, "assets/*.html"))

// contentSecurityPolicy allows only the dashboard's own scripts and styles:
// no inline script, so an injected string cannot run.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func (s *Server) dashboardRoutes(rt *router) {
	static, _ := fs.Sub(assets, "assets/static")
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	// The assets hold no data, so the login page can use them too.
	rt.e.GET("/static/*", echo.WrapHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	})))
	page := func(h http.HandlerFunc) echo.HandlerFunc { return echo.WrapHandler(h) }
	rt.add(nil, "GET /", page(s.index))
	rt.add(nil, "GET /login", page(s.loginPage))
	rt.add(nil, "POST /login", page(s.login), s.throttleAuth, bodyLimit(loginBodyBytes))
	rt.add(nil, "POST /logout", page(s.logout), s.protected(loginBodyBytes)...)
	rt.add(nil, "POST /purge", page(s.purgeForm), s.protected(s.cfg.MaxBodyBytes)...)
}

func (s *Server) render(w http.ResponseWriter, code int, name string, data any) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		s.log.Error("admin: render page", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}

func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	_, sess, ok := s.currentSession(r)
	if !ok {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	s.render(w, http.StatusOK, "index.html", map[string]any{
		"CSRF":         sess.CSRF,
		"LiveInterval": s.cfg.LiveInterval.Milliseconds(),
	})
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, _, ok := s.currentSession(r); ok {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.render(w, http.StatusOK, "login.html", map[string]any{})
}

// login exchanges the admin token, posted in a form, for a session cookie.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	token := r.PostFormValue("token")
	var f *authFailure
	switch {
	case !sameOrigin(r):
		f = &authFailure{http.StatusForbidden, "login from another origin", "This login form was posted from another site."}
	case token == "":
		f = &authFailure{http.StatusUnauthorized, "missing token", "Enter the admin token."}
	case !s.tokenOK(token):
		f = &authFailure{http.StatusUnauthorized, reasonWrongToken, "That is not the admin token."}
	}
	if f != nil {
		s.refuse(r, f)
		s.render(w, f.code, "login.html", map[string]any{"Error": f.msg})
		return
	}
	if old, _, _ := s.currentSession(r); old != "" {
		_ = s.sessions.delete(r.Context(), old) // a stale one expires anyway
	}
	id, _, err := s.sessions.create(r.Context(), time.Now())
	if err != nil {
		s.log.Warn("admin: dashboard login not stored", "err", err)
		s.render(w, http.StatusServiceUnavailable, "login.html", map[string]any{"Error": "The session could not be stored; retry in a moment."})
		return
	}
	s.setSessionCookie(w, r, id, int(s.cfg.SessionTTL.Seconds()))
	s.log.Info("admin: dashboard login", "remote", r.RemoteAddr)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logout ends the session (the route's middleware checked it and its
// CSRF token, header or form field, so that another site cannot log an
// operator out).
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	id, _ := r.Context().Value(identityKey{}).(identity)
	if id.session == nil {
		s.fail(w, r, &authFailure{http.StatusBadRequest, "logout without a session", "not logged in"})
		return
	}
	if err := s.sessions.delete(r.Context(), id.session.cookie); err != nil {
		s.writeError(w, r, fmt.Errorf("%w: the session could not be removed: %v", ErrUnavailable, err))
		return
	}
	s.setSessionCookie(w, r, "", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
