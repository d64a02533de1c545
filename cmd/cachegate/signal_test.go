package main

import (
	"os"
	"os/exec"
	"regexp"
	"syscall"
	"testing"
	"time"
)

// asMainEnv makes the test binary run main() instead of the tests, so that
// a test can run the real command as a process and signal it.
const asMainEnv = "CACHEGATE_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
		main()
		return
	}
	os.Exit(m.Run())
}

// TestDemoStopsOnSignal runs `cachegate demo` as its own process and stops
// it with SIGINT and SIGTERM: it exits 0, after shutting down.
func TestDemoStopsOnSignal(t *testing.T) {
	t.Parallel()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			t.Parallel()
			stdout, stderr := newOutput(), newOutput()
			cmd := exec.Command(exe, "demo", "--traffic=false",
				"--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0",
				"--origin-listen", "127.0.0.1:0", "--nats-listen", "127.0.0.1:0")
			cmd.Env = append(os.Environ(), asMainEnv+"=1")
			cmd.Stdout, cmd.Stderr = stdout, stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			exited := make(chan struct{})
			var waitErr error
			go func() { waitErr = cmd.Wait(); close(exited) }()
			t.Cleanup(func() {
				select {
				case <-exited:
				default:
					_ = cmd.Process.Kill()
					<-exited
				}
			})
			m := stdout.await(t, regexp.MustCompile(`(?m)^gateway listening on (\S+)$`), exited, startTimeout)
			stdout.await(t, regexp.MustCompile(`(?m)^started .*; Ctrl-C stops$`), exited, startTimeout)
			if r := get(t, m[1], "acme.localhost", "/"); r.status != 200 {
				t.Fatalf("the demo process answers %v", r)
			}
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			select {
			case <-exited:
			case <-time.After(20 * time.Second):
				t.Fatalf("the demo did not exit within 20s of %v; stderr:\n%s", sig, stderr)
			}
			if waitErr != nil {
				t.Fatalf("the demo ended with %v after %v; stderr:\n%s", waitErr, sig, stderr)
			}
			stderr.await(t, regexp.MustCompile(`shutting down`), make(chan struct{}), time.Second)
		})
	}
}
