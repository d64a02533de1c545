package web

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/cachegate/cachegate/internal/requestid"
)

// loginBodyBytes bounds the login and logout forms: a token and a CSRF
// token, far below the API's MaxBodyBytes.
const loginBodyBytes = 64 << 10

// router is the admin listener's routing on echo: groups carry the
// middleware (request id, metrics, recovery for all; throttling,
// authentication, CSRF and body limits for the API), while handlers stay
// plain net/http functions that return errors, testable without echo.
type router struct {
	e   *echo.Echo
	api *echo.Group
	// patterns maps echo's "METHOD /path/:id" to the route pattern
	// "METHOD /path/{id}" that metrics label requests with (bounded: never
	// the raw path, which a client chooses).
	patterns map[string]string
}

func (s *Server) newRouter() *router {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	rt := &router{e: e, patterns: map[string]string{}}
	e.HTTPErrorHandler = s.echoError(rt)
	e.Use(s.requestID, s.countRequests(rt), middleware.RecoverWithConfig(middleware.RecoverConfig{
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			s.log.Error("admin: handler panicked", "path", c.Request().URL.Path, "err", err, "stack", string(stack))
			return err
		},
	}))
	rt.api = e.Group("/api/v1", s.protected(s.cfg.MaxBodyBytes)...)
	return rt
}

// echoPath turns "/purges/{id}" into echo's "/purges/:id".
func echoPath(p string) string {
	parts := strings.Split(p, "/")
	for i, seg := range parts {
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			parts[i] = ":" + strings.TrimSuffix(strings.TrimPrefix(seg, "{"), "}")
		}
	}
	return strings.Join(parts, "/")
}

// add registers h on g (nil: the root) under pattern "METHOD /full/path".
func (rt *router) add(g *echo.Group, pattern string, h echo.HandlerFunc, mw ...echo.MiddlewareFunc) {
	method, path, _ := strings.Cut(pattern, " ")
	full := echoPath(path)
	methods := []string{method}
	if method == http.MethodGet {
		// As net/http's ServeMux does: a GET route answers HEAD (a load
		// balancer's health check), the server dropping the body.
		methods = append(methods, http.MethodHead)
	}
	for _, m := range methods {
		rt.patterns[m+" "+full] = pattern
		if g == nil {
			rt.e.Add(m, full, h, mw...)
		} else {
			g.Add(m, strings.TrimPrefix(full, "/api/v1"), h, mw...)
		}
	}
}

// allowed lists the methods registered for r's path. echo answers 404, not
// 405, when a group's catch-all (which runs the group's middleware on
// unknown paths) matches, so the router is asked once per method.
func (rt *router) allowed(r *http.Request) []string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost} {
		if m == r.Method {
			continue
		}
		probe := r.Clone(r.Context())
		probe.Method = m
		c := rt.e.NewContext(probe, nil)
		rt.e.Router().Find(m, echo.GetPath(probe), c)
		if _, ok := rt.patterns[m+" "+c.Path()]; ok {
			allow = append(allow, m)
		}
	}
	return allow
}

// wrap adapts a net/http handler that returns an error to echo: the path
// parameters are given to it as r.PathValue, and its error goes to
// echoError.
func wrap(h handlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		for i, name := range c.ParamNames() {
			v := c.ParamValues()[i]
			if u, err := url.PathUnescape(v); err == nil {
				v = u
			}
			r.SetPathValue(name, v)
		}
		return h(c.Response(), r)
	}
}

// echoError renders every error, the handlers' and echo's own (no route,
// wrong method, a panic), as the API's JSON error.
func (s *Server) echoError(rt *router) func(error, echo.Context) {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			s.log.Debug("admin: error after the response started", "path", c.Request().URL.Path, "err", err)
			return
		}
		r := c.Request()
		var he *echo.HTTPError
		if errors.As(err, &he) {
			allow := rt.allowed(r)
			switch {
			case he.Code != http.StatusNotFound && he.Code != http.StatusMethodNotAllowed:
				err = errorf(he.Code, fmt.Sprint(he.Message))
			case len(allow) > 0:
				c.Response().Header()["Allow"] = allow
				err = errorf(http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s", r.Method, r.URL.Path))
			default:
				err = errorf(http.StatusNotFound, fmt.Sprintf("no such endpoint: %s", r.URL.Path))
			}
		}
		s.writeError(c.Response(), r, err)
	}
}

// requestID keeps the client's valid X-Request-Id or makes one, returns it
// and logs it with errors.
func (s *Server) requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := requestid.FromClient(c.Request().Header.Get(requestid.Header))
		c.Response().Header().Set(requestid.Header, id)
		c.SetRequest(c.Request().WithContext(context.WithValue(c.Request().Context(), requestIDKey{}, id)))
		return next(c)
	}
}

type requestIDKey struct{}

func requestIDOf(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// countRequests counts requests by route pattern and final status, errors
// rendered included.
func (s *Server) countRequests(rt *router) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if err := next(c); err != nil {
				c.Error(err)
			}
			pattern, ok := rt.patterns[c.Request().Method+" "+c.Path()]
			if !ok {
				pattern = "unmatched"
			}
			code := c.Response().Status
			s.metrics.requests.WithLabelValues(pattern, fmt.Sprint(code)).Inc()
			return nil
		}
	}
}

// bodyLimit bounds request bodies; readBody reports the overflow as 413.
func bodyLimit(n int64) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			if r.Body != nil {
				r.Body = http.MaxBytesReader(c.Response(), r.Body, n)
			}
			return next(c)
		}
	}
}

// throttleAuth refuses, with 429 and Retry-After, an address that failed
// to authenticate too often lately, before its token is looked at.
func (s *Server) throttleAuth(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.throttled(c.Response(), c.Request()) {
			return nil
		}
		return next(c)
	}
}

// protected is the middleware of every authenticated route, bodies
// limited to maxBody.
func (s *Server) protected(maxBody int64) []echo.MiddlewareFunc {
	return []echo.MiddlewareFunc{s.throttleAuth, bodyLimit(maxBody), s.authenticated, s.csrf, s.tenantScope}
}

// tenantScope refuses a publish-only tenant token everywhere but the
// routes registered as publishable (POST /api/v1/events), whose handler
// checks the tenant of what it sends.
func (s *Server) tenantScope(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		id, _ := r.Context().Value(identityKey{}).(identity)
		if id.tenant != "" && !s.publishable[r.Method+" "+c.Path()] {
			s.fail(c.Response(), r, publishOnly(id.tenant))
			return nil
		}
		return next(c)
	}
}

// authenticated lets through a request with the admin token or a dashboard
// session, and puts who it is in its context for actorOf.
func (s *Server) authenticated(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		id, f := s.authenticate(r)
		if f != nil {
			s.fail(c.Response(), r, f)
			return nil
		}
		c.SetRequest(r.WithContext(context.WithValue(r.Context(), identityKey{}, id)))
		return next(c)
	}
}

// csrf refuses a dashboard session's unsafe request without the session's
// CSRF token (X-CSRF-Token, or the csrf_token field of a plain HTML form)
// or from another origin. Bearer-token requests carry no ambient
// credentials and pass.
func (s *Server) csrf(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		id, _ := r.Context().Value(identityKey{}).(identity)
		if id.session == nil || safeMethod(r.Method) {
			return next(c)
		}
		if f := checkCSRF(r, id.session); f != nil {
			s.fail(c.Response(), r, f)
			return nil
		}
		return next(c)
	}
}
