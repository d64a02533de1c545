package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// startTimeout bounds how long a command may take to print its addresses
// on a loaded machine.
const startTimeout = 30 * time.Second

// output is an io.Writer that tests can await text on: the commands write
// their banner and logs to it from their own goroutines.
type output struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{} // closed and replaced on every write
}

func newOutput() *output { return &output{changed: make(chan struct{})} }

func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n, err := o.buf.Write(p)
	close(o.changed)
	o.changed = make(chan struct{})
	return n, err
}

func (o *output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// await waits until re matches what was written and returns the
// submatches; it gives up when done is closed (the command ended) or after
// timeout.
func (o *output) await(t testing.TB, re *regexp.Regexp, done <-chan struct{}, timeout time.Duration) []string {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		o.mu.Lock()
		m := re.FindStringSubmatch(o.buf.String())
		changed := o.changed
		o.mu.Unlock()
		if m != nil {
			return m
		}
		select {
		case <-changed:
		case <-done:
			t.Fatalf("the command ended before printing %q; it printed:\n%s", re, o.String())
		case <-deadline.C:
			t.Fatalf("no %q after %v; the command printed:\n%s", re, timeout, o.String())
		}
	}
}

// running is a command started in-process with run().
type running struct {
	stdout, stderr *output
	cancel         context.CancelFunc
	done           chan struct{}
	code           int // valid once done is closed
}

// start runs the command in the background; the test's cleanup cancels it
// and checks it stopped cleanly.
func start(t testing.TB, args ...string) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{stdout: newOutput(), stderr: newOutput(), cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		r.code = run(ctx, args, r.stdout, r.stderr)
	}()
	t.Cleanup(func() {
		if r.stop(t) != 0 {
			t.Errorf("%v exited %d on cancel; stderr:\n%s", args, r.code, r.stderr)
		}
		if t.Failed() {
			t.Logf("%s stderr:\n%s", args[0], r.stderr)
		}
	})
	return r
}

// stop cancels the command's context, as SIGINT/SIGTERM do, and returns its
// exit code once it has returned.
func (r *running) stop(t testing.TB) int {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
	case <-time.After(20 * time.Second):
		t.Fatalf("the command did not stop within 20s of its context's cancellation")
	}
	return r.code
}

// line awaits the stdout line that re (with one group) matches and returns
// the group.
func (r *running) line(t testing.TB, re string) string {
	t.Helper()
	return r.stdout.await(t, regexp.MustCompile(re), r.done, startTimeout)[1]
}

// runCmd runs a command to its end and returns its exit code and output.
func runCmd(t testing.TB, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	code = run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

// client sends requests with a Host header to a gateway address, never
// following redirects.
var client = &http.Client{
	Timeout:       30 * time.Second,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// reply is a response read to its end.
type reply struct {
	status int
	header http.Header
	body   string
}

func (r reply) cacheStatus() string { return r.header.Get("Cache-Status") }

// isHit reports whether the response came from one of cachegate's layers.
func (r reply) isHit() bool { return strings.HasPrefix(r.cacheStatus(), "cachegate; hit") }

// send makes a request to addr for host and reads the answer; header are
// "Name: value" pairs.
func send(t testing.TB, method, addr, host, path string, body io.Reader, header ...string) reply {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for _, h := range header {
		k, v, ok := strings.Cut(h, ":")
		if !ok {
			t.Fatalf("header %q has no colon", h)
		}
		req.Header.Set(k, strings.TrimSpace(v))
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s (Host %s): %v", method, path, host, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s (Host %s): read body: %v", method, path, host, err)
	}
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func get(t testing.TB, addr, host, path string, header ...string) reply {
	t.Helper()
	return send(t, http.MethodGet, addr, host, path, nil, header...)
}

func (r reply) String() string {
	return fmt.Sprintf("%d Cache-Status %q Cache-Control %q", r.status, r.cacheStatus(), r.header.Get("Cache-Control"))
}
