package outbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cachegate/cachegate/events"
)

// Defaults of Config.
const (
	DefaultMaxEvents  = 10000
	DefaultMaxBytes   = 64 << 20
	DefaultRetryDelay = 2 * time.Second
)

// ErrFull is returned when the outbox holds MaxEvents or MaxBytes: the
// event was not accepted anywhere.
var ErrFull = errors.New("outbox: full; the event was not accepted")

// Publisher is where the outbox delivers: *events.Publisher.
type Publisher interface {
	Publish(ctx context.Context, e events.Event) (string, error)
}

var _ Publisher = (*events.Publisher)(nil)

// Config configures an Outbox.
type Config struct {
	// Dir holds the outbox files; required. It is created if missing.
	Dir string
	// MaxEvents and MaxBytes bound what the outbox holds; 0 means
	// DefaultMaxEvents and DefaultMaxBytes.
	MaxEvents int
	MaxBytes  int64
	// RetryDelay is the wait between delivery attempts while JetStream
	// does not confirm; 0 means DefaultRetryDelay.
	RetryDelay time.Duration
	// Logger; nil discards.
	Logger *slog.Logger
}

// Validate reports a configuration Open would refuse.
func (c Config) Validate() error {
	if c.Dir == "" {
		return errors.New("outbox: Dir is required")
	}
	if c.MaxEvents < 0 || c.MaxBytes < 0 || c.RetryDelay < 0 {
		return errors.New("outbox: negative limit or delay")
	}
	return nil
}

// Where says which guarantee a receipt carries.
type Where string

const (
	// InJetStream: stored in JetStream; the coordinator will apply it.
	InJetStream Where = "jetstream"
	// InOutbox: stored on this host's disk only; delivered to JetStream
	// once NATS is back. Lost if this host's disk is lost.
	InOutbox Where = "outbox"
)

// Receipt is the answer to Publish.
type Receipt struct {
	ID    string
	Where Where
}

// Outbox publishes through a Publisher, spooling to disk what JetStream
// does not confirm.
type Outbox struct {
	cfg  Config
	pub  Publisher
	log  *slog.Logger
	lock *os.File

	mu    sync.Mutex
	files []string // spooled, oldest first
	bytes int64
	seq   uint64

	wake   chan struct{}
	cancel context.CancelFunc
	done   chan struct{}
}

// Open opens (or creates) the outbox in cfg.Dir, takes its lock and
// starts delivering what it holds through pub. Close stops it.
func Open(pub Publisher, cfg Config) (*Outbox, error) {
	if pub == nil {
		return nil, errors.New("outbox: nil publisher")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.MaxEvents == 0 {
		cfg.MaxEvents = DefaultMaxEvents
	}
	if cfg.MaxBytes == 0 {
		cfg.MaxBytes = DefaultMaxBytes
	}
	if cfg.RetryDelay == 0 {
		cfg.RetryDelay = DefaultRetryDelay
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(cfg.Dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("outbox: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("outbox: %s is in use by another process: %w", cfg.Dir, err)
	}
	o := &Outbox{cfg: cfg, pub: pub, log: log.With("component", "outbox"), lock: lock,
		wake: make(chan struct{}, 1), done: make(chan struct{})}
	if err := o.load(); err != nil {
		lock.Close()
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	o.cancel = cancel
	go o.deliver(ctx)
	return o, nil
}

// load lists the spooled files left by an earlier run.
func (o *Outbox) load() error {
	entries, err := os.ReadDir(o.cfg.Dir)
	if err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".event") {
			if strings.HasSuffix(name, ".tmp") {
				_ = os.Remove(filepath.Join(o.cfg.Dir, name)) // never renamed: never acknowledged to a caller
			}
			continue
		}
		info, err := e.Info()
		if err != nil {
			return fmt.Errorf("outbox: %w", err)
		}
		o.files = append(o.files, name)
		o.bytes += info.Size()
	}
	slices.Sort(o.files) // names start with a fixed-width time and sequence
	return nil
}

// Len is how many events wait in the outbox.
func (o *Outbox) Len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.files)
}

