package web

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/audit"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/stats"
	"github.com/prometheus/client_golang/prometheus"
)

type errBody struct {
	Error string `json:"error"`
	ID    string `json:"id"`
}

func TestHealthAndReadyNeedNoToken(t *testing.T) {
	ready := make(chan error, 1)
	ready <- nil
	e := newEnv(t, func(c *Config) {
		c.Ready = func(context.Context) error {
			select {
			case err := <-ready:
				return err
			default:
				return ErrUnavailable
			}
		}
	})
	if code, _, b := e.do(t, "GET", "/healthz", ""); code != 200 || !strings.Contains(string(b), `"ok"`) {
		t.Fatalf("healthz: %d %s", code, b)
	}
	if code, _, b := e.do(t, "GET", "/readyz", ""); code != 200 || !strings.Contains(string(b), `"ready"`) {
		t.Fatalf("readyz: %d %s", code, b)
	}
	if code, _, b := e.do(t, "GET", "/readyz", ""); code != 503 || !strings.Contains(string(b), "unavailable") {
		t.Fatalf("readyz when not ready: %d %s", code, b)
	}
}

// Every endpoint but health refuses a request without the token, or with
// a wrong one, with 401 JSON and a log line that does not hold the token.
func TestAuthRequired(t *testing.T) {
	e := newEnv(t, nil)
	endpoints := []struct{ method, path, body string }{
		{"GET", "/metrics", ""},
		{"GET", "/api/v1/stats", ""},
		{"GET", "/api/v1/history", ""},
		{"GET", "/api/v1/stream", ""},
		{"POST", "/api/v1/purge", `{"tenant":"acme","tags":["a"]}`},
		{"GET", "/api/v1/purges/p1", ""},
		{"POST", "/api/v1/events", `{"tenant":"acme","tags":["a"]}`},
		{"GET", "/api/v1/audit", ""},
		{"GET", "/api/v1/deadletters", ""},
		{"POST", "/api/v1/deadletters/1/retry", ""},
		{"GET", "/api/v1/purges", ""},
		{"POST", "/api/v1/purges/p1/retry", ""},
	}
	const wrong = "not-the-token-but-a-secret-guess"
	auths := []struct {
		name, reason string
		opts         []reqOpt
	}{
		{"missing", "missing token", nil},
		{"wrong", "wrong token", []reqOpt{bearer(wrong)}},
		{"basic", "unsupported authorization scheme", []reqOpt{header("Authorization", "Basic "+wrong)}},
		{"bad cookie", "unknown or expired session", []reqOpt{cookie(&http.Cookie{Name: SessionCookie, Value: wrong})}},
	}
	for _, ep := range endpoints {
		for _, a := range auths {
			t.Run(ep.method+ep.path+"/"+a.name, func(t *testing.T) {
				forgetFailures(e.srv) // more wrong guesses than the throttle allows
				code, h, b := e.do(t, ep.method, ep.path, ep.body, a.opts...)
				if code != http.StatusUnauthorized {
					t.Fatalf("status %d, want 401: %s", code, b)
				}
				if eb := decode[errBody](t, b); eb.Error == "" {
					t.Errorf("no error message: %s", b)
				}
				if h.Get("WWW-Authenticate") == "" {
					t.Error("no WWW-Authenticate header")
				}
				logs := e.logs.String()
				if !strings.Contains(logs, "reason=\""+a.reason+"\"") || !strings.Contains(logs, ep.path) {
					t.Errorf("no log line with reason %q for %s:\n%s", a.reason, ep.path, logs)
				}
				if strings.Contains(logs, wrong) {
					t.Errorf("the log holds the presented token:\n%s", logs)
				}
			})
		}
	}
	if strings.Contains(e.logs.String(), testToken) {
		t.Error("the log holds the admin token")
	}
}

func TestStats(t *testing.T) {
	e := newEnv(t, nil)
	e.rec.Begin("acme", "companies", "/companies/1").Hit(stats.L1)
	q := e.rec.Begin("berg", "default", "/")
	q.Miss(stats.L1)
	q.Forwarded()
	code, _, b := e.do(t, "GET", "/api/v1/stats", "", bearer(testToken))
	if code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	s := decode[stats.Snapshot](t, b)
	if s.Requests != 2 || s.HitRatio != 0.5 || s.Tenants["acme"].Layers[stats.L1].Hits != 1 {
		t.Fatalf("snapshot = %+v", s)
	}
}

