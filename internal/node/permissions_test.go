package node_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cachegate/cachegate/audit"
	"github.com/cachegate/cachegate/config"
	"github.com/cachegate/cachegate/events"
	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/gateway/memstore"
	"github.com/cachegate/cachegate/internal/nodetest"
	"github.com/cachegate/cachegate/internal/testenv"
)

// docConfig is the nats-server configuration block of
// docs/nats-permissions.md, so that the doc and this test cannot drift.
func docConfig(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "nats-permissions.md"))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(doc), "```conf\n")
	block, _, ok2 := strings.Cut(rest, "```\n")
	if !ok || !ok2 {
		t.Fatal("docs/nats-permissions.md has no ```conf block")
	}
	return block
}

// violations collects the permission violations the server logs.
type violations struct {
	mu    sync.Mutex
	lines []string
}

func (v *violations) add(format string, a ...any) {
	if s := fmt.Sprintf(format, a...); strings.Contains(s, "Violation") {
		v.mu.Lock()
		v.lines = append(v.lines, s)
		v.mu.Unlock()
	}
}
func (v *violations) Noticef(string, ...any)    {}
func (v *violations) Warnf(f string, a ...any)  { v.add(f, a...) }
func (v *violations) Fatalf(f string, a ...any) { v.add(f, a...) }
func (v *violations) Errorf(f string, a ...any) { v.add(f, a...) }
func (v *violations) Debugf(string, ...any)     {}
func (v *violations) Tracef(string, ...any)     {}
func (v *violations) of(user string) (out []string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, l := range v.lines {
		if strings.Contains(l, "/user:"+user+`"`) {
			out = append(out, l)
		}
	}
	return out
}

// forged marks the audit entries the test tries to forge.
const forged = "forged-by-a-client"

var passwords = map[string]string{
	"CACHEGATE_SERVE_PASSWORD":       "serve-secret",
	"CACHEGATE_COORDINATOR_PASSWORD": "coordinator-secret",
	"CACHEGATE_GATEWAY_PASSWORD":     "gateway-secret",
	"APP_ACME_PASSWORD":              "acme-secret",
}

// startPermissionedNATS runs a real nats-server with the doc's block, on a
// free loopback port with a temporary store.
func startPermissionedNATS(t *testing.T) (string, *violations) {
	t.Helper()
	for k, v := range passwords {
		t.Setenv(k, v)
	}
	file := filepath.Join(t.TempDir(), "nats.conf")
	if err := os.WriteFile(file, []byte(docConfig(t)), 0o600); err != nil {
		t.Fatal(err)
	}
	opts, err := server.ProcessConfigFile(file)
	if err != nil {
		t.Fatalf("the doc's nats-server config does not parse: %v", err)
	}
	opts.Host, opts.Port = "127.0.0.1", server.RANDOM_PORT
	opts.StoreDir = t.TempDir()
	opts.NoSigs = true
	srv, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	v := &violations{}
	srv.SetLogger(v, false, false)
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
	return srv.ClientURL(), v
}

