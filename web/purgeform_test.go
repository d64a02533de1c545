package web

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestPurgeFormWithoutJavaScript: the dashboard's purge form posted as a
// plain HTML form (no script) purges with the session and the form's CSRF
// token, and answers a page; without the token it is refused.
func TestPurgeFormWithoutJavaScript(t *testing.T) {
	e := newEnv(t, nil)
	_, c := login(t, e, testToken)
	csrf := dashboardCSRF(t, e, c)
	form := header("Content-Type", "application/x-www-form-urlencoded")
	post := func(v url.Values) (int, string) {
		code, _, b := e.do(t, "POST", "/purge", v.Encode(), cookie(c), form)
		return code, string(b)
	}
	for _, tt := range []struct {
		name string
		form url.Values
		code int
		want string
	}{
		{"a tag", url.Values{"csrf_token": {csrf}, "tenant": {"acme"}, "kind": {"tags"}, "value": {"company:acme  company"}}, 200, `id="purge-page-id">p1<`},
		{"everything unconfirmed", url.Values{"csrf_token": {csrf}, "tenant": {"acme"}, "kind": {"everything"}}, 400, "confirmation box"},
		{"everything confirmed", url.Values{"csrf_token": {csrf}, "tenant": {"acme"}, "kind": {"everything"}, "confirm": {"everything"}}, 200, `id="purge-page-id">p2<`},
		{"no tenant", url.Values{"csrf_token": {csrf}, "kind": {"tags"}, "value": {"x"}}, 400, "Purge refused"},
		{"no CSRF token", url.Values{"tenant": {"acme"}, "kind": {"tags"}, "value": {"x"}}, 403, "CSRF"},
		{"a wrong CSRF token", url.Values{"csrf_token": {"nope"}, "tenant": {"acme"}, "kind": {"tags"}, "value": {"x"}}, 403, "CSRF"},
	} {
		code, body := post(tt.form)
		if code != tt.code || !strings.Contains(body, tt.want) {
			t.Errorf("%s: %d %s, want %d with %q", tt.name, code, body, tt.code, tt.want)
		}
	}
	req, actor := e.purger.last()
	if !req.Everything || req.Tenant != "acme" || actor != "dashboard:127.0.0.1" {
		t.Errorf("last purge %+v by %q", req, actor)
	}
	if e.purger.n != 2 {
		t.Errorf("%d purges sent, want 2", e.purger.n)
	}
	// Without a session the form is refused like the API.
	if code, _, _ := e.do(t, "POST", "/purge", url.Values{"tenant": {"acme"}}.Encode(), form); code != http.StatusUnauthorized {
		t.Errorf("the form without a session: %d", code)
	}
}
