package testenv

import (
	"bytes"
	"os/exec"
	"sync"
)

// startProcess starts bin with args, its output collected in out; done is
// closed once the process has exited and been reaped.
func startProcess(bin string, args ...string) (cmd *exec.Cmd, done <-chan struct{}, out *SyncBuffer, err error) {
	cmd = exec.Command(bin, args...)
	out = &SyncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, nil, nil, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	return cmd, exited, out, nil
}

// SyncBuffer collects output (a server's, a logger's) that goroutines
// write while a test reads it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
