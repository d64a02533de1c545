package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/cachegate/cachegate/events"
	"github.com/cachegate/cachegate/internal/testenv"
)

var (
	demoConfigFile = filepath.Join("..", "..", "config", "testdata", "demo.yaml")
	brokenConfig   = filepath.Join("..", "..", "config", "testdata", "broken.yaml")
	// fileLineRE is one problem of check-config: FILE:LINE: message.
	fileLineRE = regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(brokenConfig) + `:(\d+): \S.*$`)
)

// TestRunUsage: no command, an unknown one and help.
func TestRunUsage(t *testing.T) {
	for _, c := range []struct {
		args     []string
		code     int
		inStderr string
	}{
		{nil, 2, "usage: cachegate <command>"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"help"}, 0, "check-config"},
		{[]string{"purge", "-h"}, 0, "-tenant"},
		{[]string{"serve", "--no-such-flag"}, 2, "flag provided but not defined"},
	} {
		code, _, stderr := runCmd(t, c.args...)
		if code != c.code || !strings.Contains(stderr, c.inStderr) {
			t.Errorf("cachegate %q: exit %d, stderr:\n%s\nwant exit %d and %q", c.args, code, stderr, c.code, c.inStderr)
		}
	}
}

// TestCheckConfig: the shipped demo config is valid (its token comes from
// the environment), every problem of a broken one is reported as
// FILE:LINE: message, and bad invocations are usage errors.
func TestCheckConfig(t *testing.T) {
	t.Run("demo config with its token set", func(t *testing.T) {
		t.Setenv("CACHEGATE_ADMIN_TOKEN", "a-token-for-check-config")
		code, stdout, stderr := runCmd(t, "check-config", demoConfigFile)
		if code != 0 || stdout != demoConfigFile+": ok\n" {
			t.Fatalf("exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
		}
	})
	t.Run("demo config without its token", func(t *testing.T) {
		t.Setenv("CACHEGATE_ADMIN_TOKEN", "") // restored after the test
		os.Unsetenv("CACHEGATE_ADMIN_TOKEN")
		code, _, stderr := runCmd(t, "check-config", demoConfigFile)
		want := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(demoConfigFile) + `:\d+: admin\.token: .*CACHEGATE_ADMIN_TOKEN`)
		if code != 1 || !want.MatchString(stderr) {
			t.Fatalf("exit %d, stderr:\n%s\nwant exit 1 naming the unset variable at its line", code, stderr)
		}
	})
	t.Run("a ttl that cannot take effect is a warning", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "warn.yaml")
		src := "origin: http://127.0.0.1:9\nroutes:\n  - name: none\n    match: { path: /x }\n    ttl: 0s\n"
		if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		code, stdout, stderr := runCmd(t, "check-config", path)
		if code != 0 || stdout != path+": ok\n" || !strings.Contains(stderr, path+":5: warning: route \"none\" ttl: ttl 0 stores nothing") {
			t.Fatalf("exit %d, stdout %q, stderr:\n%s", code, stdout, stderr)
		}
	})
	t.Run("broken config", func(t *testing.T) {
		code, stdout, stderr := runCmd(t, "check-config", brokenConfig)
		if code != 1 || stdout != "" {
			t.Fatalf("exit %d, stdout %q; want 1 and nothing on stdout", code, stdout)
		}
		problems := fileLineRE.FindAllStringSubmatch(stderr, -1)
		// broken.yaml has one mistake per kind; every one is reported,
		// not only the first.
		if len(problems) < 5 {
			t.Fatalf("%d FILE:LINE problems, want every mistake of broken.yaml:\n%s", len(problems), stderr)
		}
		for _, want := range []string{`unknown directive "max_age" (did you mean "max-age"?)`, `did you mean "fastly"?`, `did you mean "staff_bypass"?`} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr)
			}
		}
		for _, line := range strings.Split(strings.TrimSpace(stderr), "\n") {
			if !fileLineRE.MatchString(line) && !strings.HasPrefix(line, "cachegate check-config: ") {
				t.Errorf("line %q is neither FILE:LINE: problem nor the summary", line)
			}
		}
	})
	t.Run("missing file", func(t *testing.T) {
		code, _, stderr := runCmd(t, "check-config", "no-such-config.yaml")
		if code != 1 || !strings.Contains(stderr, "no-such-config.yaml") || !strings.Contains(stderr, "no such file") {
			t.Fatalf("exit %d, stderr:\n%s\nwant 1 naming the file and that it does not exist", code, stderr)
		}
	})
	for name, args := range map[string][]string{
		"no file":   {"check-config"},
		"two files": {"check-config", demoConfigFile, brokenConfig},
	} {
		t.Run(name, func(t *testing.T) {
			code, _, stderr := runCmd(t, args...)
			if code != 2 || !strings.Contains(stderr, "check-config takes one FILE") {
				t.Fatalf("exit %d, stderr:\n%s\nwant 2 with the usage", code, stderr)
			}
		})
	}
}

