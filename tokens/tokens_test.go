package tokens_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cachegate/cachegate/internal/testenv"
	"github.com/cachegate/cachegate/tokens"
)

// open returns a Store on its own connection, as each instance has.
func open(t *testing.T, srv *testenv.NATS) (*tokens.Store, jetstream.JetStream) {
	t.Helper()
	js := srv.JetStream(t)
	s, err := tokens.Open(context.Background(), js, 0)
	if err != nil {
		t.Fatal(err)
	}
	return s, js
}

// A token created through one instance authenticates on another, the
// bucket holds only its hash, and a revocation on one holds on the other.
func TestTokensAcrossInstances(t *testing.T) {
	ctx := context.Background()
	srv := testenv.StartNATS(t)
	a, js := open(t, srv)
	b, _ := open(t, srv)

	tok, secret, err := a.Create(ctx, "acme", "shop")
	if err != nil {
		t.Fatal(err)
	}
	if !tokens.IsToken(secret) || tok.Tenant != "acme" || tok.Hash != "" {
		t.Fatalf("created %+v %q", tok, secret)
	}
	got, err := b.Authenticate(ctx, secret)
	if err != nil || got.ID != tok.ID || got.Tenant != "acme" {
		t.Fatalf("authenticate on the other instance: %+v %v", got, err)
	}
	kv, _ := js.KeyValue(ctx, tokens.Bucket)
	e, err := kv.Get(ctx, tok.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, rawSecret, _ := strings.Cut(strings.TrimPrefix(secret, tokens.Prefix), "_")
	if strings.Contains(string(e.Value()), rawSecret) || !strings.Contains(string(e.Value()), `"hash"`) {
		t.Fatalf("stored: %s; want the hash and never the secret", e.Value())
	}

	for _, bad := range []string{"", "cgt_", secret + "x", tokens.Prefix + tok.ID + "_wrong", "cgt_zzzzzzzzzzzz_" + rawSecret, "admin-token-123456"} {
		if _, err := b.Authenticate(ctx, bad); !errors.Is(err, tokens.ErrUnknown) {
			t.Errorf("authenticate %q: %v, want ErrUnknown", bad, err)
		}
	}
	for _, c := range []struct{ tenant, name string }{{"", "x"}, {"Not A Tenant", ""}, {"acme", strings.Repeat("n", tokens.MaxNameLength+1)}, {"acme", "line\nbreak"}} {
		if _, _, err := a.Create(ctx, c.tenant, c.name); !errors.Is(err, tokens.ErrInvalid) {
			t.Errorf("create %q %q: %v, want ErrInvalid", c.tenant, c.name, err)
		}
	}
	other, _, err := a.Create(ctx, "berg", "")
	if err != nil {
		t.Fatal(err)
	}
	list, err := b.List(ctx)
	if err != nil || len(list) != 2 || list[0].Hash != "" || list[1].Hash != "" {
		t.Fatalf("list: %+v %v", list, err)
	}
	if _, err := a.Revoke(ctx, tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Authenticate(ctx, secret); !errors.Is(err, tokens.ErrUnknown) {
		t.Errorf("revoked token on the other instance: %v, want ErrUnknown", err)
	}
	if _, err := b.Revoke(ctx, tok.ID); !errors.Is(err, tokens.ErrNotFound) {
		t.Errorf("second revoke: %v, want ErrNotFound", err)
	}
	if list, _ := b.List(ctx); len(list) != 1 || list[0].ID != other.ID {
		t.Errorf("list after the revocation: %+v", list)
	}
}
