package fastly_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/purge/fastly"
	"github.com/cachegate/cachegate/purge/fastly/fastlyfake"
)

const token = "fastly-secret-token-abcdef"

func newPurger(t *testing.T, fake *fastlyfake.Server, tok string, log *slog.Logger, lim purge.Limits) *fastly.Purger {
	t.Helper()
	p, err := fastly.New(fastly.Config{
		APIToken: tok, BaseURL: fake.URL(), HTTPClient: &http.Client{Timeout: 2 * time.Second}, Logger: log, Limits: lim,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func keys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("acme:item:%d", i)
	}
	return out
}

func TestPurgeCalls(t *testing.T) {
	fake := fastlyfake.New(token)
	defer fake.Close()
	// A provider configured above the API's 256 shows the fake enforces
	// the documented limit; the default splits.
	p := newPurger(t, fake, token, nil, purge.Limits{})
	tests := []struct {
		name  string
		batch purge.Batch
		calls []fastlyfake.Call // Kind, Service, Keys, URL, Soft
	}{
		{"one key", purge.Batch{Zone: "svc", Tags: []string{"acme:company:acme"}},
			[]fastlyfake.Call{{Kind: "key", Service: "svc", Keys: []string{"acme:company:acme"}}}},
		{"batch", purge.Batch{Zone: "svc", Tags: []string{"a", "b"}, Soft: true},
			[]fastlyfake.Call{{Kind: "keys", Service: "svc", Keys: []string{"a", "b"}, Soft: true}}},
		{"300 keys split at 256", purge.Batch{Zone: "svc", Tags: keys(300)},
			[]fastlyfake.Call{{Kind: "keys", Service: "svc", Keys: keys(300)[:256]}, {Kind: "keys", Service: "svc", Keys: keys(300)[256:]}}},
		{"everything", purge.Batch{Zone: "svc", Everything: true},
			[]fastlyfake.Call{{Kind: "all", Service: "svc"}}},
		{"url", purge.Batch{URLs: []string{"https://acme.example.com/a/b?x=1"}},
			[]fastlyfake.Call{{Kind: "url", URL: "acme.example.com/a/b"}}},
	}
	seen := 0
	for _, tt := range tests {
		if err := p.Purge(t.Context(), tt.batch); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		calls := fake.Calls()[seen:]
		seen += len(calls)
		if len(calls) != len(tt.calls) {
			t.Fatalf("%s: %d calls, want %d", tt.name, len(calls), len(tt.calls))
		}
		for i, c := range calls {
			w := tt.calls[i]
			if c.Kind != w.Kind || c.Service != w.Service || strings.Join(c.Keys, " ") != strings.Join(w.Keys, " ") ||
				c.URL != w.URL || c.Soft != w.Soft || c.Status != 200 || c.Key != token {
				t.Errorf("%s: call %d = %+v, want %+v", tt.name, i, c, w)
			}
		}
	}
}

func TestErrorMapping(t *testing.T) {
	tests := []struct {
		name  string
		fault *fastlyfake.Fault
		tok   string
		batch purge.Batch
		lim   purge.Limits
		check func(error) bool
		say   string
	}{
		{"ok", nil, "", purge.Batch{}, purge.Limits{}, func(e error) bool { return e == nil }, ""},
		{"429", &fastlyfake.Fault{Status: 429, RetryAfter: "3"}, "", purge.Batch{}, purge.Limits{}, func(e error) bool {
			var ra *purge.RetryAfterError
			return errors.As(e, &ra) && ra.After == 3*time.Second
		}, "429"},
		{"503", &fastlyfake.Fault{Status: 503}, "", purge.Batch{}, purge.Limits{}, temporary, "HTTP 503"},
		{"200 not ok", &fastlyfake.Fault{Status: 200}, "", purge.Batch{}, purge.Limits{}, temporary, `"error"`},
		{"batch 200 not ok", &fastlyfake.Fault{Status: 200}, "", purge.Batch{Zone: "s", Tags: []string{"a", "b"}}, purge.Limits{}, temporary, "no purge id"},
		{"hang", &fastlyfake.Fault{Hang: true}, "", purge.Batch{}, purge.Limits{}, temporary, ""},
		{"bad token", nil, "wrong", purge.Batch{}, purge.Limits{}, permanent, "HTTP 401"},
		{"over 256 keys", nil, "", purge.Batch{Zone: "s", Tags: keys(257)}, purge.Limits{TagsPerCall: 300}, permanent, "HTTP 400"},
		{"key too long", nil, "", purge.Batch{Zone: "s", Tags: []string{strings.Repeat("k", 1025)}}, purge.Limits{}, permanent, "1024"},
		{"url without host", nil, "", purge.Batch{URLs: []string{"/a"}}, purge.Limits{}, permanent, "no host"},
		{"no service", nil, "", purge.Batch{Tags: []string{"a"}}, purge.Limits{}, permanent, "service"},
		{"prefix", nil, "", purge.Batch{Zone: "s", Prefixes: []string{"h/x"}}, purge.Limits{}, permanent, "prefix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := fastlyfake.New(token)
			defer fake.Close()
			tok := tt.tok
			if tok == "" {
				tok = token
			}
			p := newPurger(t, fake, tok, nil, tt.lim)
			if tt.fault != nil {
				fake.Fail(*tt.fault)
			}
			b := tt.batch
			if b.Zone == "" && b.Tags == nil && b.URLs == nil {
				b = purge.Batch{Zone: "s", Tags: []string{"acme:x"}}
			}
			ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
			defer cancel()
			err := p.Purge(ctx, b)
			if !tt.check(err) {
				t.Fatalf("err = %v", err)
			}
			if err != nil && !strings.Contains(err.Error(), tt.say) {
				t.Errorf("err %q does not say %q", err, tt.say)
			}
		})
	}
}

func temporary(err error) bool {
	var ra *purge.RetryAfterError
	return err != nil && !errors.Is(err, purge.ErrPermanent) && !errors.As(err, &ra)
}

func permanent(err error) bool { return errors.Is(err, purge.ErrPermanent) }

func TestTokenNeverLogged(t *testing.T) {
	fake := fastlyfake.New(token)
	defer fake.Close()
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	p := newPurger(t, fake, token, log, purge.Limits{})
	fake.Fail(fastlyfake.Fault{Status: 429}, fastlyfake.Fault{Status: 500}, fastlyfake.Fault{Status: 200})
	for range 4 {
		_ = p.Purge(t.Context(), purge.Batch{Zone: "s", Tags: []string{"a", "b"}})
	}
	if buf.Len() == 0 || strings.Contains(buf.String(), token) {
		t.Fatalf("log empty or carries the token:\n%s", buf.String())
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  fastly.Config
		ok   bool
	}{
		{"ok", fastly.Config{APIToken: "t"}, true},
		{"no token", fastly.Config{}, false},
		{"bad url", fastly.Config{APIToken: "t", BaseURL: "api.fastly.com"}, false},
		{"bad name", fastly.Config{APIToken: "t", Name: "x y"}, false},
	}
	for _, tt := range tests {
		if err := tt.cfg.Validate(); (err == nil) != tt.ok {
			t.Errorf("%s: Validate() = %v", tt.name, err)
		}
	}
}