// testOrigin is a minimal origin that counts its requests: a public page
// cacheable for a minute.
func testOrigin(t testing.TB) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		// No freshness information, but a Last-Modified that a
		// heuristic could use: a plain shared cache must not store it.
		if r.URL.Path == "/no-freshness" {
			w.Header().Set("Last-Modified", time.Now().Add(-24*time.Hour).UTC().Format(http.TimeFormat))
			_, _ = w.Write([]byte("no freshness\n"))
			return
		}
		w.Header().Set("Cache-Control", "public, max-age=60")
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("hello from the origin\n"))
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// serveEnv puts every listener of serve on a free loopback port through the
// environment.
func serveEnv(t *testing.T) {
	t.Setenv("CACHEGATE_LISTEN", "127.0.0.1:0")
	t.Setenv("CACHEGATE_ADMIN_LISTEN", "127.0.0.1:0")
	t.Setenv("CACHEGATE_NATS_LISTEN", "127.0.0.1:0")
	for _, v := range []string{"CACHEGATE_ORIGIN", "CACHEGATE_CONFIG", "CACHEGATE_REDIS_URL", "CACHEGATE_NATS_URL", "CACHEGATE_ADMIN_TOKEN"} {
		t.Setenv(v, "")
	}
}

// servedNode is a started serve with the addresses it printed.
type servedNode struct {
	*running
	gateway, admin, nats string
}

func startServe(t *testing.T, args ...string) *servedNode {
	t.Helper()
	r := start(t, append([]string{"serve", "--log-level", "warn"}, args...)...)
	return &servedNode{
		running: r,
		gateway: r.line(t, `(?m)^gateway listening on (\S+)$`),
		admin:   r.line(t, `(?m)^admin listening on (\S+)$`),
		nats:    r.line(t, `(?m)^events on (\S+)$`),
	}
}

// TestServeRefuses: serve does not start without an origin or with an
// invalid config, and says why.
func TestServeRefuses(t *testing.T) {
	serveEnv(t)
	code, _, stderr := runCmd(t, "serve")
	if code != 2 || !strings.Contains(stderr, "no origin") || !strings.Contains(stderr, "--origin") {
		t.Errorf("serve with no origin: exit %d, stderr:\n%s\nwant 2 saying how to name the origin", code, stderr)
	}
	code, _, stderr = runCmd(t, "serve", "--config", brokenConfig)
	if code != 1 || len(fileLineRE.FindAllString(stderr, -1)) < 5 || strings.Contains(stderr, "listening") {
		t.Errorf("serve with a broken config: exit %d, stderr:\n%s\nwant 1 with the FILE:LINE problems", code, stderr)
	}
	t.Setenv("CACHEGATE_CONFIG", brokenConfig)
	code, _, stderr = runCmd(t, "serve", "--origin", "http://127.0.0.1:1")
	if code != 1 || len(fileLineRE.FindAllString(stderr, -1)) < 5 {
		t.Errorf("serve with a broken config from CACHEGATE_CONFIG: exit %d, stderr:\n%s\nwant 1 with the FILE:LINE problems", code, stderr)
	}
	t.Setenv("CACHEGATE_CONFIG", "")
	code, _, stderr = runCmd(t, "serve", "--origin", "http://127.0.0.1:1", "--log-level", "loud")
	if code != 2 || !strings.Contains(stderr, `--log-level "loud"`) {
		t.Errorf("serve with a bad log level: exit %d, stderr:\n%s\nwant 2 naming the level", code, stderr)
	}
}