// Publish stores e in JetStream, or, when JetStream does not confirm it,
// in the outbox. An invalid event is an error wrapping
// events.ErrInvalidEvent; a full outbox, ErrFull.
func (o *Outbox) Publish(ctx context.Context, e events.Event) (Receipt, error) {
	if e.ID == "" {
		e.ID = events.NewID()
	}
	if e.OccurredAt.IsZero() {
		e.OccurredAt = time.Now().UTC()
	}
	if err := e.Validate(); err != nil {
		return Receipt{ID: e.ID}, err
	}
	if o.Len() == 0 { // otherwise NATS was away a moment ago: keep the queue's order
		id, err := o.pub.Publish(ctx, e)
		if err == nil {
			return Receipt{ID: id, Where: InJetStream}, nil
		}
		if !errors.Is(err, events.ErrNotAccepted) {
			return Receipt{ID: e.ID}, err
		}
	}
	if err := o.spool(e); err != nil {
		return Receipt{ID: e.ID}, err
	}
	return Receipt{ID: e.ID, Where: InOutbox}, nil
}

// spool writes e to a new file, durably, and queues it.
func (o *Outbox) spool(e events.Event) error {
	b, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("outbox: encode: %w", err)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.files) >= o.cfg.MaxEvents || o.bytes+int64(len(b)) > o.cfg.MaxBytes {
		return fmt.Errorf("%w (%d events, %d bytes)", ErrFull, len(o.files), o.bytes)
	}
	o.seq++
	name := fmt.Sprintf("%020d-%010d.event", time.Now().UnixNano(), o.seq)
	if err := writeDurably(o.cfg.Dir, name, b); err != nil {
		return fmt.Errorf("outbox: %w", err)
	}
	o.files = append(o.files, name)
	o.bytes += int64(len(b))
	select {
	case o.wake <- struct{}{}:
	default:
	}
	return nil
}

// writeDurably writes dir/name so that it exists whole, or not at all,
// after a crash: a temporary file, fsynced, renamed, and the directory
// fsynced.
func writeDurably(dir, name string, b []byte) error {
	tmp := filepath.Join(dir, name+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Close stops delivering; what is left stays in the outbox for the next
// Open.
func (o *Outbox) Close() error {
	o.cancel()
	<-o.done
	return o.lock.Close()
}

// deliver sends the spooled events, oldest first, until ctx ends.
func (o *Outbox) deliver(ctx context.Context) {
	defer close(o.done)
	for {
		o.mu.Lock()
		var next string
		if len(o.files) > 0 {
			next = o.files[0]
		}
		o.mu.Unlock()
		if next == "" {
			select {
			case <-ctx.Done():
				return
			case <-o.wake:
				continue
			}
		}
		if err := o.send(ctx, next); err != nil {
			if ctx.Err() == nil {
				o.log.Debug("outbox delivery waits", "err", err)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(o.cfg.RetryDelay):
			}
		}
	}
}

// send publishes one file and removes it once JetStream has it.
func (o *Outbox) send(ctx context.Context, name string) error {
	path := filepath.Join(o.cfg.Dir, name)
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var e events.Event
	err = json.Unmarshal(b, &e)
	if err == nil {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err = o.pub.Publish(pctx, e)
		cancel()
		if err != nil && !errors.Is(err, events.ErrInvalidEvent) {
			return err
		}
	}
	if err != nil {
		// It can never be published: set aside, visibly, not retried.
		o.log.Error("outbox event set aside as invalid", "file", name, "err", err)
		if rerr := os.Rename(path, path+".invalid"); rerr != nil {
			return rerr
		}
	} else if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	o.mu.Lock()
	o.files = o.files[1:]
	o.bytes -= int64(len(b))
	o.mu.Unlock()
	return nil
}

var _ io.Closer = (*Outbox)(nil)
