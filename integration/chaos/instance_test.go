package chaos_test

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cachegate/cachegate/internal/testenv"
)

// instance is one `cachegate serve` process, restartable on the same
// ports; its output of every run is appended to one log file.
type instance struct {
	i         int
	bin       string
	args, env []string
	// gw and admin are host:port of the gateway and admin listeners.
	gw, admin string
	logPath   string

	cmd  *exec.Cmd
	done chan struct{}
	runs int
}

func (in *instance) String() string { return fmt.Sprintf("instance %d", in.i) }

// start runs the process and waits until /readyz answers 200.
func (in *instance) start(t testing.TB) {
	t.Helper()
	log, err := os.OpenFile(in.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	in.runs++
	fmt.Fprintf(log, "=== run %d started %s\n", in.runs, time.Now().Format(time.RFC3339Nano))
	cmd := exec.Command(in.bin, in.args...)
	cmd.Env = in.env
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		log.Close()
		t.Fatalf("%v: %v", in, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); log.Close(); close(done) }()
	in.cmd, in.done = cmd, done
	in.waitReady(t)
}

// waitReady polls /readyz until 200; the process exiting fails t with
// the end of its log.
func (in *instance) waitReady(t testing.TB) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	err := testenv.Poll(30*time.Second, func() error {
		select {
		case <-in.done:
			return fmt.Errorf("%v exited", in)
		default:
		}
		resp, err := client.Get("http://" + in.admin + "/readyz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%v: /readyz %d", in, resp.StatusCode)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v not ready: %v\nlog:\n%s", in, err, in.tail(40, false))
	}
}

// kill is kill -9: no shutdown, nothing flushed.
func (in *instance) kill(t testing.TB) {
	t.Helper()
	if err := in.cmd.Process.Kill(); err != nil {
		t.Fatalf("kill %v: %v", in, err)
	}
	<-in.done
}

// pause and resume are SIGSTOP and SIGCONT: the process keeps its sockets
// and state but does nothing, heartbeats included.
func (in *instance) pause(t testing.TB)  { in.signal(t, syscall.SIGSTOP) }
func (in *instance) resume(t testing.TB) { in.signal(t, syscall.SIGCONT) }

func (in *instance) signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := in.cmd.Process.Signal(sig); err != nil {
		t.Fatalf("%v: %v: %v", in, sig, err)
	}
}

// stop ends the process as an operator does (SIGTERM), killing it if it
// does not stop within 20 s.
func (in *instance) stop(t testing.TB) {
	select {
	case <-in.done:
		return
	default:
	}
	_ = in.cmd.Process.Signal(syscall.SIGCONT) // a paused process cannot stop
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-in.done:
	case <-time.After(20 * time.Second):
		t.Errorf("%v did not stop within 20s of SIGTERM", in)
		_ = in.cmd.Process.Kill()
		<-in.done
	}
}

// tail returns the last n lines of the log, only warnings and errors when
// problems is set.
func (in *instance) tail(n int, problems bool) string {
	f, err := os.Open(in.logPath)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		l := sc.Text()
		if problems && !strings.Contains(l, "level=WARN") && !strings.Contains(l, "level=ERROR") && !strings.HasPrefix(l, "===") {
			continue
		}
		lines = append(lines, l)
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
