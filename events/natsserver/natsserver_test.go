package natsserver_test

import (
	"bufio"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/cachegate/cachegate/audit"
	"github.com/cachegate/cachegate/events"
	"github.com/cachegate/cachegate/events/natsserver"
)

func start(t *testing.T, cfg natsserver.Config) *natsserver.Server {
	t.Helper()
	srv, err := natsserver.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

func connect(t *testing.T, url string, opts ...nats.Option) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

func publishOne(t *testing.T, ctx context.Context, js jetstream.JetStream) {
	t.Helper()
	if err := events.Setup(ctx, js, events.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	p, err := events.NewPublisher(js, nil, events.PublisherConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Publish(ctx, events.Event{Tenant: "acme", Entity: "company", Key: "acme"}); err != nil {
		t.Fatal(err)
	}
}

func streamMsgs(t *testing.T, ctx context.Context, js jetstream.JetStream, name string) uint64 {
	t.Helper()
	s, err := js.Stream(ctx, name)
	if err != nil {
		t.Fatalf("stream %s: %v", name, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
}

// By default there is no TCP listener: only the process itself connects,
// in-process, and JetStream keeps the events across a restart.
func TestInProcessOnly(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv, err := natsserver.Start(ctx, natsserver.Config{StoreDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if srv.Addr() != nil || srv.URL() != "" || srv.SeedFile() != "" {
		t.Fatalf("in-process server: addr %v, URL %q, seed file %q; want none", srv.Addr(), srv.URL(), srv.SeedFile())
	}
	if _, err := os.Stat(filepath.Join(dir, natsserver.SeedFileName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("in-process server wrote a seed file: %v", err)
	}
	nc, js := connect(t, srv.ClientURL(), srv.ClientOptions()...)
	publishOne(t, ctx, js)
	nc.Close()
	srv.Shutdown()

	srv = start(t, natsserver.Config{StoreDir: dir})
	_, js = connect(t, srv.ClientURL(), srv.ClientOptions()...)
	if n := streamMsgs(t, ctx, js, events.StreamName); n != 1 {
		t.Fatalf("after restart: %d events, want 1", n)
	}
}

// With a listener, clients need the generated nkey: anonymous clients,
// other keys and passwords are refused, the seed file is private and kept
// across restarts.
func TestListenNeedsTheSeed(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srv := start(t, natsserver.Config{Listen: "127.0.0.1:0", StoreDir: dir})
	if !strings.HasPrefix(srv.URL(), "nats://127.0.0.1:") || strings.HasSuffix(srv.Addr().String(), ":0") {
		t.Fatalf("URL %q, addr %v", srv.URL(), srv.Addr())
	}
	st, err := os.Stat(srv.SeedFile())
	if err != nil || st.Mode().Perm() != 0o600 || filepath.Dir(srv.SeedFile()) != dir {
		t.Fatalf("seed file %q: %v, mode %v; want 0600 in the store directory", srv.SeedFile(), err, st.Mode().Perm())
	}

	other, _ := nkeys.CreateUser()
	otherPub, _ := other.PublicKey()
	for name, opts := range map[string][]nats.Option{
		"anonymous":     nil,
		"user/password": {nats.UserInfo("cachegate", "cachegate")},
		"token":         {nats.Token("cachegate")},
		"another nkey":  {nats.Nkey(otherPub, other.Sign)},
	} {
		nc, err := nats.Connect(srv.URL(), append(opts, nats.MaxReconnects(0))...)
		if !errors.Is(err, nats.ErrAuthorization) {
			if nc != nil {
				nc.Close()
			}
			t.Errorf("%s client: %v, want %v", name, err, nats.ErrAuthorization)
		}
	}

	seed, err := nats.NkeyOptionFromSeed(srv.SeedFile())
	if err != nil {
		t.Fatal(err)
	}
	_, js := connect(t, srv.URL(), seed)
	publishOne(t, ctx, js)
	// The process's own in-process connection works alongside.
	connect(t, srv.ClientURL(), srv.ClientOptions()...)

	// Restart: the same key, so other processes' settings stay valid.
	before, _ := os.ReadFile(srv.SeedFile())
	addr := srv.Addr().String()
	srv.Shutdown()
	srv = start(t, natsserver.Config{Listen: addr, StoreDir: dir})
	if after, _ := os.ReadFile(srv.SeedFile()); string(after) != string(before) {
		t.Error("the seed changed across a restart")
	}
	seed, _ = nats.NkeyOptionFromSeed(srv.SeedFile())
	_, js = connect(t, srv.URL(), seed)
	if n := streamMsgs(t, ctx, js, events.StreamName); n != 1 {
		t.Fatalf("after restart: %d events, want 1", n)
	}
	srv.Shutdown()

	if err := os.Chmod(filepath.Join(dir, natsserver.SeedFileName), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := natsserver.Start(ctx, natsserver.Config{Listen: "127.0.0.1:0", StoreDir: dir}); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Errorf("Start with a world-readable seed file: %v, want a refusal", err)
	}
}

// A client that ignores the refusal and writes protocol anyway publishes
// nothing: no event, no JetStream API call, no audit entry.
func TestAnonymousWritesNothing(t *testing.T) {
	ctx := context.Background()
	srv := start(t, natsserver.Config{Listen: "127.0.0.1:0", StoreDir: t.TempDir()})
	_, js := connect(t, srv.ClientURL(), srv.ClientOptions()...)
	if err := events.Setup(ctx, js, events.StreamConfig{}); err != nil {
		t.Fatal(err)
	}
	if _, err := audit.Open(ctx, js, audit.Options{}); err != nil {
		t.Fatal(err)
	}

	c, err := net.DialTimeout("tcp", srv.Addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	body := `{"tenant":"acme","entity":"company","key":"acme"}`
	_, err = c.Write([]byte("CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":false}\r\n" +
		"PUB cachegate.events.acme.company " + strconv.Itoa(len(body)) + "\r\n" + body + "\r\n" +
		"PUB $JS.API.STREAM.DELETE." + events.StreamName + " 0\r\n\r\n" +
		"PUB " + audit.Subject + " 2\r\n{}\r\n" +
		"PING\r\n"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if line != "" {
			got = append(got, strings.TrimSpace(line))
		}
		if err != nil {
			break // the server closed the connection
		}
	}
	all := strings.Join(got, "\n")
	if !strings.Contains(all, "Authorization Violation") || strings.Contains(all, "PONG") {
		t.Errorf("anonymous protocol session got:\n%s\nwant an authorization violation and no PONG", all)
	}
	if n := streamMsgs(t, ctx, js, events.StreamName); n != 0 {
		t.Errorf("%d events in the stream after the anonymous publish, want 0", n)
	}
	if n := streamMsgs(t, ctx, js, audit.StreamName); n != 0 {
		t.Errorf("%d audit entries after the anonymous publish, want 0", n)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  natsserver.Config
		want string
	}{
		{"no store", natsserver.Config{}, "store directory"},
		{"bad listen", natsserver.Config{StoreDir: "x", Listen: "nope"}, "listen"},
		{"bad port", natsserver.Config{StoreDir: "x", Listen: "127.0.0.1:99999"}, "bad port"},
		{"in-process", natsserver.Config{StoreDir: "x"}, ""},
		{"listen", natsserver.Config{StoreDir: "x", Listen: "127.0.0.1:0"}, ""},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
			t.Errorf("%s: %v, want %q", tt.name, err, tt.want)
		}
	}
}