func TestPurge(t *testing.T) {
	cases := []struct {
		name, path, body string
		code             int
		msg              string // in the error message
	}{
		{"tags", "/api/v1/purge", `{"tenant":"acme","tags":["company:acme"]}`, 202, ""},
		{"urls and prefixes", "/api/v1/purge", `{"tenant":"acme","urls":["/a?b=1"],"prefixes":["/companies"]}`, 202, ""},
		{"everything", "/api/v1/purge", `{"tenant":"acme","everything":true}`, 202, ""},
		{"client id", "/api/v1/purge", `{"id":"my-purge.1","tenant":"acme","tags":["x"]}`, 202, ""},
		{"unknown field", "/api/v1/purge", `{"tenant":"acme","tag":"x"}`, 400, `unknown field "tag"`},
		{"empty body", "/api/v1/purge", ``, 400, "empty body"},
		{"not JSON", "/api/v1/purge", `tenant=acme`, 400, "invalid JSON"},
		{"trailing data", "/api/v1/purge", `{"tenant":"acme","tags":["x"]} {}`, 400, "data after"},
		{"wrong type", "/api/v1/purge", `{"tenant":"acme","tags":"x"}`, 400, "invalid JSON"},
		{"no tenant", "/api/v1/purge", `{"tags":["x"]}`, 400, "tenant is required"},
		{"bad tenant", "/api/v1/purge", `{"tenant":"Acme Corp","tags":["x"]}`, 400, "tenant"},
		{"nothing named", "/api/v1/purge", `{"tenant":"acme"}`, 400, "name tags, urls, prefixes or everything"},
		{"bad tag", "/api/v1/purge", `{"tenant":"acme","tags":["a b"]}`, 400, "tag"},
		{"relative url", "/api/v1/purge", `{"tenant":"acme","urls":["companies"]}`, 400, "must be a path"},
		{"bad id", "/api/v1/purge", `{"id":"a/b","tenant":"acme","tags":["x"]}`, 400, "id"},
		{"bad wait", "/api/v1/purge?wait=soon", `{"tenant":"acme","tags":["x"]}`, 400, "wait="},
		{"too big", "/api/v1/purge", `{"tenant":"acme","tags":["` + strings.Repeat("x", 2<<20) + `"]}`, 413, "larger than"},
	}
	e := newEnv(t, nil)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, b := e.do(t, "POST", tc.path, tc.body, bearer(testToken))
			if code != tc.code {
				t.Fatalf("status %d, want %d: %s", code, tc.code, b)
			}
			if tc.code == 202 {
				if r := decode[acceptedResponse](t, b); r.ID == "" || r.Applied {
					t.Fatalf("body %s", b)
				}
				return
			}
			if eb := decode[errBody](t, b); !strings.Contains(eb.Error, tc.msg) {
				t.Fatalf("error %q does not say %q", eb.Error, tc.msg)
			}
		})
	}
	req, actor := e.purger.last()
	if req.ID != "my-purge.1" || actor != "admin:127.0.0.1" {
		t.Errorf("last purge %+v by %q", req, actor)
	}
}

func TestPurgeWait(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.WaitTimeout = 100 * time.Millisecond })
	e.purger.applied = make(chan struct{})

	code, _, b := e.do(t, "POST", "/api/v1/purge?wait=1", `{"tenant":"acme","tags":["x"]}`, bearer(testToken))
	if code != http.StatusGatewayTimeout {
		t.Fatalf("status %d, want 504: %s", code, b)
	}
	eb := decode[errBody](t, b)
	if eb.ID == "" || !strings.Contains(eb.Error, "durable") {
		t.Fatalf("504 body %s: want the id and that the purge is durable", b)
	}
	// The purge is still there to poll.
	if code, _, b := e.do(t, "GET", "/api/v1/purges/"+eb.ID, "", bearer(testToken)); code != 200 {
		t.Fatalf("state of the timed-out purge: %d %s", code, b)
	}

	close(e.purger.applied)
	code, _, b = e.do(t, "POST", "/api/v1/purge?wait=1", `{"tenant":"acme","tags":["x"]}`, bearer(testToken))
	if r := decode[acceptedResponse](t, b); code != 200 || r.ID == "" || !r.Applied || r.Targets["cloudflare"].Status != purge.StatusQueued {
		t.Fatalf("wait=1: %d %s; want applied in the layers and the CDN's state, queued", code, b)
	}
}