// TestNATSPermissions: with the doc's permissions, a serve process works
// end to end (starts, applies an app's event, purges, reads its audit log
// and dead letters) without one violation; an app publishes and waits for
// its own tenant only, and can neither delete nor purge a stream nor write
// the audit log; a gateway-only user cannot write the audit log either.
func TestNATSPermissions(t *testing.T) {
	url, v := startPermissionedNATS(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		w.Header().Set("Surrogate-Key", "company:acme")
		fmt.Fprintln(w, "hello")
	}))
	defer origin.Close()
	node := nodetest.Start(t, nodetest.Options{NATSURL: url, Origin: origin.URL, File: &config.File{
		NATS: config.NATS{User: "cachegate", Password: config.Secret(passwords["CACHEGATE_SERVE_PASSWORD"])},
	}})

	// A gateway instance of its own, with the gateway role: the
	// coordinator waits for its L1 answer on every event below, so the
	// waits succeed only if its heartbeat and answers are allowed.
	gwConn, err := events.Connect(ctx, events.ConnConfig{URL: url, User: "gateway", Password: passwords["CACHEGATE_GATEWAY_PASSWORD"]},
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	if err != nil {
		t.Fatal(err)
	}
	defer gwConn.Close()
	gwJS, _ := jetstream.New(gwConn)
	u, _ := neturl.Parse(origin.URL)
	l1, _ := memstore.New(memstore.Config{})
	gw, err := gateway.New(gateway.Config{Origin: u, L1: l1})
	if err != nil {
		t.Fatal(err)
	}
	defer gw.Close()
	inst, err := events.NewInstance(gwJS, gw, events.InstanceConfig{ID: "gateway-only"})
	if err != nil {
		t.Fatal(err)
	}
	if err := inst.Start(ctx); err != nil {
		t.Fatalf("a gateway instance with the gateway role: %v", err)
	}
	defer inst.Close()
	testenv.WaitFor(t, 10*time.Second, func() error {
		if live := node.Coordinator().LiveInstances(); len(live) != 2 {
			return fmt.Errorf("the coordinator sees instances %v, want the node's and gateway-only", live)
		}
		return nil
	})

	asyncErrs := make(chan error, 16)
	app, err := events.Connect(ctx, events.ConnConfig{URL: url, User: "app-acme", Password: passwords["APP_ACME_PASSWORD"],
		InboxPrefix: "_INBOX_acme"}, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { asyncErrs <- err }))
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close()
	appJS, _ := jetstream.New(app)
	pub, err := events.NewPublisher(appJS, app, events.PublisherConfig{WaitTimeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	acme := events.Event{ID: "perm-acme-1", Tenant: "acme", Entity: "company", Key: "acme"}
	if _, err := pub.PublishAndWait(ctx, acme); err != nil {
		t.Fatalf("the app's event for its own tenant: %v", err)
	}
	// Again: a duplicate, answered from the applied bucket.
	if _, err := pub.PublishAndWait(ctx, acme); err != nil {
		t.Fatalf("the app's duplicate event: %v", err)
	}

	// The admin API of the serve process: an event with wait, a purge,
	// the audit log and the dead letters.
	for _, c := range []struct{ method, path, body string }{
		{"POST", "/api/v1/events?wait=1", `{"tenant":"acme","entity":"company","key":"acme"}`},
		{"POST", "/api/v1/purge?wait=1", `{"tenant":"acme","tags":["company:acme"]}`},
		{"GET", "/api/v1/audit", ""},
		{"GET", "/api/v1/deadletters", ""},
	} {
		req, _ := http.NewRequestWithContext(ctx, c.method, node.AdminURL+c.path, strings.NewReader(c.body))
		req.Header.Set("Authorization", "Bearer "+nodetest.Token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Errorf("%s %s as serve: %d", c.method, c.path, resp.StatusCode)
		}
	}

	// What an app may not do. Each attempt is refused by the server.
	short := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 2*time.Second) }
	sctx, scancel := short()
	_, err = pub.Publish(sctx, events.Event{Tenant: "berg", Entity: "company", Key: "berg"})
	scancel()
	if err == nil {
		t.Error("the acme app published an event for berg")
	}
	sctx, scancel = short()
	_, err = appJS.Publish(sctx, audit.Subject, []byte(`{"actor":"admin","action":"purge","id":"`+forged+`"}`))
	scancel()
	if err == nil {
		t.Error("the app wrote the audit stream")
	}
	sctx, scancel = short()
	err = appJS.DeleteStream(sctx, events.StreamName)
	scancel()
	if err == nil {
		t.Error("the app deleted the event stream")
	}
	sctx, scancel = short()
	_, err = app.RequestWithContext(sctx, "$JS.API.STREAM.PURGE."+events.StreamName, nil)
	scancel()
	if err == nil {
		t.Error("the app purged the event stream")
	}
	wantDenied := map[string]bool{
		"cachegate.events.berg.company":              false,
		audit.Subject:                                false,
		"$JS.API.STREAM.DELETE." + events.StreamName: false,
		"$JS.API.STREAM.PURGE." + events.StreamName:  false,
	}
	for range len(wantDenied) {
		select {
		case err := <-asyncErrs:
			if !errors.Is(err, nats.ErrPermissionViolation) {
				t.Errorf("async error %v", err)
				continue
			}
			for s := range wantDenied {
				if strings.Contains(err.Error(), `"`+s+`"`) {
					wantDenied[s] = true
				}
			}
		case <-time.After(5 * time.Second):
		}
	}
	for s, seen := range wantDenied {
		if !seen {
			t.Errorf("no permission violation reported to the app for %s", s)
		}
	}

	// The gateway role may heartbeat and answer, but not write the audit
	// log.
	sctx, scancel = short()
	_, err = gwJS.Publish(sctx, audit.Subject, []byte(`{"actor":"admin","action":"purge","id":"`+forged+`"}`))
	scancel()
	if err == nil {
		t.Error("the gateway user wrote the audit stream")
	}

	// Nothing the app or the gateway tried reached a stream. The app may
	// not even read the event stream's info.
	sctx, scancel = short()
	_, err = appJS.Stream(sctx, events.StreamName)
	scancel()
	if err == nil {
		t.Error("the app read the event stream's info")
	}
	inspect, err := events.Connect(ctx, events.ConnConfig{URL: url, User: "cachegate", Password: passwords["CACHEGATE_SERVE_PASSWORD"]})
	if err != nil {
		t.Fatal(err)
	}
	defer inspect.Close()
	js, _ := jetstream.New(inspect)
	evStream, err := js.Stream(ctx, events.StreamName)
	if err != nil {
		t.Fatal(err)
	}
	// Stored as cachegate.partition.<p>.<tenant>.<entity>.
	info, err := evStream.Info(ctx, jetstream.WithSubjectFilter("cachegate.>"))
	stored := 0
	for subj, n := range info.State.Subjects {
		if strings.HasSuffix(subj, ".acme.company") {
			stored += int(n)
		}
	}
	if err != nil || stored == 0 {
		t.Fatalf("event stream subjects: %v, %v", err, info.State.Subjects)
	}
	for subj := range info.State.Subjects {
		if strings.Contains(subj, ".berg.") {
			t.Errorf("the acme app's berg event is in the stream: %v", info.State.Subjects)
		}
	}
	auditLog, err := audit.Open(ctx, js, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	entries, err := auditLog.Recent(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(fmt.Sprintf("%+v", e), forged) {
			t.Errorf("a forged audit entry: %+v", e)
		}
	}
	if got := v.of("cachegate"); len(got) > 0 {
		t.Errorf("the serve process hit permission violations:\n%s", strings.Join(got, "\n"))
	}
}
