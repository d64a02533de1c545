package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"time"
)

// Session is one dashboard login as a SessionStore keeps it. The cookie
// itself is never stored: the store's key is its SHA-256.
type Session struct {
	CSRF    string    `json:"csrf"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
}

func (s Session) valid(now time.Time) bool { return now.Before(s.Expires) }

// SessionStore keeps the dashboard's sessions. The default keeps them in
// this instance's memory; a store shared by the instances (sessionkv)
// makes a login valid on every instance behind a load balancer.
type SessionStore interface {
	// Put stores s under key, replacing any session there. A store that
	// is full refuses with an error wrapping ErrUnavailable.
	Put(ctx context.Context, key string, s Session) error
	// Get returns the session under key; ok is false when there is none.
	Get(ctx context.Context, key string) (s Session, ok bool, err error)
	// Delete removes the session under key, if any.
	Delete(ctx context.Context, key string) error
}

// sessions maps session cookies to a SessionStore's keys and checks
// expiry, which a store may enforce later than Expires (a bucket's TTL).
type sessions struct {
	store SessionStore
	ttl   time.Duration
}

// sessionKey is the store's key of a cookie: its SHA-256, so that neither
// a store nor its lookups' timing hold the secret.
func sessionKey(cookie string) string {
	sum := sha256.Sum256([]byte(cookie))
	return hex.EncodeToString(sum[:])
}

// create starts a session and returns its cookie value.
func (ss *sessions) create(ctx context.Context, now time.Time) (string, Session, error) {
	cookie := randomToken()
	sess := Session{CSRF: randomToken(), Created: now, Expires: now.Add(ss.ttl)}
	if err := ss.store.Put(ctx, sessionKey(cookie), sess); err != nil {
		return "", Session{}, fmt.Errorf("storing the session: %w", err)
	}
	return cookie, sess, nil
}

// get returns cookie's valid session; ok is false when there is none or
// it expired.
func (ss *sessions) get(ctx context.Context, cookie string, now time.Time) (Session, bool, error) {
	sess, ok, err := ss.store.Get(ctx, sessionKey(cookie))
	if err != nil || !ok {
		return Session{}, false, err
	}
	if !sess.valid(now) {
		_ = ss.store.Delete(ctx, sessionKey(cookie)) // the store's own expiry removes it otherwise
		return Session{}, false, nil
	}
	return sess, true, nil
}

func (ss *sessions) delete(ctx context.Context, cookie string) error {
	return ss.store.Delete(ctx, sessionKey(cookie))
}

// expire drops expired sessions from a store that does not expire them
// itself (the in-memory one).
func (ss *sessions) expire(now time.Time) {
	if m, ok := ss.store.(*memSessions); ok {
		m.expire(now)
	}
}

// memSessions is the default SessionStore: this instance's memory,
// bounded, the oldest session going first (one binary, a handful of
// operators; a restart logs them out).
type memSessions struct {
	mu    sync.Mutex
	max   int
	byKey map[string]Session
}

func newMemSessions(max int) *memSessions {
	return &memSessions{max: max, byKey: map[string]Session{}}
}

func (m *memSessions) Put(_ context.Context, key string, s Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for len(m.byKey) >= m.max {
		var oldest string
		var t time.Time
		for k, v := range m.byKey {
			if t.IsZero() || v.Created.Before(t) {
				oldest, t = k, v.Created
			}
		}
		delete(m.byKey, oldest)
	}
	m.byKey[key] = s
	return nil
}

func (m *memSessions) Get(_ context.Context, key string) (Session, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.byKey[key]
	return s, ok, nil
}

func (m *memSessions) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.byKey, key)
	return nil
}

func (m *memSessions) expire(now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, v := range m.byKey {
		if !v.valid(now) {
			delete(m.byKey, k)
		}
	}
}