// TestServe: a plain shared cache in front of an origin, configured only by
// flags and the environment; it answers through the gateway and the admin
// listener and stops cleanly on cancel (what SIGINT and SIGTERM do).
func TestServe(t *testing.T) {
	serveEnv(t)
	org, hits := testOrigin(t)
	// The flag beats the variable: the variable's origin is unreachable.
	t.Setenv("CACHEGATE_ORIGIN", "http://127.0.0.1:1")
	t.Setenv("CACHEGATE_ADMIN_TOKEN", "serve-test-token")
	nats := testenv.StartNATS(t)
	t.Setenv("CACHEGATE_NATS_URL", nats.URL)
	s := startServe(t, "--origin", org.URL)

	if s.nats != nats.URL {
		t.Errorf("serve uses NATS at %s, want CACHEGATE_NATS_URL %s", s.nats, nats.URL)
	}
	if strings.Contains(s.stdout.String()+s.stderr.String(), "serve-test-token") {
		t.Errorf("serve printed the admin token it was given:\n%s%s", s.stdout, s.stderr)
	}
	first := get(t, s.gateway, "example.test", "/page")
	second := get(t, s.gateway, "example.test", "/page")
	if first.status != http.StatusOK || first.body != "hello from the origin\n" || !strings.Contains(first.cacheStatus(), "stored") {
		t.Fatalf("first request: %v %q", first, first.body)
	}
	if !strings.HasPrefix(second.cacheStatus(), "cachegate; hit; detail=l1") || hits.Load() != 1 {
		t.Fatalf("second request: %v after %d origin requests; want an L1 hit", second, hits.Load())
	}
	for i := range 2 {
		if r := get(t, s.gateway, "example.test", "/no-freshness"); r.isHit() || r.body != "no freshness\n" {
			t.Errorf("request %d for a response without freshness information: %v, want it forwarded", i+1, r)
		}
	}
	if n := hits.Load(); n != 3 {
		t.Errorf("%d origin requests, want 3: the response without freshness information is never stored", n)
	}
	if r := get(t, s.admin, "", "/healthz"); r.status != http.StatusOK {
		t.Errorf("GET /healthz: %d", r.status)
	}
	if r := get(t, s.admin, "", "/api/v1/stats", "Authorization: Bearer serve-test-token"); r.status != http.StatusOK || !strings.Contains(r.body, `"l1"`) {
		t.Errorf("GET /api/v1/stats with the token: %d %s", r.status, r.body)
	}
	if r := get(t, s.admin, "", "/api/v1/stats"); r.status != http.StatusUnauthorized {
		t.Errorf("GET /api/v1/stats without the token: %d, want 401", r.status)
	}
	if code := s.stop(t); code != 0 {
		t.Fatalf("serve exited %d on cancel; stderr:\n%s", code, s.stderr)
	}
	if _, err := client.Get("http://" + s.gateway + "/page"); err == nil {
		t.Error("the gateway still answers after serve returned")
	}
}

// TestServeGeneratesToken: with no token configured, serve makes one up,
// prints it once, and the admin API takes it.
func TestServeGeneratesToken(t *testing.T) {
	serveEnv(t)
	org, _ := testOrigin(t)
	t.Setenv("CACHEGATE_ORIGIN", org.URL)
	s := startServe(t)
	token := s.line(t, `(?m)^admin token \(generated; set CACHEGATE_ADMIN_TOKEN to choose one\): (\S+)$`)
	if r := get(t, s.admin, "", "/api/v1/stats", "Authorization: Bearer "+token); r.status != http.StatusOK {
		t.Errorf("GET /api/v1/stats with the printed token: %d %s", r.status, r.body)
	}
}

