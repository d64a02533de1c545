// Package web owns cachegate's admin listener: the JSON admin API of the
// contract (/healthz, /readyz, /metrics, /api/v1/...), the operator's
// dashboard at / (embedded assets, no build step), authentication by the
// admin token or a dashboard session with CSRF protection, and the
// in-memory history of hit ratios that the dashboard charts.
//
// web never imports the gateway, the events coordinator or the purge
// queue: it reads and acts through the small interfaces declared in
// deps.go, with plain types, and the binary wires adapters to them.
//
// # Endpoints
//
// /readyz answers 503 only when the instance cannot do its job (Ready).
// A failing CDN leaves it 200: the gateway still serves and invalidates
// its own layers, and pulling it from the load balancer would not bring
// the CDN back. Its "purges" detail (PurgeHealth) then says "degraded",
// with the backlog, its oldest age and the failing providers.
//
// Unauthenticated: GET /healthz, GET /readyz, the login page and the
// dashboard's static assets (code only, no data). Everything else needs
// Authorization: Bearer <token>, or the dashboard's session cookie plus,
// on POSTs, the session's CSRF token in X-CSRF-Token (or, from a plain
// HTML form, its csrf_token field):
//
//	GET  /metrics                         Prometheus, from Config.Gatherer
//	GET  /api/v1/openapi.json             this list as an OpenAPI 3.1 document (openapi.json; the
//	                                      tests hold it to the registered routes and real answers)
//	GET  /api/v1/stats                    StatsResponse: every live instance's counters added up (Cluster),
//	                                      and each instance's own
//	GET  /api/v1/health/prefix?prefix=/p  PrefixHealth: the cluster's hit ratio under a path's first segment
//	                                      over a window; 200, or 503 below min_hit_ratio
//	GET  /api/v1/cdn/stats                CDNStatsResponse: the CDN's own hit ratio from the providers' analytics
//	GET  /api/v1/history                  the last hour in buckets (HistoryResponse)
//	GET  /api/v1/routes/ttl               RouteTTLsResponse: each ttl: auto route's TTL, bounds, evidence and why
//	GET  /api/v1/stream                   Server-Sent Events: "live" (Live), "sample" (Sample), "logout"
//	POST /api/v1/purge[?wait=1]           invalidation.Request → 202 {"id"} | 200 {"id","applied":true,"targets"} | 504 {"error","id"}
//	                                      (applied: in the gateway's layers; targets: every layer's and
//	                                      CDN provider's state then; the CDN confirms later)
//	GET  /api/v1/purges[?status=failed]   FailedPurgesResponse: purges a CDN refused for good, and the backlog
//	GET  /api/v1/purges/{id}              PurgeStateResponse
//	POST /api/v1/purges/{id}/retry        202: the failed providers of purge id get it again
//	POST /api/v1/purges/{id}/dismiss      202: forget purge id's failures without retrying
//	POST /api/v1/events[?wait=1]          an event's JSON → as for purges
//	GET  /api/v1/audit[?limit=N]          AuditResponse, newest first
//	GET  /api/v1/deadletters[?limit=N]    DeadLettersResponse
//	POST /api/v1/deadletters/{seq}/retry  202
//	POST /api/v1/deadletters/{seq}/edit   a corrected event → 202 {"seq","id"}: published as a new event, the dead letter dropped
//	POST /api/v1/deadletters/{seq}/discard 200: dropped without retrying
//	GET  /api/v1/tokens                   TokensResponse: the tenant tokens, never their secrets
//	POST /api/v1/tokens                   CreateTokenRequest → 201 CreatedToken (the secret, shown once)
//	POST /api/v1/tokens/{id}/revoke       200: revoked on every instance
//	GET  /api/v1/inspect?url=U[&header=H:V] what each layer of this instance holds for U (gateway.Inspection)
//	GET  /api/v1/keys?tenant=T&tag=T[&limit=N] KeysResponse: this instance's L1 keys carrying the tag
//	GET  /api/v1/version                  VersionInfo
//	GET /, GET+POST /login, POST /logout  the dashboard
//	POST /purge                           the dashboard's purge form without JavaScript: a page answers
//
// A publish-only tenant token (TokenStore, "cgt_..." tokens) is accepted
// only by POST /api/v1/events, and only for an event whose tenant is the
// token's: anything else answers 403 with what the token may do. A token
// that is unknown or revoked is a wrong token (401, counted by the login
// throttle).
//
// The actor passed to Purger and EventSubmitter, for the audit log, is
// "admin:<client IP>" for a bearer token, "token:<id>:<client IP>" for a
// tenant token and "dashboard:<client IP>" for a dashboard session.
//
// # Errors
//
// Handlers return errors and one adapter renders them as
// {"error": "message"} with a status code. Adapters behind the interfaces
// classify their errors by wrapping the sentinels of this package:
//
//   - ErrBadRequest (and invalidation.ErrInvalid) → 400, the message shown
//     as is: it must say what is wrong with the request, and carry no
//     secret.
//   - ErrNotFound → 404 (an unknown purge id, dead letter).
//   - ErrTimeout (or context.DeadlineExceeded) on a ?wait=1 call → 504
//     with the id of the purge or event, which is still durable and will
//     be applied later.
//   - ErrUnavailable → 503 (a dependency is down).
//
// Any other error is a 500 whose details go to the log, not to the client.
//
// # Routing
//
// The admin listener is an echo v4 application (router.go): the API is one
// group whose middleware throttles failed logins per address, limits
// bodies, authenticates and checks CSRF; every route has request ids
// (X-Request-Id, kept when valid, returned), metrics by route pattern and
// recovery from panics. Handlers stay plain net/http functions that return
// errors (r.PathValue gives the path parameters), so they are testable
// without echo, and one error handler renders every error, echo's 404 and
// 405 included. Adding an endpoint is one line in register.
//
// Sessions live in a SessionStore: by default a bounded in-memory map
// (one instance; a restart logs them out), in a cluster a JetStream
// bucket (sessionkv) so that a login works on every instance and a logout
// ends it everywhere. The stats shown are the cluster's when a Cluster is
// given (statskv). The chart is a few lines of SVG, so the dashboard ships
// without a JavaScript toolchain or framework.
package web
