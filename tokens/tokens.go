package tokens

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/cachegate/cachegate/internal/ensure"
	"github.com/cachegate/cachegate/invalidation"
)

// Bucket is the JetStream key-value bucket of the tokens, by id.
const Bucket = "CACHEGATE_TOKENS"

// Prefix starts every token, so that a leaked one is recognisable (secret
// scanners) and told apart from the admin token.
const Prefix = "cgt_"

// MaxNameLength bounds a token's name.
const MaxNameLength = 100

// Errors of the Store; ErrInvalid and ErrNotFound are the caller's fault.
var (
	// ErrInvalid: a bad tenant or name.
	ErrInvalid = errors.New("invalid token request")
	// ErrNotFound: no such token id (never created, or revoked).
	ErrNotFound = errors.New("no such token")
	// ErrUnknown: a presented token that is not, or no longer, valid.
	ErrUnknown = errors.New("unknown or revoked token")
)

// Token is what is stored of a token: never its secret.
type Token struct {
	ID      string    `json:"id"`
	Tenant  string    `json:"tenant"`
	Name    string    `json:"name,omitempty"`
	Created time.Time `json:"created"`
	// Hash is the hex SHA-256 of the secret.
	Hash string `json:"hash,omitempty"`
}

// IsToken reports whether s has the form of a tenant token (and so is not
// an admin token).
func IsToken(s string) bool { return strings.HasPrefix(s, Prefix) }

// Store keeps the tokens in the bucket.
type Store struct {
	kv  jetstream.KeyValue
	now func() time.Time
}

// Open makes the bucket exist (file storage: tokens survive restarts) and
// returns a Store on it. replicas 0 means 1.
func Open(ctx context.Context, js jetstream.JetStream, replicas int) (*Store, error) {
	kv, err := ensure.KeyValue(ctx, js, jetstream.KeyValueConfig{
		Bucket:      Bucket,
		Description: "cachegate: publish-only tenant tokens (hashes only)",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("tokens: open bucket %s: %w", Bucket, err)
	}
	return &Store{kv: kv, now: time.Now}, nil
}

func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b)
}

func hashOf(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(h[:])
}

// Create makes a token for tenant and returns it with its secret form,
// the only time the secret exists outside the client.
func (s *Store) Create(ctx context.Context, tenant, name string) (Token, string, error) {
	if err := invalidation.ValidateTenant(tenant); err != nil {
		return Token{}, "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if len(name) > MaxNameLength || !utf8.ValidString(name) || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return Token{}, "", fmt.Errorf("%w: name: at most %d printable characters", ErrInvalid, MaxNameLength)
	}
	// Hex: a valid KV key, and free of the '_' that separates the secret.
	idb := make([]byte, 6)
	_, _ = rand.Read(idb)
	id := hex.EncodeToString(idb)
	secret := random(32)
	t := Token{ID: id, Tenant: tenant, Name: name, Created: s.now().UTC().Truncate(time.Second), Hash: hashOf(secret)}
	b, err := json.Marshal(t)
	if err != nil {
		return Token{}, "", err
	}
	if _, err := s.kv.Create(ctx, id, b); err != nil {
		return Token{}, "", fmt.Errorf("tokens: store %s: %w", id, err)
	}
	t.Hash = ""
	return t, Prefix + id + "_" + secret, nil
}

// parse splits a presented token into id and secret.
func parse(token string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(token, Prefix)
	if !ok {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || len(id) != 12 || secret == "" {
		return "", "", false
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'f' || r >= '0' && r <= '9') {
			return "", "", false
		}
	}
	return id, secret, true
}

// Authenticate returns the token that token presents; one that is
// malformed, unknown or revoked is ErrUnknown. Every call reads the
// bucket, so a revocation holds on the next request of every instance.
func (s *Store) Authenticate(ctx context.Context, token string) (Token, error) {
	id, secret, ok := parse(token)
	if !ok {
		return Token{}, ErrUnknown
	}
	t, err := s.get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		return Token{}, ErrUnknown
	}
	if err != nil {
		return Token{}, err
	}
	if subtle.ConstantTimeCompare([]byte(hashOf(secret)), []byte(t.Hash)) != 1 {
		return Token{}, ErrUnknown
	}
	t.Hash = ""
	return t, nil
}

func (s *Store) get(ctx context.Context, id string) (Token, error) {
	e, err := s.kv.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrInvalidKey) {
		return Token{}, fmt.Errorf("%w: %q", ErrNotFound, id)
	}
	if err != nil {
		return Token{}, fmt.Errorf("tokens: read %s: %w", id, err)
	}
	var t Token
	if err := json.Unmarshal(e.Value(), &t); err != nil {
		return Token{}, fmt.Errorf("tokens: decode %s: %w", id, err)
	}
	return t, nil
}

// List returns every token, oldest first, without hashes.
func (s *Store) List(ctx context.Context) ([]Token, error) {
	lister, err := s.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("tokens: list: %w", err)
	}
	defer func() { _ = lister.Stop() }()
	out := []Token{}
	for id := range lister.Keys() {
		t, err := s.get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue // revoked meanwhile
		}
		if err != nil {
			return nil, err
		}
		t.Hash = ""
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out, nil
}

// Revoke deletes token id; an unknown id is ErrNotFound.
func (s *Store) Revoke(ctx context.Context, id string) (Token, error) {
	t, err := s.get(ctx, id)
	if err != nil {
		return Token{}, err
	}
	// Purge, not Delete: nothing of the token is kept.
	if err := s.kv.Purge(ctx, id); err != nil {
		return Token{}, fmt.Errorf("tokens: revoke %s: %w", id, err)
	}
	t.Hash = ""
	return t, nil
}
