package origin_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/cachegate/cachegate/demo/origin"
)

type hookCall struct{ tenant, description string }

// recorder is an OnEdit hook that remembers its calls.
type recorder struct {
	mu    sync.Mutex
	calls []hookCall
	err   error
}

func (h *recorder) onEdit(_ context.Context, tenant, description string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls = append(h.calls, hookCall{tenant, description})
	return h.err
}

func (h *recorder) list() []hookCall {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookCall(nil), h.calls...)
}

func TestEditValidation(t *testing.T) {
	hook := &recorder{}
	_, srv := server(t, origin.Config{OnEdit: hook.onEdit})
	auth := []string{"Authorization", "Bearer demo-editor"}
	asJSON := append([]string{"Content-Type", "application/json"}, auth...)
	asForm := append([]string{"Content-Type", "application/x-www-form-urlencoded"}, auth...)
	tests := []struct {
		name   string
		body   string
		hdr    []string
		status int
		errHas string
	}{
		{"no authorization", `{"description":"x"}`, []string{"Content-Type", "application/json"}, 401, "Authorization"},
		{"cookie is not enough", `{"description":"x"}`, []string{"Content-Type", "application/json", "Cookie", "sessionid=a"}, 401, "Authorization"},
		{"empty", `{"description":""}`, asJSON, 400, "empty"},
		{"blank", `{"description":"  \n\t "}`, asJSON, 400, "empty"},
		{"missing field", `{"text":"x"}`, asJSON, 400, `no "description"`},
		{"too long", `{"description":"` + strings.Repeat("ä", 2001) + `"}`, asJSON, 400, "2001 characters"},
		{"bad json", `{"description":`, asJSON, 400, "bad JSON"},
		{"bad locale", `{"description":"x","locale":"fr"}`, asJSON, 400, `locale "fr"`},
		{"body too large", `{"description":"` + strings.Repeat("a", 70<<10) + `"}`, asJSON, 413, "too large"},
		{"other content type", `x`, append([]string{"Content-Type", "text/plain"}, auth...), 415, "JSON or as a form"},
		{"empty form", `description=`, asForm, 400, "empty"},
		{"long form", "description=" + strings.Repeat("b", 2001), asForm, 400, "limit is 2000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, srv, http.MethodPost, "acme.localhost", "/edit", strings.NewReader(tt.body), tt.hdr...)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			msg := r.body
			if tt.hdr[1] == "application/json" {
				var e struct{ Error string }
				if err := json.Unmarshal([]byte(r.body), &e); err != nil || r.header.Get("Content-Type") != "application/json" {
					t.Fatalf("a JSON request got %q %q", r.header.Get("Content-Type"), r.body)
				}
				msg = e.Error
			}
			if !strings.Contains(msg, tt.errHas) {
				t.Errorf("message %q lacks %q", msg, tt.errHas)
			}
		})
	}
	if calls := hook.list(); len(calls) != 0 {
		t.Fatalf("OnEdit called for rejected edits: %v", calls)
	}
	if r := get(t, srv, "acme.localhost", "/"); marker(t, versionRE, r.body) != 1 {
		t.Fatal("a rejected edit changed the version")
	}
}

func TestEditAppliesAndCallsHook(t *testing.T) {
	hook := &recorder{}
	_, srv := server(t, origin.Config{OnEdit: hook.onEdit})
	before := get(t, srv, "acme.localhost", "/", "Accept-Language", "en")
	maxLen := strings.Repeat("ö", origin.MaxDescription)

	tests := []struct {
		name, body, contentType, acceptLang string
		status                              int
		locale, want                        string
	}{
		{"json en", `{"description":"  Now with 3D printing.  "}`, "application/json", "", 200, "en", "Now with 3D printing."},
		{"json locale field", `{"description":"Jetzt mit 3D-Druck.","locale":"de"}`, "application/json", "en", 200, "de", "Jetzt mit 3D-Druck."},
		{"json locale from accept-language", `{"description":"Neu: Lasercutting."}`, "application/json; charset=utf-8", "de-AT", 200, "de", "Neu: Lasercutting."},
		{"form", url.Values{"description": {"Form <edit> & more"}}.Encode(), "application/x-www-form-urlencoded", "", 303, "en", "Form <edit> & more"},
		{"longest allowed", `{"description":"` + maxLen + `"}`, "application/json", "en", 200, "en", maxLen},
	}
	version := 1
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, srv, http.MethodPost, "acme.localhost", "/edit", strings.NewReader(tt.body),
				"Authorization", "Bearer demo-editor", "Content-Type", tt.contentType, "Accept-Language", tt.acceptLang)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d: %s", r.status, tt.status, r.body)
			}
			version++
			if tt.status == 303 {
				if r.header.Get("Location") != "/" {
					t.Errorf("Location %q", r.header.Get("Location"))
				}
			} else {
				var res origin.EditResult
				if err := json.Unmarshal([]byte(r.body), &res); err != nil {
					t.Fatal(err)
				}
				if res != (origin.EditResult{Tenant: "acme", Locale: tt.locale, Description: tt.want, Version: int64(version), Applied: true}) {
					t.Errorf("result %+v", res)
				}
			}
			calls := hook.list()
			if last := calls[len(calls)-1]; last != (hookCall{"acme", tt.want}) {
				t.Errorf("OnEdit got %+v, want acme %q", last, tt.want)
			}
			page := get(t, srv, "acme.localhost", "/", "Accept-Language", tt.locale)
			escaped := strings.NewReplacer("<", "&lt;", ">", "&gt;", "&", "&amp;").Replace(tt.want)
			if !strings.Contains(page.body, escaped) {
				t.Errorf("profile (%s) does not show the edit", tt.locale)
			}
			if v := marker(t, versionRE, page.body); v != version {
				t.Errorf("version %d, want %d", v, version)
			}
			list := get(t, srv, "acme.localhost", "/companies", "Accept-Language", tt.locale)
			if !strings.Contains(list.body, escaped) {
				t.Errorf("listing (%s) does not show the edit", tt.locale)
			}
		})
	}
	after := get(t, srv, "acme.localhost", "/", "Accept-Language", "en")
	if after.header.Get("ETag") == before.header.Get("ETag") {
		t.Error("ETag unchanged by edits")
	}
	if r := get(t, srv, "acme.localhost", "/", "Accept-Language", "en", "If-None-Match", before.header.Get("ETag")); r.status != 200 {
		t.Errorf("the pre-edit ETag still validates: %d", r.status)
	}
	if r := get(t, srv, "acme.localhost", "/", "If-Modified-Since", before.header.Get("Last-Modified")); r.status != 200 {
		t.Errorf("the pre-edit Last-Modified still validates: %d (edits must move it forward)", r.status)
	}
	if r := get(t, srv, "berg.localhost", "/"); marker(t, versionRE, r.body) != 1 {
		t.Error("an edit of acme changed berg")
	}
}

