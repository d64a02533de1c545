package testenv

import (
	"errors"
	"fmt"
	"net"
	"net/http"
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
)

// Varnish is a varnishd process on loopback, in front of one backend, with
// a VCL rendered from a file (normally deploy/varnish/cachegate.vcl).
type Varnish struct {
	// Addr is host:port of the HTTP listener; URL is "http://" + Addr.
	Addr string
	URL  string
	// Dir is the instance directory (varnishd -n), for varnishadm -n or
	// varnishlog -n while debugging a test.
	Dir string
	// VCL is the path of the rendered VCL that varnishd loaded.
	VCL string

	t    testing.TB
	port int
	mu   sync.Mutex
	cmd  *exec.Cmd
	done <-chan struct{}
	out  *SyncBuffer
}

// StartVarnish starts varnishd in the foreground on a free loopback port
// with the VCL at vclPath, its default backend rewritten to backendAddr
// (host:port), a 64 MB malloc store and no jail, and stops it when t ends.
// It returns once Varnish answers HTTP. varnishd missing, or the xkey vmod
// missing, fails t saying to install Debian's varnish and varnish-modules.
func StartVarnish(t testing.TB, backendAddr, vclPath string) *Varnish {
	t.Helper()
	src, err := os.ReadFile(vclPath)
	if err != nil {
		t.Fatalf("varnish: read VCL: %v", err)
	}
	rendered, err := RenderVCL(src, backendAddr)
	if err != nil {
		t.Fatalf("varnish: %s: %v", vclPath, err)
	}
	dir := t.TempDir()
	v := &Varnish{t: t, Dir: filepath.Join(dir, "varnish"), VCL: filepath.Join(dir, "cachegate.vcl")}
	if err := os.WriteFile(v.VCL, rendered, 0o644); err != nil {
		t.Fatalf("varnish: write VCL: %v", err)
	}
	for attempt := 0; attempt < 3; attempt++ {
		v.port = FreePort(t)
		if err = v.start(); err == nil {
			t.Cleanup(v.Stop)
			return v
		}
		if !strings.Contains(err.Error(), "ddress already in use") {
			break
		}
	}
	t.Fatalf("varnishd: %v", err)
	return nil
}

// ShippedVCL returns the path of the VCL the project ships
// (deploy/varnish/cachegate.vcl), found from the test's working directory
// upwards to the module root, for StartVarnish from any package.
func ShippedVCL(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatalf("varnish: %v", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			p := filepath.Join(dir, "deploy", "varnish", "cachegate.vcl")
			if _, err := os.Stat(p); err != nil {
				t.Fatalf("varnish: the shipped VCL: %v", err)
			}
			return p
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("varnish: no go.mod above the working directory")
		}
		dir = parent
	}
}

// varnishdPath finds varnishd, which Debian installs in /usr/sbin, often
// not on a test's PATH.
func varnishdPath(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("varnishd"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/varnishd", "/usr/local/sbin/varnishd"} {
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	return Binary(t, "varnishd", "varnish varnish-modules")
}

func (v *Varnish) start() error {
	bin := varnishdPath(v.t)
	v.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(v.port))
	v.URL = "http://" + v.Addr
	args := []string{
		"-F",         // foreground: the process is ours to stop
		"-j", "none", // no jail: works as root and as an ordinary user
		"-n", v.Dir,
		"-a", v.Addr,
		"-f", v.VCL,
		"-s", "malloc,64m",
		// Small shared-memory log and thread pool: fast startup, little disk.
		"-p", "vsl_space=1M",
		"-p", "thread_pools=1",
		"-p", "thread_pool_min=5",
		"-p", "thread_pool_max=100",
		// A worker adds its counters to the global ones after a job only
		// when the stats lock is free, else after up to this many jobs: at
		// the default 10, a test's last few requests could stay uncounted
		// in an idle worker (varnishstat read too few hits).
		"-p", "thread_stats_rate=1",
	}
	cmd, done, out, err := startProcess(bin, args...)
	if err != nil {
		return err
	}
	v.mu.Lock()
	v.cmd, v.done, v.out = cmd, done, out
	v.mu.Unlock()

	err = v.awaitServing(done, 20*time.Second)
	if err == nil {
		return nil
	}
	v.kill()
	msg := out.String()
	if strings.Contains(msg, "Could not find VMOD") || strings.Contains(msg, "libvmod_xkey") {
		return fmt.Errorf("the xkey vmod is missing: install Debian's varnish-modules (apt-get install varnish varnish-modules); output: %s", msg)
	}
	return fmt.Errorf("not serving: %w; output: %s", err, msg)
}

