package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// releaseTimeout bounds the release of a fill lock, which runs after the
// request's context may be done.
const releaseTimeout = time.Second

// Acquire tries to take the fill lock of key for ttl (SET NX PX with a
// random token). release deletes the lock only while the token still
// matches, so a holder that outlived ttl cannot free another's lock.
func (s *Store) Acquire(ctx context.Context, tenant, key string, ttl time.Duration) (func(), bool, error) {
	k, err := s.keys(tenant)
	if err != nil {
		return nil, false, err
	}
	if ttl <= 0 {
		return nil, false, fmt.Errorf("redisstore: lock: ttl %v is not positive", ttl)
	}
	if err := s.begin("lock"); err != nil {
		return nil, false, err
	}
	var raw [16]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails
	token := hex.EncodeToString(raw[:])
	lockKey := k.lock(key)
	err = s.rdb.SetArgs(ctx, lockKey, token, redisSetNX(ttl)).Err()
	if errors.Is(err, errNil) {
		s.br.success()
		return nil, false, nil
	}
	if err = s.end(ctx, "lock", err); err != nil {
		return nil, false, err
	}
	release := func() {
		if s.begin("unlock") != nil {
			return // the lock expires by itself
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
		defer cancel()
		err := unlockScript.Run(rctx, s.rdb, []string{lockKey}, token).Err()
		if err = s.end(rctx, "unlock", err); err != nil {
			s.log.Warn("fill lock release failed; it expires by itself", "tenant", tenant, "err", err)
		}
	}
	return release, true, nil
}

var errNil = redis.Nil

func redisSetNX(ttl time.Duration) redis.SetArgs {
	return redis.SetArgs{Mode: "NX", TTL: ttl}
}