func TestEditHookFailure(t *testing.T) {
	hook := &recorder{err: errors.New("nats: timeout")}
	_, srv := server(t, origin.Config{OnEdit: hook.onEdit})
	r := do(t, srv, http.MethodPost, "berg.localhost", "/edit", strings.NewReader(`{"description":"Neu"}`),
		"Authorization", "Bearer x", "Content-Type", "application/json")
	if r.status != http.StatusBadGateway || !strings.Contains(r.body, "nats: timeout") || !strings.Contains(r.body, "saved") {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if page := get(t, srv, "berg.localhost", "/"); !strings.Contains(page.body, "Neu") {
		t.Fatal("the edit was not kept")
	}
}

// A change announced durably but not applied everywhere (a layer is
// down) is a saved edit: 200, the saved text, and the note that says what
// the editor can expect; a failed announcement is a 502 whose body still
// shows the saved text.
func TestEditAnnouncedNotYetApplied(t *testing.T) {
	for _, tc := range []struct {
		err     error
		status  int
		applied bool
		note    string
	}{
		{nil, 200, true, ""},
		{fmt.Errorf("%w: Redis is unreachable", origin.ErrNotYetApplied), 200, false, "saved: announced, not yet applied everywhere: Redis is unreachable"},
		{errors.New("not accepted"), 502, false, "announcing the change failed"},
	} {
		hook := &recorder{err: tc.err}
		_, srv := server(t, origin.Config{OnEdit: hook.onEdit})
		r := do(t, srv, http.MethodPost, "berg.localhost", "/edit", strings.NewReader(`{"description":"Neu"}`),
			"Authorization", "Bearer x", "Content-Type", "application/json")
		var res origin.EditResult
		if err := json.Unmarshal([]byte(r.body), &res); err != nil {
			t.Fatalf("%v: %d %s", tc.err, r.status, r.body)
		}
		if r.status != tc.status || res.Description != "Neu" || res.Applied != tc.applied || !strings.Contains(res.Note, tc.note) {
			t.Errorf("hook error %v: %d %+v", tc.err, r.status, res)
		}
	}
}

func TestEditForm(t *testing.T) {
	_, srv := server(t, origin.Config{})
	if r := get(t, srv, "acme.localhost", "/edit"); r.status != 401 {
		t.Fatalf("anonymous edit form: %d", r.status)
	}
	r := get(t, srv, "acme.localhost", "/edit", "Authorization", "Basic ZWQ6cHc=", "Accept-Language", "de")
	if r.status != 200 || r.header.Get("Cache-Control") != "no-store" || !strings.Contains(r.body, `name="description"`) || !strings.Contains(r.body, "Speichern") {
		t.Fatalf("%d %v\n%s", r.status, r.header, r.body)
	}
}

func TestEditHookOutlivesTheEditor(t *testing.T) {
	started, finish, hookErr := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	o, err := origin.New(origin.Config{Latency: -1, OnEdit: func(ctx context.Context, _, _ string) error {
		close(started)
		<-finish
		hookErr <- ctx.Err()
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	req := httptest.NewRequest("POST", "http://acme.localhost/edit", strings.NewReader(`{"description":"x"}`)).WithContext(ctx)
	req.Header.Set("Authorization", "Bearer e")
	req.Header.Set("Content-Type", "application/json")
	go o.Handler().ServeHTTP(httptest.NewRecorder(), req)
	<-started
	cancel() // the editor closes the tab while the change is announced
	close(finish)
	if err := <-hookErr; err != nil {
		t.Fatalf("the hook's context was cancelled with the request: %v", err)
	}
}