// awaitServing polls until Varnish answers HTTP (any status: the backend
// may be down), varnishd exits (a VCL error, a port taken) or timeout.
func (v *Varnish) awaitServing(exited <-chan struct{}, timeout time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(timeout)
	delay := 5 * time.Millisecond
	for {
		resp, err := client.Get(v.URL + "/.cachegate-testenv-ready")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still not serving after %v: %w", timeout, err)
		}
		select {
		case <-exited:
			return errors.New("varnishd exited")
		case <-time.After(delay):
		}
		if delay < 50*time.Millisecond {
			delay *= 2
		}
	}
}

func (v *Varnish) kill() {
	v.mu.Lock()
	cmd, done := v.cmd, v.done
	v.cmd = nil
	v.mu.Unlock()
	if cmd == nil || cmd.Process == nil {
		return
	}
	// SIGTERM lets the manager stop its child; SIGKILL if it hangs (the
	// child exits on its own when the manager dies).
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
}

// Stop stops varnishd (an outage, for tests of failure); the port is freed.
func (v *Varnish) Stop() { v.kill() }

// Restart starts varnishd again on the same port with the same VCL and an
// empty cache, as after a crash of one node.
func (v *Varnish) Restart() {
	v.t.Helper()
	v.kill()
	if err := v.start(); err != nil {
		v.t.Fatalf("restart varnishd: %v", err)
	}
}

// Output is what varnishd printed so far, for failure messages.
func (v *Varnish) Output() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.out == nil {
		return ""
	}
	return v.out.String()
}

var (
	vclBackend = regexp.MustCompile(`(?s)backend\s+default\s*\{.*?\n\}`)
	vclHost    = regexp.MustCompile(`\.host\s*=\s*"[^"]*"\s*;`)
	vclPort    = regexp.MustCompile(`\.port\s*=\s*"[^"]*"\s*;`)
)

// RenderVCL returns src with the .host and .port of its "backend default"
// block set to backendAddr (host:port), the way an operator edits the
// shipped VCL for a site.
func RenderVCL(src []byte, backendAddr string) ([]byte, error) {
	host, port, err := net.SplitHostPort(backendAddr)
	if err != nil {
		return nil, fmt.Errorf("backend address %q: %w", backendAddr, err)
	}
	if host == "" || strings.ContainsAny(host+port, "\"\n") {
		return nil, fmt.Errorf("backend address %q: need host:port", backendAddr)
	}
	loc := vclBackend.FindIndex(src)
	if loc == nil {
		return nil, errors.New(`no "backend default { ... }" block`)
	}
	block := src[loc[0]:loc[1]]
	if !vclHost.Match(block) || !vclPort.Match(block) {
		return nil, errors.New(`"backend default" block lacks .host or .port`)
	}
	block = vclHost.ReplaceAllLiteral(block, []byte(`.host = "`+host+`";`))
	block = vclPort.ReplaceAllLiteral(block, []byte(`.port = "`+port+`";`))
	out := make([]byte, 0, len(src)+len(backendAddr))
	out = append(out, src[:loc[0]]...)
	out = append(out, block...)
	return append(out, src[loc[1]:]...), nil
}
