// Package sessionkv keeps the dashboard's sessions in a JetStream
// key-value bucket shared by every instance, so that a login on one
// instance is valid on all of them behind a load balancer, and a logout
// on one ends it everywhere. The bucket's TTL is the session lifetime;
// its size bound refuses new logins when full rather than dropping
// current ones.
package sessionkv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cachegate/cachegate/internal/ensure"
	"github.com/cachegate/cachegate/web"
)

// Bucket is the key-value bucket of the sessions.
const Bucket = "CACHEGATE_SESSIONS"

// sessionBytes is a generous size of one stored session with the
// bucket's overhead, for the bucket's byte bound.
const sessionBytes = 512

// Store is a web.SessionStore on a JetStream key-value bucket.
type Store struct{ kv jetstream.KeyValue }

var _ web.SessionStore = (*Store)(nil)

// Open makes the bucket exist, keeping a session for ttl and at most
// maxSessions of them.
func Open(ctx context.Context, js jetstream.JetStream, ttl time.Duration, maxSessions int) (*Store, error) {
	if ttl <= 0 || maxSessions <= 0 {
		return nil, errors.New("sessionkv: ttl and maxSessions must be positive")
	}
	kv, err := ensure.KeyValue(ctx, js, jetstream.KeyValueConfig{
		Bucket:      Bucket,
		Description: "cachegate: dashboard sessions, by the SHA-256 of the cookie",
		TTL:         ttl,
		MaxBytes:    int64(maxSessions) * sessionBytes,
		Storage:     jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("sessionkv: open bucket %s: %w", Bucket, err)
	}
	return &Store{kv: kv}, nil
}

// Put stores s under key. A full bucket is ErrUnavailable: the login is
// refused, the current sessions stay.
func (s *Store) Put(ctx context.Context, key string, sess web.Session) error {
	b, err := json.Marshal(sess)
	if err != nil {
		return err
	}
	if _, err := s.kv.Put(ctx, key, b); err != nil {
		return fmt.Errorf("%w: storing the session: %v", web.ErrUnavailable, err)
	}
	return nil
}

// Get returns the session under key.
func (s *Store) Get(ctx context.Context, key string) (web.Session, bool, error) {
	e, err := s.kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return web.Session{}, false, nil
	}
	if err != nil {
		return web.Session{}, false, fmt.Errorf("%w: reading the session: %v", web.ErrUnavailable, err)
	}
	var sess web.Session
	if err := json.Unmarshal(e.Value(), &sess); err != nil {
		return web.Session{}, false, fmt.Errorf("sessionkv: session %s unreadable: %w", key, err)
	}
	return sess, true, nil
}

// Delete removes the session under key; the bucket keeps a delete marker
// until its TTL, which every instance reads as no session.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.kv.Delete(ctx, key); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("%w: removing the session: %v", web.ErrUnavailable, err)
	}
	return nil
}
