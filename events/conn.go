package events

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/cachegate/cachegate/internal/setting"
)

// ConnConfig says how to reach a NATS server and authenticate to it: at most
// one of user and password, a token, an nkey seed file, or a .creds file
// (decentralized auth). The zero value connects anonymously to the default
// URL; apps get credentials that may publish only on their tenant's
// subjects (docs/nats-permissions.md).
//
// It holds secrets: it never prints them (String, LogValue redact).
type ConnConfig struct {
	// URL is a comma-separated list of server URLs; "" means
	// nats.DefaultURL. It must not carry a user or password when the
	// fields below are set.
	URL string
	// User and Password: both or neither.
	User, Password string
	// Token is a bearer token (authorization { token: ... }).
	Token string
	// NkeySeedFile is a file holding a user nkey seed (SU...).
	NkeySeedFile string
	// CredsFile is a .creds file (a user JWT and its seed).
	CredsFile string
	// Name is the connection's name in the server's monitoring; "" means
	// "cachegate".
	Name string
	// InboxPrefix replaces "_INBOX" in reply subjects (publish acks, API
	// answers), so that an app's credentials may subscribe to its own
	// replies only (e.g. "_INBOX_acme"); "" keeps "_INBOX".
	InboxPrefix string
}

// Validate reports a configuration Connect would refuse, without reading
// the files it names. Each problem is a *setting.Error named as the config
// file's nats section spells the setting (the last credential given, for a
// combination).
func (c ConnConfig) Validate() error {
	var methods, keys []string
	if c.User != "" || c.Password != "" {
		if c.User == "" || c.Password == "" {
			key := "user" // the one given
			if c.User == "" {
				key = "password"
			}
			return fmt.Errorf("events: %w", setting.Errorf(key, "NATS user and password go together: set both"))
		}
		methods, keys = append(methods, "user/password"), append(keys, "password")
	}
	if c.Token != "" {
		methods, keys = append(methods, "token"), append(keys, "token")
	}
	if c.NkeySeedFile != "" {
		methods, keys = append(methods, "nkey seed"), append(keys, "nkey_seed")
	}
	if c.CredsFile != "" {
		methods, keys = append(methods, "creds file"), append(keys, "credentials")
	}
	if len(methods) > 1 {
		return fmt.Errorf("events: %w", setting.Errorf(keys[len(keys)-1], "NATS credentials: choose one of %s", strings.Join(methods, ", ")))
	}
	for _, s := range strings.Split(c.URL, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		u, err := url.Parse(s)
		if err != nil {
			// url.Parse's error repeats the URL, which may hold a password.
			return fmt.Errorf("events: %w", setting.Errorf("url", "NATS URL is not a valid URL"))
		}
		if u.Scheme != "nats" && u.Scheme != "tls" && u.Scheme != "ws" && u.Scheme != "wss" || u.Host == "" {
			return fmt.Errorf("events: %w", setting.Errorf("url", "NATS URL %s: need nats://, tls://, ws:// or wss:// and a host", u.Redacted()))
		}
		if u.User != nil && len(methods) > 0 {
			return fmt.Errorf("events: %w", setting.Errorf(keys[0], "NATS URL %s carries credentials and %s is set too: keep one", u.Redacted(), methods[0]))
		}
	}
	return nil
}

// HasCredentials reports whether any credential is set.
func (c ConnConfig) HasCredentials() bool {
	return c.User != "" || c.Password != "" || c.Token != "" || c.NkeySeedFile != "" || c.CredsFile != ""
}

// Options are the nats.go options of c: name, credentials and a client
// that reconnects for ever (an outage delays events, never ends the
// process's part in them). It reads the nkey seed file.
func (c ConnConfig) Options() ([]nats.Option, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	name := c.Name
	if name == "" {
		name = "cachegate"
	}
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
	}
	if c.InboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(c.InboxPrefix))
	}
	switch {
	case c.User != "":
		opts = append(opts, nats.UserInfo(c.User, c.Password))
	case c.Token != "":
		opts = append(opts, nats.Token(c.Token))
	case c.NkeySeedFile != "":
		o, err := nats.NkeyOptionFromSeed(c.NkeySeedFile)
		if err != nil {
			return nil, fmt.Errorf("events: NATS nkey seed %s: %w", c.NkeySeedFile, err)
		}
		opts = append(opts, o)
	case c.CredsFile != "":
		opts = append(opts, nats.UserCredentials(c.CredsFile))
	}
	return opts, nil
}

// Connect connects to NATS with c; extra options come last and win.
func Connect(ctx context.Context, c ConnConfig, extra ...nats.Option) (*nats.Conn, error) {
	opts, err := c.Options()
	if err != nil {
		return nil, err
	}
	if d, ok := ctx.Deadline(); ok {
		opts = append(opts, nats.Timeout(time.Until(d)))
	}
	opts = append(opts, extra...)
	u := cmp.Or(c.URL, nats.DefaultURL)
	nc, err := nats.Connect(u, opts...)
	if err != nil {
		return nil, fmt.Errorf("events: connect to NATS at %s: %w", redactURLs(u), err)
	}
	return nc, nil
}

// String describes c without its secrets.
func (c ConnConfig) String() string {
	auth := "anonymous"
	switch {
	case c.User != "":
		auth = "user " + c.User + " with password [redacted]"
	case c.Token != "":
		auth = "token [redacted]"
	case c.NkeySeedFile != "":
		auth = "nkey seed " + c.NkeySeedFile
	case c.CredsFile != "":
		auth = "creds " + c.CredsFile
	}
	return fmt.Sprintf("NATS %s (%s)", redactURLs(cmp.Or(c.URL, nats.DefaultURL)), auth)
}

// GoString redacts for %#v as String does.
func (c ConnConfig) GoString() string { return c.String() }

// LogValue redacts for log/slog.
func (c ConnConfig) LogValue() slog.Value { return slog.StringValue(c.String()) }

// redactURLs drops passwords from a comma-separated URL list.
func redactURLs(list string) string {
	parts := strings.Split(list, ",")
	for i, s := range parts {
		if u, err := url.Parse(strings.TrimSpace(s)); err == nil && u.User != nil {
			parts[i] = u.Redacted()
		} else if err != nil {
			parts[i] = "(invalid URL)"
		}
	}
	return strings.Join(parts, ",")
}
