package natsserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/cachegate/cachegate/internal/setting"
)

// SeedFileName is the name of the client seed file in the store directory.
const SeedFileName = "client.nk"

// Config configures the embedded NATS server.
type Config struct {
	// Listen is host:port for other processes (a second instance, the nats
	// CLI); "" means no TCP listener at all, port 0 any free port, an
	// empty host every interface.
	Listen string
	// StoreDir holds the JetStream store (e.g. "<data dir>/nats") and,
	// with Listen, the client seed file; required.
	StoreDir string
}

// Validate reports a configuration Start would refuse, each problem a
// *setting.Error named as the config file spells the setting.
func (c Config) Validate() error {
	if c.StoreDir == "" {
		return setting.Errorf("data_dir", "natsserver: a store directory is required")
	}
	if c.Listen != "" {
		if _, _, err := splitListen(c.Listen); err != nil {
			return &setting.Error{Field: "nats.embedded_listen", Err: err}
		}
	}
	return nil
}

func splitListen(listen string) (string, int, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("natsserver: listen %q: %w", listen, err)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return "", 0, fmt.Errorf("natsserver: listen %q: bad port", listen)
	}
	if p == 0 {
		p = server.RANDOM_PORT
	}
	return host, p, nil
}

// Server is a running embedded NATS server with JetStream.
type Server struct {
	srv      *server.Server
	key      nkeys.KeyPair
	seedFile string
}

// Start starts the server and returns once it accepts clients.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.StoreDir, 0o700); err != nil {
		return nil, fmt.Errorf("natsserver: store directory: %w", err)
	}
	s := &Server{}
	var err error
	if cfg.Listen == "" {
		// Nothing outside this process can connect; the key still guards
		// the server should a listener ever be added by mistake.
		s.key, err = nkeys.CreateUser()
	} else {
		s.seedFile = filepath.Join(cfg.StoreDir, SeedFileName)
		s.key, err = loadOrCreateSeed(s.seedFile)
	}
	if err != nil {
		return nil, err
	}
	pub, err := s.key.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("natsserver: client key: %w", err)
	}
	opts := &server.Options{
		ServerName: "cachegate",
		JetStream:  true,
		StoreDir:   cfg.StoreDir,
		NoSigs:     true,
		NoLog:      true,
		Nkeys:      []*server.NkeyUser{{Nkey: pub}},
		DontListen: cfg.Listen == "",
	}
	if cfg.Listen != "" {
		opts.Host, opts.Port, _ = splitListen(cfg.Listen)
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsserver: %w", err)
	}
	go srv.Start()
	deadline := 30 * time.Second
	if d, ok := ctx.Deadline(); ok {
		deadline = time.Until(d)
	}
	if !srv.ReadyForConnections(deadline) {
		srv.Shutdown()
		return nil, fmt.Errorf("natsserver: not ready within %v", deadline)
	}
	if !srv.JetStreamEnabled() {
		srv.Shutdown()
		return nil, errors.New("natsserver: started without JetStream")
	}
	s.srv = srv
	return s, nil
}

// loadOrCreateSeed reads the user seed at path, or writes a new one there
// (0600) when there is none. Other processes configured with the file keep
// working across restarts.
func loadOrCreateSeed(path string) (nkeys.KeyPair, error) {
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		kp, err := nkeys.CreateUser()
		if err != nil {
			return nil, fmt.Errorf("natsserver: client key: %w", err)
		}
		seed, _ := kp.Seed()
		// O_EXCL: two processes sharing a store directory must not
		// overwrite each other's key (the second fails to start the
		// server on the locked store anyway).
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("natsserver: seed file: %w", err)
		}
		_, werr := f.Write(append(seed, '\n'))
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return nil, fmt.Errorf("natsserver: seed file: %w", werr)
		}
		return kp, nil
	case err != nil:
		return nil, fmt.Errorf("natsserver: seed file: %w", err)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("natsserver: seed file: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("natsserver: seed file %s is readable by others (mode %v): chmod 600 it, or delete it to get a new key", path, st.Mode().Perm())
	}
	kp, err := nkeys.FromSeed(bytes.TrimSpace(data))
	if err != nil {
		return nil, fmt.Errorf("natsserver: seed file %s: %w", path, err)
	}
	if pub, err := kp.PublicKey(); err != nil || !nkeys.IsValidPublicUserKey(pub) {
		return nil, fmt.Errorf("natsserver: seed file %s does not hold a user seed", path)
	}
	return kp, nil
}

// ClientOptions connect a nats.go client in this process to the server,
// in-process (no socket) and authenticated; pass them to nats.Connect with
// any URL (ClientURL is fine).
func (s *Server) ClientOptions() []nats.Option {
	pub, _ := s.key.PublicKey()
	return []nats.Option{
		nats.InProcessServer(s.srv),
		nats.Nkey(pub, s.key.Sign),
	}
}

// ClientURL is the URL for nats.Connect with ClientOptions: the listen URL
// when there is one, else a placeholder nats.go needs but never dials.
func (s *Server) ClientURL() string {
	if u := s.URL(); u != "" {
		return u
	}
	return "nats://in-process"
}

// URL is the client URL of the listener, e.g. nats://127.0.0.1:4222 (the
// bound port when 0 was asked for); "" without a listener.
func (s *Server) URL() string {
	if s.srv.Addr() == nil {
		return ""
	}
	return s.srv.ClientURL()
}

// Addr is the address actually bound; nil without a listener.
func (s *Server) Addr() net.Addr { return s.srv.Addr() }

// SeedFile is the seed file other processes authenticate with (nats.go's
// NkeyOptionFromSeed, cachegate's nats.nkey_seed, nats --nkey); "" without
// a listener.
func (s *Server) SeedFile() string { return s.seedFile }

// Shutdown stops the server and waits for it; JetStream data stays in the
// store directory.
func (s *Server) Shutdown() {
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
}
