package testenv

import (
	"bytes"
	"os/exec"
	"sync"
)

// startProcess starts bin with args, its output collected in out; done is
// closed once the process has exited and been reaped.
func startProcess(bin string, args ...string) (cmd *exec.Cmd, done <-chan struct{}, out *syncBuffer, err error) {
	cmd = exec.Command(bin, args...)
	out = &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		return nil, nil, nil, err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	return cmd, exited, out, nil
}

// syncBuffer collects a server's output while tests read it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
