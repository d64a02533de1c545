package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of InstanceConfig.
const (
	DefaultHeartbeat = time.Second
	// DefaultTTLFactor × Heartbeat is how long an instance stays live
	// without a heartbeat.
	DefaultTTLFactor = 3
)

// InstanceConfig configures an Instance. The zero value is valid.
type InstanceConfig struct {
	// ID names the instance in the registry and its acks; "" means a
	// generated one.
	ID string
	// Heartbeat is the registry refresh interval; 0 means DefaultHeartbeat.
	Heartbeat time.Duration
	// TTL is how long after a heartbeat the coordinator still awaits this
	// instance's acks; 0 means DefaultTTLFactor × Heartbeat. A dead
	// instance stalls invalidations for at most this long.
	TTL time.Duration
	// L2Guard, when the gateway reads a shared L2 through it, is kept up
	// to date with the invalidations L2 has not recorded yet; Start
	// returns once it has read them all. nil means none.
	L2Guard *L2Guard
	// Logger; nil discards.
	Logger *slog.Logger
	// Registerer for metrics; nil registers none.
	Registerer prometheus.Registerer
}

// Validate reports a configuration NewInstance would refuse.
func (c InstanceConfig) Validate() error {
	if c.Heartbeat < 0 || c.TTL < 0 {
		return errors.New("events: negative heartbeat or ttl")
	}
	hb := c.Heartbeat
	if hb == 0 {
		hb = DefaultHeartbeat
	}
	if c.TTL != 0 && c.TTL <= hb {
		return fmt.Errorf("events: instance ttl %v must exceed the heartbeat %v", c.TTL, hb)
	}
	if c.ID != "" && idToken(c.ID) != c.ID {
		return fmt.Errorf("events: instance id %q: only letters, digits, '_' and '-', at most 64", c.ID)
	}
	return nil
}

// Instance is one gateway process's part: it applies L1 broadcasts to its
// LocalInvalidator and acks them, heartbeats in the registry, and drops
// its L1 around NATS disconnects.
type Instance struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	local   LocalInvalidator
	cfg     InstanceConfig
	log     *slog.Logger
	metrics *instanceMetrics

	kv      jetstream.KeyValue
	pendKV  jetstream.KeyValue // with an L2Guard
	sub     *nats.Subscription
	status  chan nats.Status
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	started time.Time

	mu       sync.Mutex // serializes L1 enable/drop transitions
	disabled bool

	// The L1 lease: L1 may serve only until leaseEnd, which each
	// successful registry write moves to its start + TTL − leaseMargin.
	// The coordinator awaits this instance until that write's arrival +
	// TTL, and arrival is never before the start, so the instance gives
	// up L1 before the coordinator gives up on it, also when the
	// connection goes silent without closing (the client would notice
	// only when pings fail, minutes later).
	leaseMu  sync.Mutex
	leaseEnd time.Time
	renewed  chan struct{}

	closeOnce sync.Once
	closeErr  error
}

