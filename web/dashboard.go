package web

import (
	"bytes"
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"time"
)

//go:embed assets
var assets embed.FS

// pages are the dashboard's HTML templates, parsed once.
var pages = template.Must(template.ParseFS(assets, "assets/*.html"))

// contentSecurityPolicy allows only the dashboard's own scripts and styles:
// no inline script, so an injected string cannot run.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

func (s *Server) dashboardRoutes(mux *http.ServeMux) {
	static, _ := fs.Sub(assets, "assets/static")
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	// The assets hold no data, so the login page can use them too.
	mux.Handle("GET /static/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		files.ServeHTTP(w, r)
	}))
	mux.HandleFunc("GET /{$}", s.index)
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("POST /logout", s.logout)
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
	_, sess := s.currentSession(r)
	if sess == nil {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	s.render(w, http.StatusOK, "index.html", map[string]any{
		"CSRF":         sess.csrf,
		"LiveInterval": s.cfg.LiveInterval.Milliseconds(),
	})
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, sess := s.currentSession(r); sess != nil {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	s.render(w, http.StatusOK, "login.html", map[string]any{})
}

// login exchanges the admin token, posted in a form, for a session cookie.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if s.throttled(w, r) {
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
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
	if old, _ := s.currentSession(r); old != "" {
		s.sessions.delete(old)
	}
	id, _ := s.sessions.create(time.Now())
	s.setSessionCookie(w, r, id, int(s.cfg.SessionTTL.Seconds()))
	s.log.Info("admin: dashboard login", "remote", r.RemoteAddr)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// logout ends the session; it needs the CSRF token (header or form field)
// so that another site cannot log an operator out.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if r.Header.Get(CSRFHeader) == "" {
		if v := r.PostFormValue("csrf_token"); v != "" {
			r.Header.Set(CSRFHeader, v)
		}
	}
	id, f := s.authenticate(r)
	if f != nil || id.session == nil {
		if f == nil {
			f = &authFailure{http.StatusBadRequest, "logout without a session", "not logged in"}
		}
		s.refuse(r, f)
		writeJSON(w, f.code, map[string]string{"error": f.msg})
		return
	}
	cookie, _ := r.Cookie(SessionCookie)
	s.sessions.delete(cookie.Value)
	s.setSessionCookie(w, r, "", -1)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}