func TestPurgeState(t *testing.T) {
	e := newEnv(t, nil)
	_, _, b := e.do(t, "POST", "/api/v1/purge", `{"tenant":"acme","tags":["x"]}`, bearer(testToken))
	id := decode[acceptedResponse](t, b).ID

	get := func() PurgeStateResponse {
		t.Helper()
		code, _, b := e.do(t, "GET", "/api/v1/purges/"+id, "", bearer(testToken))
		if code != 200 {
			t.Fatalf("%d %s", code, b)
		}
		return decode[PurgeStateResponse](t, b)
	}
	if st := get(); st.ID != id || st.Done || st.Targets["cloudflare"].Status != purge.StatusQueued {
		t.Fatalf("fresh purge: %+v", st)
	}
	e.purger.advance(id, purge.TargetL1, purge.StatusApplied)
	e.purger.advance(id, "cloudflare", purge.StatusConfirmed)
	if st := get(); !st.Done || st.Failed {
		t.Fatalf("finished purge: %+v", st)
	}
	e.purger.advance(id, "cloudflare", purge.StatusFailed)
	if st := get(); !st.Done || !st.Failed {
		t.Fatalf("failed purge: %+v", st)
	}

	code, _, b := e.do(t, "GET", "/api/v1/purges/nope", "", bearer(testToken))
	if code != 404 || !strings.Contains(decode[errBody](t, b).Error, "not found") {
		t.Fatalf("unknown id: %d %s", code, b)
	}
	code, _, b = e.do(t, "GET", "/api/v1/purges/a%20b", "", bearer(testToken))
	if code != 400 {
		t.Fatalf("bad id: %d %s", code, b)
	}
}

func TestEvents(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.WaitTimeout = 100 * time.Millisecond })
	cases := []struct {
		name, path, body string
		code             int
		msg              string
	}{
		{"ok", "/api/v1/events", `{"id":"e1","tenant":"acme","entity":"company","key":"acme"}`, 202, ""},
		{"unknown fields are the schema's business", "/api/v1/events", `{"tenant":"acme","tags":["x"],"extra":1}`, 202, ""},
		{"not an object", "/api/v1/events", `["acme"]`, 400, "must be a JSON object"},
		{"not JSON", "/api/v1/events", `{"tenant":`, 400, "must be a JSON object"},
		{"empty", "/api/v1/events", ``, 400, "empty body"},
		{"bad event", "/api/v1/events", `{"entity":"company"}`, 400, "tenant is required"},
		{"wait applied", "/api/v1/events?wait=1", `{"id":"e2","tenant":"acme","tags":["x"]}`, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			code, _, b := e.do(t, "POST", tc.path, tc.body, bearer(testToken))
			if code != tc.code {
				t.Fatalf("status %d, want %d: %s", code, tc.code, b)
			}
			if code >= 400 {
				if eb := decode[errBody](t, b); !strings.Contains(eb.Error, tc.msg) {
					t.Fatalf("error %q does not say %q", eb.Error, tc.msg)
				}
				return
			}
			r := decode[acceptedResponse](t, b)
			if r.ID == "" || r.Applied != (code == 200) {
				t.Fatalf("body %s", b)
			}
		})
	}
	// Not durable: 503 with Retry-After, and the body says so; never the
	// 504 that promises a later apply.
	for _, path := range []string{"/api/v1/events", "/api/v1/events?wait=1"} {
		code, h, b := e.do(t, "POST", path, `{"id":"e4","tenant":"nats-down","tags":["x"]}`, bearer(testToken))
		eb := decode[errBody](t, b)
		if code != 503 || h.Get("Retry-After") == "" || eb.ID != "e4" || !strings.Contains(eb.Error, "not accepted") || strings.Contains(eb.Error, "durable and") {
			t.Fatalf("%s with NATS down: %d %v %s", path, code, h, b)
		}
	}
	e.events.block = make(chan struct{})
	code, _, b := e.do(t, "POST", "/api/v1/events?wait=1", `{"id":"e3","tenant":"acme","tags":["x"]}`, bearer(testToken))
	if eb := decode[errBody](t, b); code != 504 || eb.ID != "e3" || !strings.Contains(eb.Error, "durable") {
		t.Fatalf("wait timeout: %d %s", code, b)
	}
}

func TestAuditAndDeadLetters(t *testing.T) {
	e := newEnv(t, nil)
	e.audit.add(audit.Entry{Time: time.Now(), Actor: "event:e1", Action: "event", ID: "e1", Tenant: "acme", Tags: []string{"company:acme"}, Result: "ok"})
	e.audit.add(audit.Entry{Time: time.Now(), Actor: "admin:127.0.0.1", Action: "purge", ID: "p1", Tenant: "acme", Everything: true, Result: "queued"})
	e.dead.list = []DeadLetter{{Seq: 7, Time: time.Now(), Reason: "no tenant", Body: `{"entity":"x"}`}}

	code, _, b := e.do(t, "GET", "/api/v1/audit?limit=1", "", bearer(testToken))
	if a := decode[AuditResponse](t, b); code != 200 || len(a.Entries) != 1 || a.Entries[0].Action != "purge" {
		t.Fatalf("audit: %d %s", code, b)
	}
	for _, bad := range []string{"0", "-1", "x", "100000"} {
		if code, _, b := e.do(t, "GET", "/api/v1/audit?limit="+bad, "", bearer(testToken)); code != 400 {
			t.Errorf("limit=%s: %d %s", bad, code, b)
		}
	}
	code, _, b = e.do(t, "GET", "/api/v1/deadletters", "", bearer(testToken))
	if d := decode[DeadLettersResponse](t, b); code != 200 || len(d.DeadLetters) != 1 || d.DeadLetters[0].Reason != "no tenant" {
		t.Fatalf("dead letters: %d %s", code, b)
	}
	if code, _, b := e.do(t, "POST", "/api/v1/deadletters/7/retry", "", bearer(testToken)); code != 202 {
		t.Fatalf("retry: %d %s", code, b)
	}
	if code, _, b := e.do(t, "POST", "/api/v1/deadletters/7/retry", "", bearer(testToken)); code != 404 {
		t.Fatalf("retry again: %d %s", code, b)
	}
	if code, _, b := e.do(t, "POST", "/api/v1/deadletters/x/retry", "", bearer(testToken)); code != 400 {
		t.Fatalf("retry x: %d %s", code, b)
	}
}