// NewInstance returns an Instance on js's connection; local is required.
func NewInstance(js jetstream.JetStream, local LocalInvalidator, cfg InstanceConfig) (*Instance, error) {
	if js == nil || local == nil {
		return nil, errors.New("events: instance needs a JetStream and a LocalInvalidator")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ID == "" {
		cfg.ID = NewID()
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultTTLFactor * cfg.Heartbeat
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	m, err := newInstanceMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	return &Instance{nc: js.Conn(), js: js, local: local, cfg: cfg, metrics: m,
		log: log.With("instance", cfg.ID)}, nil
}

// ID is the instance's registry id.
func (i *Instance) ID() string { return i.cfg.ID }

// Start subscribes to the L1 broadcasts and then registers, so that once
// the coordinator counts this instance it also reaches it. It runs until
// ctx is cancelled or Close is called.
func (i *Instance) Start(ctx context.Context) error {
	kv, err := i.js.KeyValue(ctx, RegistryBucket)
	if err != nil {
		return fmt.Errorf("events: bucket %s: %w (is Setup done?)", RegistryBucket, err)
	}
	i.kv = kv
	i.ctx, i.cancel = context.WithCancel(context.WithoutCancel(ctx))
	i.started = time.Now().UTC()
	i.renewed = make(chan struct{}, 1)
	// Listen for status changes before anything can go wrong.
	i.status = i.nc.StatusChanged(nats.CONNECTED, nats.RECONNECTING, nats.DISCONNECTED, nats.CLOSED)
	fail := func(err error) error {
		i.stop()
		i.cancel()
		i.cancel = nil // Close has nothing to undo
		return err
	}
	sub, err := i.nc.Subscribe(L1Subject, i.handle)
	if err != nil {
		return fail(fmt.Errorf("events: subscribe %s: %w", L1Subject, err))
	}
	// A dropped broadcast is a missed invalidation: allow a deep backlog,
	// and drop L1 if one is ever dropped anyway (see heartbeat).
	_ = sub.SetPendingLimits(1<<20, 256<<20)
	i.sub = sub
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := i.nc.FlushWithContext(fctx); err != nil {
		return fail(fmt.Errorf("events: flush subscription: %w", err))
	}
	if g := i.cfg.L2Guard; g != nil {
		// After the subscription, so that no pending invalidation falls
		// between what the bucket holds and what broadcasts bring.
		pkv, err := i.js.KeyValue(ctx, PendingBucket)
		if err != nil {
			return fail(fmt.Errorf("events: bucket %s: %w (is Setup done?)", PendingBucket, err))
		}
		i.pendKV = pkv
		if err := g.watch(i.ctx, pkv, i.log); err != nil {
			return fail(err)
		}
	}
	if err := i.register(ctx); err != nil {
		return fail(err)
	}
	i.local.SetLocalLease(i.leaseEndTime())
	i.wg.Add(3)
	go i.watchStatus()
	go i.heartbeat()
	go i.watchLease()
	go func() {
		select {
		case <-ctx.Done():
			i.Close()
		case <-i.ctx.Done():
		}
	}()
	return nil
}

// Close deregisters the instance and stops it. The L1 is left as it is.
func (i *Instance) Close() error {
	if i.cancel == nil {
		return nil
	}
	i.closeOnce.Do(func() { i.closeErr = i.close() })
	return i.closeErr
}

func (i *Instance) close() error {
	i.cancel()
	i.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := i.kv.Delete(ctx, i.cfg.ID)
	i.stop()
	if err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		return fmt.Errorf("events: deregister %s: %w", i.cfg.ID, err)
	}
	return nil
}

func (i *Instance) stop() {
	if i.sub != nil {
		_ = i.sub.Unsubscribe()
	}
	i.nc.RemoveStatusListener(i.status)
}

// register writes the registry entry and, once it is stored, renews the
// L1 lease from the time the write began.
func (i *Instance) register(ctx context.Context) error {
	start := time.Now()
	b, _ := json.Marshal(instanceInfo{ID: i.cfg.ID, TTL: i.cfg.TTL, Started: i.started})
	if _, err := i.kv.Put(ctx, i.cfg.ID, b); err != nil {
		return fmt.Errorf("events: register instance %s: %w", i.cfg.ID, err)
	}
	i.renew(start)
	return nil
}

// leaseMargin is how long before the coordinator's view of this instance
// expires it stops serving L1: room for requests already past their L1
// lookup and for clock rate drift. It stays below TTL − Heartbeat, so
// that on-time heartbeats never let the lease run out.
func (i *Instance) leaseMargin() time.Duration {
	return min(i.cfg.TTL/10, (i.cfg.TTL-i.cfg.Heartbeat)/2)
}

func (i *Instance) renew(start time.Time) {
	end := start.Add(i.cfg.TTL - i.leaseMargin())
	i.leaseMu.Lock()
	if end.After(i.leaseEnd) {
		// An expired lease is not extended here: the L1 it guarded may
		// have missed broadcasts, and only reconnected, after a drop,
		// hands L1 a lease again.
		if time.Now().Before(i.leaseEnd) {
			i.local.SetLocalLease(end)
		}
		i.leaseEnd = end
	}
	i.leaseMu.Unlock()
	select {
	case i.renewed <- struct{}{}:
	default: // a renewal is already pending; it reads the latest end
	}
}

func (i *Instance) leaseEndTime() time.Time {
	i.leaseMu.Lock()
	defer i.leaseMu.Unlock()
	return i.leaseEnd
}

func (i *Instance) leaseLeft() time.Duration {
	i.leaseMu.Lock()
	defer i.leaseMu.Unlock()
	return time.Until(i.leaseEnd)
}

// watchLease disables and drops L1 when the lease runs out; a later
// successful heartbeat re-enables it through reconnected.
func (i *Instance) watchLease() {
	defer i.wg.Done()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	for {
		if left := i.leaseLeft(); left > 0 {
			t.Reset(left)
		} else {
			i.leaseExpired()
			t.Stop() // until a renewal
		}
		select {
		case <-i.ctx.Done():
			return
		case <-i.renewed:
		case <-t.C:
		}
	}
}

func (i *Instance) leaseExpired() {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.disabled || i.leaseLeft() > 0 {
		return
	}
	i.log.Warn("no successful heartbeat within the registry ttl; L1 disabled and dropped until one succeeds",
		"ttl", i.cfg.TTL, "status", i.nc.Status().String())
	i.local.SetLocalEnabled(false)
	i.disabled = true
	i.drop("heartbeat expired")
}

// handle applies one broadcast and acks it. An invalidation the L1 cannot
// apply turns into a whole drop, which is always correct.
func (i *Instance) handle(m *nats.Msg) {
	var b l1Broadcast
	ack := l1Ack{Instance: i.cfg.ID}
	if err := json.Unmarshal(m.Data, &b); err != nil {
		i.log.Warn("bad L1 broadcast; dropping L1", "err", err)
		ack.Error = i.drop("bad broadcast")
	} else {
		ack.Batch = b.Batch
		if g := i.cfg.L2Guard; g != nil {
			for k, r := range b.Pending {
				g.put(k, r)
			}
		}
		for _, req := range b.Reqs {
			if err := i.local.InvalidateLocal(i.ctx, req); err != nil {
				i.log.Warn("L1 invalidation failed; dropping L1", "id", req.ID, "tenant", req.Tenant, "err", err)
				ack.Error = i.drop("invalidation error")
				break
			}
			i.metrics.invalidations.Inc()
		}
	}
	if m.Reply == "" {
		return
	}
	out, _ := json.Marshal(ack)
	if err := i.nc.Publish(m.Reply, out); err != nil {
		i.log.Warn("L1 ack not sent", "batch", b.Batch, "err", err)
	}
}

// drop drops the whole L1, returning a message for an ack if it failed.
func (i *Instance) drop(why string) string {
	i.metrics.drops.WithLabelValues(why).Inc()
	if err := i.local.DropLocal(i.ctx); err != nil {
		i.log.Error("L1 drop failed", "reason", why, "err", err)
		return "L1 drop failed: " + err.Error()
	}
	return ""
}

func (i *Instance) watchStatus() {
	defer i.wg.Done()
	for {
		select {
		case <-i.ctx.Done():
			return
		case s, ok := <-i.status:
			if !ok {
				return
			}
			if s == nats.CONNECTED {
				i.reconnected()
			} else {
				i.disconnected(s)
			}
		}
	}
}

// disconnected stops L1 use: while away, broadcasts may be missed.
func (i *Instance) disconnected(s nats.Status) {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.disabled {
		return
	}
	i.log.Warn("NATS connection lost; L1 disabled and dropped", "status", s.String())
	i.local.SetLocalEnabled(false)
	i.disabled = true
	i.drop("disconnect")
}

// reconnected waits until the server has our subscription again and a
// registry write succeeds (renewing the lease), then drops what L1 holds
// and enables it: broadcasts from here on arrive, and the coordinator
// awaits our acks again. If the write fails, L1 stays off and the next
// heartbeat tries again.
func (i *Instance) reconnected() {
	i.mu.Lock()
	defer i.mu.Unlock()
	for {
		ctx, cancel := context.WithTimeout(i.ctx, time.Second)
		err := i.nc.FlushWithContext(ctx)
		cancel()
		if err == nil {
			break
		}
		if i.ctx.Err() != nil || i.nc.Status() != nats.CONNECTED {
			return // a later status change brings us back here
		}
	}
	ctx, cancel := context.WithTimeout(i.ctx, i.cfg.Heartbeat)
	defer cancel()
	if err := i.register(ctx); err != nil {
		i.log.Warn("re-register failed; L1 stays disabled", "err", err)
		return
	}
	if g := i.cfg.L2Guard; g != nil {
		// Pending invalidations written while away are known before L1
		// (and its refills from L2) serve again.
		if err := g.resync(ctx, i.pendKV); err != nil {
			i.log.Warn("pending L2 invalidations not read; L1 stays disabled", "err", err)
			return
		}
	}
	i.drop("reconnect")
	i.local.SetLocalLease(i.leaseEndTime())
	i.local.SetLocalEnabled(true)
	i.disabled = false
	i.log.Info("NATS connection and heartbeat back; L1 dropped and re-enabled")
}

func (i *Instance) heartbeat() {
	defer i.wg.Done()
	t := time.NewTicker(i.cfg.Heartbeat)
	defer t.Stop()
	var dropped int
	for {
		select {
		case <-i.ctx.Done():
			return
		case <-t.C:
		}
		// A status change dropped by the client (its listener buffer is
		// small) must not leave L1 on while cut off, or off for good; an
		// expired lease is lifted here too, once the connection works.
		i.mu.Lock()
		disabled := i.disabled
		i.mu.Unlock()
		switch st := i.nc.Status(); {
		case disabled && st == nats.CONNECTED:
			i.reconnected()
		case !disabled && st != nats.CONNECTED:
			i.disconnected(st)
		}
		if n, err := i.sub.Dropped(); err == nil && n > dropped {
			dropped = n
			i.log.Error("L1 broadcasts dropped (slow consumer); dropping L1", "dropped", n)
			i.drop("slow consumer")
		}
		ctx, cancel := context.WithTimeout(i.ctx, i.cfg.Heartbeat)
		if err := i.register(ctx); err != nil && i.nc.Status() == nats.CONNECTED {
			i.log.Warn("heartbeat failed", "err", err, "lease_left", i.leaseLeft().Round(time.Millisecond))
		}
		cancel()
	}
}