// TestServeSharedL2: two serve instances on one NATS and one Redis
// (CACHEGATE_REDIS_URL, CACHEGATE_NATS_URL): what one fetched the other
// serves from L2, and an event published through one invalidates both.
func TestServeSharedL2(t *testing.T) {
	serveEnv(t)
	org, hits := testOrigin(t)
	t.Setenv("CACHEGATE_ORIGIN", org.URL)
	t.Setenv("CACHEGATE_ADMIN_TOKEN", "shared-l2-admin-token")
	t.Setenv("CACHEGATE_NATS_URL", testenv.StartNATS(t).URL)
	t.Setenv("CACHEGATE_REDIS_URL", "redis://"+testenv.StartRedis(t).Addr+"/0")
	a := startServe(t)
	b := startServe(t)

	get(t, a.gateway, "example.test", "/page")
	if r := get(t, b.gateway, "example.test", "/page"); !strings.HasPrefix(r.cacheStatus(), "cachegate; hit; detail=l2") || hits.Load() != 1 {
		t.Fatalf("the second instance: %v after %d origin requests, want an L2 hit", r, hits.Load())
	}
	// Every stored response carries the implicit path tag; a purge of
	// the URL through one instance's admin API reaches both.
	code, stdout, stderr := runCmd(t, "purge", "--admin", a.admin, "--token", "shared-l2-admin-token", "--tenant", "example.test", "--url", "/page")
	if code != 0 {
		t.Fatalf("purge: exit %d: %s%s", code, stdout, stderr)
	}
	if r := get(t, a.gateway, "example.test", "/page"); r.isHit() {
		t.Errorf("instance a after the purge: %v, want a miss", r)
	}
	// a refilled L2; b must have dropped its own L1 copy and find a's.
	if r := get(t, b.gateway, "example.test", "/page"); !strings.HasPrefix(r.cacheStatus(), "cachegate; hit; detail=l2") {
		t.Errorf("instance b after the purge: %v, want the L2 entry a refilled, not its L1 copy", r)
	}
	if n := hits.Load(); n != 2 {
		t.Errorf("%d origin requests, want 2 (one before, one after the purge)", n)
	}
}

// TestServeStartFailures: a node that cannot start says why and exits 1,
// without leaving anything running.
func TestServeStartFailures(t *testing.T) {
	serveEnv(t)
	org, _ := testOrigin(t)
	t.Setenv("CACHEGATE_ORIGIN", org.URL)
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	for _, c := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"gateway address in use", nil, []string{"--listen", busy.Addr().String()}, "gateway listener: listen tcp " + busy.Addr().String()},
		{"admin address in use", nil, []string{"--admin-listen", busy.Addr().String()}, "admin listener: listen tcp " + busy.Addr().String()},
		{"short admin token", map[string]string{"CACHEGATE_ADMIN_TOKEN": "short"}, nil, "admin token must be at least 16 characters"},
		{"no NATS server", map[string]string{"CACHEGATE_NATS_URL": "nats://127.0.0.1:1"}, nil, "connect to NATS at nats://127.0.0.1:1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			code, stdout, stderr := runCmd(t, append([]string{"serve", "--log-level", "warn"}, c.args...)...)
			if code != 1 || !strings.Contains(stderr, c.want) || strings.Contains(stdout, "listening") {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit 1 and %q", code, stdout, stderr, c.want)
			}
		})
	}
}

