package cloudflare_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/purge/cloudflare"
	"github.com/cachegate/cachegate/purge/cloudflare/cloudflarefake"
)

const token = "cf-secret-token-0123456789"

func newPurger(t *testing.T, fake *cloudflarefake.Server, tok string, log *slog.Logger) *cloudflare.Purger {
	t.Helper()
	p, err := cloudflare.New(cloudflare.Config{
		APIToken: tok, BaseURL: fake.URL(), HTTPClient: &http.Client{Timeout: 2 * time.Second}, Logger: log,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPurgeBodies(t *testing.T) {
	fake := cloudflarefake.New(token)
	defer fake.Close()
	p := newPurger(t, fake, token, nil)
	tests := []struct {
		name  string
		batch purge.Batch
		kind  string
		items []string
	}{
		{"tags", purge.Batch{Zone: "z1", Tags: []string{"acme:company:acme", "acme:gallery:acme"}}, "tags", []string{"acme:company:acme", "acme:gallery:acme"}},
		{"hosts", purge.Batch{Zone: "z1", Hosts: []string{"acme.example.com"}}, "hosts", []string{"acme.example.com"}},
		{"prefixes", purge.Batch{Zone: "z1", Prefixes: []string{"acme.example.com/docs"}}, "prefixes", []string{"acme.example.com/docs"}},
		{"files", purge.Batch{Zone: "z1", URLs: []string{"https://acme.example.com/a?b=1"}}, "files", []string{"https://acme.example.com/a?b=1"}},
		{"everything", purge.Batch{Zone: "z2", Everything: true}, "purge_everything", nil},
	}
	for i, tt := range tests {
		if err := p.Purge(t.Context(), tt.batch); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		c := fake.Calls()[i]
		if c.Kind != tt.kind || c.Zone != tt.batch.Zone || strings.Join(c.Items, " ") != strings.Join(tt.items, " ") || !c.Success {
			t.Errorf("%s: call %+v", tt.name, c)
		}
		if c.Auth != "Bearer "+token {
			t.Errorf("%s: auth %q", tt.name, c.Auth)
		}
	}
	// Mixed kinds go out as one call per kind: the API takes one.
	if err := p.Purge(t.Context(), purge.Batch{Zone: "z1", Tags: []string{"a"}, URLs: []string{"https://h.example/x"}}); err != nil {
		t.Fatal(err)
	}
	if n := len(fake.Calls()); n != len(tests)+2 {
		t.Errorf("%d calls, want %d", n, len(tests)+2)
	}
}

func TestErrorMapping(t *testing.T) {
	type want int
	const (
		ok want = iota
		retryAfter
		temporary
		permanent
	)
	tests := []struct {
		name  string
		fault *cloudflarefake.Fault
		batch purge.Batch
		tok   string
		want  want
		after time.Duration
		say   string
	}{
		{name: "ok", want: ok},
		{name: "429", fault: &cloudflarefake.Fault{Status: 429, RetryAfter: "7", Code: 971, Message: "throttled"}, want: retryAfter, after: 7 * time.Second, say: "971"},
		{name: "429 without Retry-After", fault: &cloudflarefake.Fault{Status: 429}, want: retryAfter},
		{name: "500", fault: &cloudflarefake.Fault{Status: 500, Code: 10000, Message: "internal"}, want: temporary, say: "HTTP 500"},
		{name: "502 html", fault: &cloudflarefake.Fault{Status: 502, HTMLBody: true}, want: temporary, say: "HTTP 502"},
		{name: "success false", fault: &cloudflarefake.Fault{Status: 200, Code: 1134, Message: "purge backend unavailable"}, want: temporary, say: "code 1134"},
		{name: "bad token", tok: "wrong", want: permanent, say: "HTTP 403"},
		{name: "too many tags", batch: purge.Batch{Zone: "z", Tags: make101()}, want: permanent, say: "HTTP 400"},
		{name: "tag not printable", batch: purge.Batch{Zone: "z", Tags: []string{"a\x01"}}, want: permanent, say: "printable"},
		{name: "no zone", batch: purge.Batch{Tags: []string{"a"}}, want: permanent},
		{name: "hang", fault: &cloudflarefake.Fault{Hang: true}, want: temporary},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := cloudflarefake.New(token)
			defer fake.Close()
			tok := tt.tok
			if tok == "" {
				tok = token
			}
			p := newPurger(t, fake, tok, nil)
			if tt.fault != nil {
				fake.Fail(*tt.fault)
			}
			b := tt.batch
			if b.Zone == "" && b.Tags == nil {
				b = purge.Batch{Zone: "z", Tags: []string{"acme:x"}}
			}
			ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
			defer cancel()
			err := p.Purge(ctx, b)
			var ra *purge.RetryAfterError
			switch tt.want {
			case ok:
				if err != nil {
					t.Fatalf("err %v", err)
				}
			case retryAfter:
				if !errors.As(err, &ra) || ra.After != tt.after {
					t.Fatalf("err %v, want RetryAfterError after %v", err, tt.after)
				}
			case temporary:
				if err == nil || errors.Is(err, purge.ErrPermanent) || errors.As(err, &ra) {
					t.Fatalf("err %v, want a temporary error", err)
				}
			case permanent:
				if !errors.Is(err, purge.ErrPermanent) {
					t.Fatalf("err %v, want ErrPermanent", err)
				}
			}
			if err != nil && !strings.Contains(err.Error(), tt.say) {
				t.Errorf("err %q does not say %q", err, tt.say)
			}
			if err != nil && strings.Contains(err.Error(), tok) {
				t.Errorf("err %q carries the token", err)
			}
		})
	}
}

func make101() []string {
	out := make([]string, 101)
	for i := range out {
		out[i] = "t"
	}
	return out
}

// TestTokenNeverLogged: PITFALLS 12, at debug level, on success and on
// every kind of failure.
func TestTokenNeverLogged(t *testing.T) {
	fake := cloudflarefake.New(token)
	defer fake.Close()
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p := newPurger(t, fake, token, log)
	fake.Fail(cloudflarefake.Fault{Status: 429, RetryAfter: "1"}, cloudflarefake.Fault{Status: 500}, cloudflarefake.Fault{Status: 200, Code: 1})
	for range 4 {
		_ = p.Purge(t.Context(), purge.Batch{Zone: "z", Tags: []string{"a"}})
	}
	bad := newPurger(t, fake, token+"x", log)
	_ = bad.Purge(t.Context(), purge.Batch{Zone: "z", Tags: []string{"a"}})
	if buf.Len() == 0 {
		t.Fatal("nothing logged at debug level: the test proves nothing")
	}
	if strings.Contains(buf.String(), token) {
		t.Fatalf("the API token is in the log:\n%s", buf.String())
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  cloudflare.Config
		ok   bool
	}{
		{"ok", cloudflare.Config{APIToken: "t"}, true},
		{"no token", cloudflare.Config{}, false},
		{"bad name", cloudflare.Config{APIToken: "t", Name: "a.b"}, false},
		{"bad url", cloudflare.Config{APIToken: "t", BaseURL: "ftp://x"}, false},
		{"negative limit", cloudflare.Config{APIToken: "t", Limits: purge.Limits{TagsPerCall: -1}}, false},
	}
	for _, tt := range tests {
		if err := tt.cfg.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate() = %v", tt.name, err)
		}
	}
	p, _ := cloudflare.New(cloudflare.Config{APIToken: "t", Limits: purge.Limits{URLsPerCall: 30}})
	if l := p.Limits(); l.TagsPerCall != 100 || l.URLsPerCall != 30 || l.MaxTagLength != 1024 || p.Name() != "cloudflare" {
		t.Errorf("limits %+v name %q", l, p.Name())
	}
}

// TestOnlyCacheAndOptionPackages keeps the SDK's root package (hundreds
// of packages, minutes of compile time) out of the build.
func TestOnlyCacheAndOptionPackages(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("the go command is not in PATH: this test lists the package's dependencies with it")
	}
	out, err := exec.Command(goBin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	n := 0
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "github.com/cloudflare/cloudflare-go/v7" {
			t.Fatal("the SDK's root package is imported")
		}
		if strings.HasPrefix(pkg, "github.com/cloudflare/cloudflare-go/v7/") {
			n++
		}
	}
	if n > 20 {
		t.Errorf("%d SDK packages in the build, want only cache, option and their few internals", n)
	}
}
