package conformance

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testenv"
)

// host is the Host every case sends: with no config, the tenant.
const host = "conf.test"

// origin is the scripted origin: each case registers a handler for its
// own path prefix ("/c07") and reads what the origin was sent.
type origin struct {
	srv      *httptest.Server
	mu       sync.Mutex
	handlers map[string]http.HandlerFunc
	seen     map[string][]*http.Request // by path, headers cloned
}

func startOrigin(t *testing.T) *origin {
	o := &origin{handlers: map[string]http.HandlerFunc{}, seen: map[string][]*http.Request{}}
	o.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		prefix := "/" + strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)[0]
		o.mu.Lock()
		o.seen[r.URL.Path] = append(o.seen[r.URL.Path], &http.Request{Method: r.Method, Header: r.Header.Clone(), URL: r.URL})
		h := o.handlers[prefix]
		o.mu.Unlock()
		if h == nil {
			http.Error(w, "no handler for "+prefix, http.StatusNotFound)
			return
		}
		h(w, r)
	}))
	t.Cleanup(o.srv.Close)
	return o
}

func (o *origin) handle(prefix string, h http.HandlerFunc) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.handlers[prefix] = h
}

// requests returns what the origin was sent for path.
func (o *origin) requests(path string) []*http.Request {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]*http.Request(nil), o.seen[path]...)
}

func (o *origin) count(path string) int { return len(o.requests(path)) }

// serve is a running `cachegate serve --origin URL`: nothing else but free
// listen ports, a working directory of its own and no CACHEGATE_ variable.
type serve struct {
	gateway, metrics string
}

var listening = regexp.MustCompile(`^(gateway|metrics) listening on (\S+)$`)

func startServe(t *testing.T, originURL string) *serve {
	t.Helper()
	bin := filepath.Join(testenv.GoBuild(t, "github.com/cachegate/cachegate/cmd/cachegate"), "cachegate")
	cmd := exec.Command(bin, "serve", "--origin", originURL,
		"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0")
	cmd.Dir = t.TempDir()
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "CACHEGATE_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr testenv.SyncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start cachegate serve: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("cachegate serve did not stop within 20 s of SIGTERM")
		}
		if t.Failed() {
			t.Logf("cachegate serve stderr:\n%s", stderr.String())
		}
	})
	s := &serve{}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	deadline := time.After(60 * time.Second)
	for s.gateway == "" || s.metrics == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("cachegate serve exited before listening:\n%s", stderr.String())
			}
			if m := listening.FindStringSubmatch(l); m != nil {
				if m[1] == "gateway" {
					s.gateway = m[2]
				} else {
					s.metrics = m[2]
				}
			}
		case <-deadline:
			t.Fatalf("cachegate serve did not say where it listens within 60 s:\n%s", stderr.String())
		}
	}
	go func() {
		for range lines { // keep the pipe drained
		}
	}()
	return s
}

// res is one answer of the gateway.
type res struct {
	status int
	header http.Header
	body   string
}

func (r res) cacheStatus() string { return r.header.Get("Cache-Status") }
func (r res) isHit() bool         { return strings.Contains(r.cacheStatus(), "; hit") }

var client = &http.Client{
	Transport:     &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64},
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	Timeout:       30 * time.Second,
}

// do sends method path with hdr ("Name: value" lines) to the gateway.
func (s *serve) do(t *testing.T, method, path string, hdr ...string) res {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+s.gateway+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for _, h := range hdr {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Add(k, strings.TrimSpace(v))
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return res{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func (s *serve) get(t *testing.T, path string, hdr ...string) res {
	t.Helper()
	return s.do(t, http.MethodGet, path, hdr...)
}

// raw sends bytes on a new connection and reads one response; closed says
// the gateway closed the connection after it.
func (s *serve) raw(t *testing.T, raw string) (*http.Response, string, bool) {
	t.Helper()
	c, err := net.Dial("tcp", s.gateway)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, err = br.Peek(1)
	return resp, string(b), errors.Is(err, io.EOF)
}

// metric reads one gauge or counter from the gateway's /metrics.
func (s *serve) metric(name string) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.metrics+"/metrics", nil)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("no metric %s", name)
}