// TestOriginWithServe is the split deployment (as docker-compose runs it):
// the demo origin on its own, announcing edits on a shared NATS, and
// `serve --config` with the demo policy in front of it. An edit through
// the gateway is read by its editor; the other tenant stays cached.
func TestOriginWithServe(t *testing.T) {
	serveEnv(t)
	t.Setenv("CACHEGATE_ADMIN_TOKEN", "split-deployment-token")
	t.Setenv("CACHEGATE_NATS_URL", testenv.StartNATS(t).URL)
	o := start(t, "origin", "--listen", "127.0.0.1:0")
	originAddr := o.line(t, `(?m)^origin listening on (\S+)$`)
	s := startServe(t, "--config", demoConfigFile, "--origin", "http://"+originAddr)
	_, port, _ := net.SplitHostPort(s.gateway)
	host := func(tenant string) string { return tenant + ".localhost:" + port }

	for _, tenant := range []string{"acme", "berg"} {
		get(t, s.gateway, host(tenant), "/")
		if r := get(t, s.gateway, host(tenant), "/"); !r.isHit() {
			t.Fatalf("%s / the second time: %v, want a hit", tenant, r)
		}
	}
	r := send(t, http.MethodPost, s.gateway, host("acme"), "/edit", strings.NewReader("description=Edited+in+the+split+deployment"),
		"Authorization: Bearer demo-editor", "Content-Type: application/x-www-form-urlencoded")
	if r.status/100 != 2 && r.status/100 != 3 {
		t.Fatalf("POST /edit: %v: %s", r, r.body)
	}
	acme := get(t, s.gateway, host("acme"), "/")
	if acme.isHit() || !strings.Contains(acme.body, "Edited in the split deployment") {
		t.Errorf("acme / after the edit: %v, want a miss showing the edit", acme)
	}
	if r := get(t, s.gateway, host("berg"), "/"); !r.isHit() {
		t.Errorf("berg / after acme's edit: %v, want a hit", r)
	}
}

// TestServeEmbeddedNATSLockedDown: the embedded NATS server has no
// listener unless asked; with one, anonymous clients are refused and a
// second instance on the host joins with the nkey seed serve printed.
func TestServeEmbeddedNATSLockedDown(t *testing.T) {
	serveEnv(t)
	org, _ := testOrigin(t)
	t.Setenv("CACHEGATE_ORIGIN", org.URL)
	t.Setenv("CACHEGATE_ADMIN_TOKEN", "embedded-nats-admin-token")

	t.Setenv("CACHEGATE_NATS_LISTEN", "")
	inproc := start(t, "serve", "--log-level", "warn")
	inproc.line(t, `(?m)^(events on the embedded NATS server, in-process only) \(--nats-listen ADDR exposes it\)$`)

	t.Setenv("CACHEGATE_NATS_LISTEN", "127.0.0.1:0")
	t.Setenv("CACHEGATE_DATA_DIR", t.TempDir())
	a := startServe(t)
	seed := a.line(t, `(?m)^  NATS clients authenticate with the nkey seed in (\S+)$`)
	if st, err := os.Stat(seed); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("seed file %s: %v, want mode 0600", seed, err)
	}
	if nc, err := nats.Connect(a.nats, nats.MaxReconnects(0)); !errors.Is(err, nats.ErrAuthorization) {
		if nc != nil {
			nc.Close()
		}
		t.Fatalf("anonymous client on the embedded server %s: %v, want %v", a.nats, err, nats.ErrAuthorization)
	}

	t.Setenv("CACHEGATE_NATS_LISTEN", "")
	t.Setenv("CACHEGATE_DATA_DIR", "")
	b := startServe(t, "--nats-url", a.nats, "--nats-nkey-seed", seed)
	if b.nats != a.nats {
		t.Errorf("the second instance uses NATS at %s, want %s", b.nats, a.nats)
	}
	// The second instance is a full member: an invalidation issued through
	// the first reaches its L1 over the seed's connection.
	get(t, b.gateway, "example.test", "/page")
	if r := get(t, b.gateway, "example.test", "/page"); !strings.HasPrefix(r.cacheStatus(), "cachegate; hit; detail=l1") {
		t.Fatalf("the second instance's second request: %v, want an L1 hit", r)
	}
	code, stdout, stderr := runCmd(t, "purge", "--admin", a.admin, "--token", "embedded-nats-admin-token", "--tenant", "example.test", "--url", "/page")
	if code != 0 {
		t.Fatalf("purge through the first instance: exit %d: %s%s", code, stdout, stderr)
	}
	testenv.WaitFor(t, 10*time.Second, func() error {
		if r := get(t, b.gateway, "example.test", "/page"); r.isHit() {
			return fmt.Errorf("the second instance still answers %v after the purge", r)
		}
		return nil
	})
}

