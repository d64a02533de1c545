package events_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cachegate/cachegate/events"
)

func TestConnConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		c    events.ConnConfig
		want string // "" means valid
	}{
		{"anonymous", events.ConnConfig{}, ""},
		{"user and password", events.ConnConfig{User: "u", Password: "p"}, ""},
		{"token", events.ConnConfig{Token: "t"}, ""},
		{"nkey seed", events.ConnConfig{NkeySeedFile: "/x.nk"}, ""},
		{"creds", events.ConnConfig{CredsFile: "/x.creds"}, ""},
		{"password in URL alone", events.ConnConfig{URL: "nats://u:p@h:4222"}, ""},
		{"user without password", events.ConnConfig{User: "u"}, "go together"},
		{"password without user", events.ConnConfig{Password: "p"}, "go together"},
		{"two kinds", events.ConnConfig{Token: "t", CredsFile: "/x.creds"}, "choose one of token, creds file"},
		{"URL credentials and a token", events.ConnConfig{URL: "nats://a:4222,nats://u:secret@b:4222", Token: "t"}, "carries credentials"},
	}
	for _, tt := range tests {
		err := tt.c.Validate()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: Validate = %v, want %q", tt.name, err, tt.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: the error shows the password: %v", tt.name, err)
		}
	}
}

// A ConnConfig prints and logs without its secrets.
func TestConnConfigRedacts(t *testing.T) {
	c := events.ConnConfig{URL: "nats://u:url-secret@h:4222", User: "app", Password: "pw-secret", Token: "tok-secret"}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%v %+v %#v %s", c, c, c, c)
	slog.New(slog.NewTextHandler(&b, nil)).Info("x", "nats", c)
	slog.New(slog.NewJSONHandler(&b, nil)).Info("x", "nats", c)
	if strings.Contains(b.String(), "secret") || !strings.Contains(b.String(), "app") {
		t.Errorf("printed: %s", b.String())
	}
}

// An app connects with the credentials it was given (only its tenant's
// subjects, see docs/nats-permissions.md) and replies on its own inbox
// prefix.
func ExampleConnect() {
	ctx := context.Background()
	nc, err := events.Connect(ctx, events.ConnConfig{
		URL: "nats://nats.internal:4222", CredsFile: "/etc/acme/cachegate.creds", InboxPrefix: "_INBOX_acme",
	})
	if err != nil {
		return
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	pub, _ := events.NewPublisher(js, nc, events.PublisherConfig{})
	_, _ = pub.PublishAndWait(ctx, events.Event{Tenant: "acme", Type: "company.updated", Entity: "company", Key: "acme"})
}
