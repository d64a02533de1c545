package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cachegate/cachegate/gateway"
)

// releaseTimeout bounds the release of a fill lock, which runs after the
// request's context may be done.
const releaseTimeout = time.Second

// failedPrefix starts the value of a lock whose holder's fetch failed; a
// token is hex and never contains ':'.
const failedPrefix = "failed:"

// Acquire tries to take the fill lock of key for ttl (SET NX PX with a
// random token). Release deletes the lock, or marks it failed, only while
// the token still matches, so a holder that outlived ttl cannot free or
// mark another's lock.
func (s *Store) Acquire(ctx context.Context, tenant, key string, ttl time.Duration) (gateway.Fill, error) {
	k, err := s.keys(tenant)
	if err != nil {
		return gateway.Fill{}, err
	}
	if ttl <= 0 {
		return gateway.Fill{}, fmt.Errorf("redisstore: lock: ttl %v is not positive", ttl)
	}
	if err := s.begin("lock"); err != nil {
		return gateway.Fill{}, err
	}
	var raw [16]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails
	token := hex.EncodeToString(raw[:])
	lockKey := k.lock(key)
	res, err := lockScript.Run(ctx, s.rdb, []string{lockKey}, token, ttl.Milliseconds()).Slice()
	if err = s.end(ctx, "lock", err); err != nil {
		return gateway.Fill{}, err
	}
	if len(res) == 0 {
		return gateway.Fill{}, fmt.Errorf("redisstore: lock: unexpected reply %v", res)
	}
	if taken, _ := res[0].(int64); taken != 1 {
		var f gateway.Fill
		if len(res) > 1 {
			v, _ := res[1].(string)
			if code, ok := strings.CutPrefix(v, failedPrefix); ok {
				f.Failed, _ = strconv.Atoi(code)
			}
		}
		return f, nil
	}
	release := func(failed int, hold time.Duration) {
		if s.begin("unlock") != nil {
			return // the lock expires by itself
		}
		hold = min(hold, ttl)
		if failed == 0 || hold <= 0 {
			failed, hold = 0, 0
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
		defer cancel()
		// A hold under a millisecond would be 0 to Redis: a delete.
		ms := hold.Milliseconds()
		if hold > 0 {
			ms = max(ms, 1)
		}
		err := unlockScript.Run(rctx, s.rdb, []string{lockKey}, token, failedPrefix+strconv.Itoa(failed), ms).Err()
		if err = s.end(rctx, "unlock", err); err != nil {
			s.log.Warn("fill lock release failed; it expires by itself", "tenant", tenant, "err", err)
		}
	}
	refresh := func(ctx context.Context) error {
		if err := s.begin("lock refresh"); err != nil {
			return err
		}
		n, err := refreshScript.Run(ctx, s.rdb, []string{lockKey}, token, ttl.Milliseconds()).Int()
		if err = s.end(ctx, "lock refresh", err); err != nil {
			return err
		}
		if n == 0 {
			return errLockLost
		}
		return nil
	}
	return gateway.Fill{Acquired: true, Release: release, Refresh: refresh}, nil
}

var errLockLost = errors.New("redisstore: fill lock lost (expired and taken by another)")