// TestServeNATSCredentials: serve authenticates to a standalone server
// with CACHEGATE_NATS_USER and CACHEGATE_NATS_PASSWORD; a wrong password
// stops it with the server's refusal, without printing the password.
func TestServeNATSCredentials(t *testing.T) {
	serveEnv(t)
	org, _ := testOrigin(t)
	t.Setenv("CACHEGATE_ORIGIN", org.URL)
	srv := testenv.StartNATSWith(t, func(o *server.Options) {
		o.Users = []*server.User{{Username: "cachegate", Password: "right-nats-password"}}
	})
	t.Setenv("CACHEGATE_NATS_URL", srv.URL)
	t.Setenv("CACHEGATE_NATS_USER", "cachegate")

	t.Setenv("CACHEGATE_NATS_PASSWORD", "wrong-nats-password")
	code, stdout, stderr := runCmd(t, "serve", "--log-level", "warn")
	if code != 1 || !strings.Contains(stderr, "Authorization Violation") || strings.Contains(stdout+stderr, "wrong-nats-password") {
		t.Errorf("serve with a wrong NATS password: exit %d, stdout %q, stderr %q; want 1 with the refusal and no password", code, stdout, stderr)
	}

	t.Setenv("CACHEGATE_NATS_PASSWORD", "right-nats-password")
	s := startServe(t)
	if s.nats != srv.URL {
		t.Errorf("serve uses NATS at %s, want %s", s.nats, srv.URL)
	}
	if r := get(t, s.gateway, "example.test", "/page"); r.status != http.StatusOK {
		t.Errorf("GET through serve on the authenticated NATS: %v", r)
	}
	if strings.Contains(s.stdout.String()+s.stderr.String(), "right-nats-password") {
		t.Error("serve printed the NATS password")
	}

	// Credentials without a NATS URL are refused before anything starts.
	t.Setenv("CACHEGATE_NATS_URL", "")
	code, _, stderr = runCmd(t, "serve")
	if code != 1 || !strings.Contains(stderr, "credentials are for a standalone server") {
		t.Errorf("serve with NATS credentials and no URL: exit %d, stderr %q", code, stderr)
	}
}

// TestOriginEditWhileNATSDown: the demo origin with an outbox, NATS down.
// The edit answers at once that it is saved and kept in the outbox, and
// its event reaches the stream once NATS is back: nothing is lost.
func TestOriginEditWhileNATSDown(t *testing.T) {
	srv := testenv.StartNATS(t)
	t.Setenv("CACHEGATE_NATS_URL", srv.URL)
	o := start(t, "origin", "--listen", "127.0.0.1:0", "--latency", "0", "--outbox", filepath.Join(t.TempDir(), "outbox"))
	addr := o.line(t, `(?m)^origin listening on (\S+)$`)
	nc, err := nats.Connect(srv.URL, nats.MaxReconnects(-1), nats.ReconnectWait(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx := context.Background()
	testenv.WaitFor(t, 10*time.Second, func() error { // the origin declares the streams
		_, err := js.Stream(ctx, events.StreamName)
		return err
	})
	srv.Shutdown()
	r := send(t, http.MethodPost, addr, "acme.localhost", "/edit", strings.NewReader(`{"description":"Saved while NATS was down"}`),
		"Authorization: Bearer demo-editor", "Content-Type: application/json")
	var res struct {
		Description, Note string
		Applied           bool
	}
	if err := json.Unmarshal([]byte(r.body), &res); err != nil || r.status != http.StatusOK || res.Applied ||
		res.Description != "Saved while NATS was down" || !strings.Contains(res.Note, "outbox") {
		t.Fatalf("POST /edit with NATS down: %v %s", r, r.body)
	}
	srv.Resume()
	testenv.WaitFor(t, 20*time.Second, func() error {
		s, err := js.Stream(ctx, events.StreamName)
		if err != nil {
			return err
		}
		m, err := s.GetLastMsgForSubject(ctx, events.PartitionSubjectPrefix+"*.acme.company")
		if err != nil {
			return err
		}
		if ev, err := events.ParseEvent(m.Data); err != nil || !strings.Contains(string(ev.Data), "Saved while NATS was down") {
			return fmt.Errorf("last acme event %s", m.Data)
		}
		return nil
	})
}
