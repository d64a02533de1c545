package memcachestore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/bradfitz/gomemcache/memcache"
)

// casAttempts bounds the compare-and-swap loops on a record; each lost
// round means another instance changed it, so many in a row mean a
// contention the caller should retry later rather than spin on.
const casAttempts = 64

// genState is a tenant's generation record: the generation (raised by
// every invalidation) and the floor (the generation of its last
// InvalidateTenant), kept in one item so they are evicted together.
type genState struct {
	gen, floor uint64
	item       *memcache.Item // as read, for a compare-and-swap
}

func parseState(it *memcache.Item) (genState, error) {
	g, f, ok := strings.Cut(string(it.Value), " ")
	gen, err1 := strconv.ParseUint(g, 10, 64)
	floor, err2 := strconv.ParseUint(f, 10, 64)
	if !ok || err1 != nil || err2 != nil || floor > gen {
		return genState{}, fmt.Errorf("memcachestore: generation record %q is damaged", it.Value)
	}
	return genState{gen: gen, floor: floor, item: it}, nil
}

func formatState(gen, floor uint64) []byte {
	return fmt.Appendf(nil, "%d %d", gen, floor)
}

func parseUint(b []byte) (uint64, error) { return strconv.ParseUint(string(b), 10, 64) }

// fresh is a generation to start a tenant's record at, or to raise it to:
// the wall clock in microseconds. A record recreated after an eviction
// thus starts above every generation its earlier life handed out (see the
// package doc), so no stored entry or fill in flight carries it.
func (s *Store) fresh() uint64 { return uint64(s.now().UnixMicro()) }

// stateOf returns the tenant's state from the item a multi-get found
// under gk, creating the record when it was missing.
func (s *Store) stateOf(gk string, it *memcache.Item) (genState, error) {
	if it != nil {
		st, err := parseState(it)
		if err == nil {
			return st, nil
		}
		// A damaged record is as good as evicted: start a new life.
		s.log.Warn("replacing a damaged generation record", "err", err)
		if err := s.end("delete", s.mc.Delete(gk)); err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
			return genState{}, err
		}
	}
	for range casAttempts {
		// The floor at the new generation kills every entry of the
		// record's earlier life: its invalidations are unknown.
		g := s.fresh()
		err := s.end("create generation record", s.mc.Add(&memcache.Item{Key: gk, Value: formatState(g, g)}))
		if err == nil {
			return s.state(gk)
		}
		if !errors.Is(err, memcache.ErrNotStored) {
			return genState{}, err
		}
		// Another instance created it first: read that one.
		it, err := s.mc.Get(gk)
		if err = s.end("get generation record", err); err == nil {
			return parseState(it)
		}
		if !errors.Is(err, memcache.ErrCacheMiss) {
			return genState{}, err
		}
	}
	return genState{}, errors.New("memcachestore: generation record keeps vanishing (memcached evicting at once?)")
}

// state reads (or creates) the tenant's generation record.
func (s *Store) state(gk string) (genState, error) {
	it, err := s.mc.Get(gk)
	if err = s.end("get generation record", err); err != nil && !errors.Is(err, memcache.ErrCacheMiss) {
		return genState{}, err
	}
	return s.stateOf(gk, it)
}

// bump raises the tenant's generation (and with floor its floor) by
// compare-and-swap and returns the new generation. It moves to the wall
// clock when that is ahead: so a record recreated by an instance whose
// clock is behind another's catches up with the generations that other
// clock handed out, and its tag records, within that skew.
func (s *Store) bump(ctx context.Context, gk string, floor bool) (uint64, error) {
	for range casAttempts {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		st, err := s.state(gk)
		if err != nil {
			return 0, err
		}
		g := max(st.gen+1, s.fresh())
		f := st.floor
		if floor {
			f = g
		}
		st.item.Value = formatState(g, f)
		err = s.end("raise generation", s.mc.CompareAndSwap(st.item))
		switch {
		case err == nil:
			return g, nil
		case errors.Is(err, memcache.ErrCASConflict), errors.Is(err, memcache.ErrNotStored), errors.Is(err, memcache.ErrCacheMiss):
			continue // changed or evicted meanwhile: read again
		default:
			return 0, err
		}
	}
	return 0, errors.New("memcachestore: generation record contended; retry")
}

// raise sets the tag record under k to g unless it is already at or above
// it: records only rise, so of two invalidations racing on one tag the
// later generation stays.
func (s *Store) raise(ctx context.Context, k string, g uint64) error {
	val := strconv.AppendUint(nil, g, 10)
	for range casAttempts {
		if err := ctx.Err(); err != nil {
			return err
		}
		it, err := s.mc.Get(k)
		err = s.end("get tag record", err)
		if errors.Is(err, memcache.ErrCacheMiss) {
			err = s.end("create tag record", s.mc.Add(&memcache.Item{Key: k, Value: val}))
			if err == nil {
				return nil
			}
		} else if err == nil {
			if v, perr := parseUint(it.Value); perr == nil && v >= g {
				return nil
			}
			it.Value = val
			if err = s.end("raise tag record", s.mc.CompareAndSwap(it)); err == nil {
				return nil
			}
		}
		if !errors.Is(err, memcache.ErrNotStored) && !errors.Is(err, memcache.ErrCASConflict) &&
			!errors.Is(err, memcache.ErrCacheMiss) {
			return err
		}
	}
	return errors.New("memcachestore: tag record contended; retry")
}

// tagsAllow reports whether every tag record exists and none is above fg.
// A missing record was evicted, its invalidations unknown: for a stored
// entry (Get) that is a no. For a fill (Set, create) it is created at the
// tenant's generation: for a fill whose fetch began at that generation
// nothing was lost, and an older one is refused, since the missing record
// may have held an invalidation after its fetch began.
func (s *Store) tagsAllow(tenant string, tags []string, fg uint64, st genState, create bool) (bool, error) {
	if len(tags) == 0 {
		return true, nil
	}
	keys, recs, err := s.tagRecords(tenant, tags)
	if err != nil {
		return false, err
	}
	for _, k := range keys {
		it := recs[k]
		if it == nil && !create {
			return false, nil
		}
		if it == nil {
			err := s.end("create tag record", s.mc.Add(&memcache.Item{Key: k, Value: strconv.AppendUint(nil, st.gen, 10)}))
			if err == nil {
				if st.gen > fg {
					return false, nil
				}
				continue
			}
			if !errors.Is(err, memcache.ErrNotStored) {
				return false, err
			}
			// Created meanwhile, by an invalidation or another fill.
			if it, err = s.mc.Get(k); s.end("get tag record", err) != nil {
				return false, nil // gone again: refuse rather than guess
			}
		}
		if v, err := parseUint(it.Value); err != nil || v > fg {
			return false, nil
		}
	}
	return true, nil
}