func TestNotConfigured(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Events, c.Purges, c.Audit, c.DeadLetters = nil, nil, nil, nil })
	for _, ep := range []struct{ method, path, body string }{
		{"POST", "/api/v1/purge", `{"tenant":"acme","tags":["x"]}`},
		{"GET", "/api/v1/purges/p1", ""},
		{"POST", "/api/v1/events", `{"tenant":"acme"}`},
		{"GET", "/api/v1/audit", ""},
		{"GET", "/api/v1/deadletters", ""},
		{"POST", "/api/v1/deadletters/1/retry", ""},
		{"POST", "/api/v1/warm", `{"tenant":"acme","urls":["http://acme/"]}`},
		{"GET", "/api/v1/warm/w1", ""},
	} {
		code, _, b := e.do(t, ep.method, ep.path, ep.body, bearer(testToken))
		if code != 503 || !strings.Contains(decode[errBody](t, b).Error, "not configured") {
			t.Errorf("%s %s: %d %s", ep.method, ep.path, code, b)
		}
	}
}

func TestInternalErrorsHideDetails(t *testing.T) {
	e := newEnv(t, nil)
	e.purger.err = errBoom
	code, _, b := e.do(t, "POST", "/api/v1/purge", `{"tenant":"acme","tags":["x"]}`, bearer(testToken))
	if code != 500 || strings.Contains(string(b), "10.0.0.7") {
		t.Fatalf("%d %s", code, b)
	}
	if !strings.Contains(e.logs.String(), "10.0.0.7") {
		t.Errorf("the log lacks the error's details:\n%s", e.logs.String())
	}
}

func TestUnknownRoutesAnswerJSON(t *testing.T) {
	e := newEnv(t, nil)
	code, _, b := e.do(t, "GET", "/api/v1/nope", "", bearer(testToken))
	if code != 404 || !strings.Contains(decode[errBody](t, b).Error, "no such endpoint") {
		t.Fatalf("unknown path: %d %s", code, b)
	}
	code, h, b := e.do(t, "DELETE", "/api/v1/purge", "", bearer(testToken))
	if code != 405 || h.Get("Allow") != "POST" || decode[errBody](t, b).Error == "" {
		t.Fatalf("wrong method: %d %v %s", code, h, b)
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "cachegate_test_total", Help: "test"})
	reg.MustRegister(c)
	c.Add(3)
	e := newEnv(t, func(cfg *Config) { cfg.Gatherer, cfg.Registerer = reg, reg })
	e.do(t, "GET", "/api/v1/stats", "") // a 401, counted
	code, _, b := e.do(t, "GET", "/metrics", "", bearer(testToken))
	if code != 200 {
		t.Fatalf("%d %s", code, b)
	}
	for _, want := range []string{
		"cachegate_test_total 3",
		`cachegate_admin_auth_failures_total{reason="missing token"} 1`,
		`cachegate_admin_requests_total{code="401",route="GET /api/v1/stats"} 1`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %q:\n%s", want, b)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	rec := stats.New()
	cases := []struct {
		name string
		cfg  Config
		msg  string
	}{
		{"ok", Config{Token: testToken, Stats: rec}, ""},
		{"short token", Config{Token: "short", Stats: rec}, "at least"},
		{"no stats", Config{Token: testToken}, "Stats is required"},
		{"negative", Config{Token: testToken, Stats: rec, SessionTTL: -time.Second}, "SessionTTL"},
		{"window < interval", Config{Token: testToken, Stats: rec, SampleInterval: time.Minute, HistoryWindow: time.Second}, "HistoryWindow"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if tc.msg == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want %q", err, tc.msg)
			}
			if _, err := New(tc.cfg); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}

// forgetFailures clears the failed-authentication throttle.
func forgetFailures(s *Server) {
	s.throttle.mu.Lock()
	clear(s.throttle.hosts)
	s.throttle.mu.Unlock()
}
