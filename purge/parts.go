package purge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cachegate/cachegate/invalidation"
	"github.com/nats-io/nats.go/jetstream"
)

// A purge larger than one message can carry (the event path caps a
// message's body) travels as several parts, each a purge of its own with
// the id "<id>~<k>", k from 1. A manifest under the whole purge's id names
// the parts, so that its state is read as one: Get merges the parts'
// states, Failed names the whole purge beside each failed part, and
// RetryFailedParts retries them all. Client-chosen ids cannot contain '~',
// so a part id never collides with another purge's.

// PartSeparator separates a purge id from its part number.
const PartSeparator = "~"

// partsTarget is the manifest's key in the state bucket: '=' cannot start
// a target name, so it never collides with a layer or provider.
const partsTarget = "=parts"

// PartID is the id of part k (from 1) of purge id.
func PartID(id string, k int) string { return id + PartSeparator + strconv.Itoa(k) }

// ParsePartID returns the purge a part id belongs to; ok is false for an
// id that is not a part's.
func ParsePartID(id string) (whole string, k int, ok bool) {
	i := strings.LastIndex(id, PartSeparator)
	if i <= 0 {
		return "", 0, false
	}
	k, err := strconv.Atoi(id[i+1:])
	if err != nil || k < 1 || strconv.Itoa(k) != id[i+1:] {
		return "", 0, false
	}
	return id[:i], k, true
}

// SplitRequest splits req into parts whose tags, URLs and prefixes take at
// most maxBytes of JSON each; a request that fits is returned as it is,
// alone. Parts carry the ids PartID(req.ID, k); Everything goes with the
// first. No item is dropped or repeated.
func SplitRequest(req invalidation.Request, maxBytes int) []invalidation.Request {
	size := 0
	for _, list := range [][]string{req.Tags, req.URLs, req.Prefixes} {
		for _, v := range list {
			size += jsonLen(v)
		}
	}
	if size <= maxBytes {
		return []invalidation.Request{req}
	}
	var parts []invalidation.Request
	cur := invalidation.Request{Tenant: req.Tenant, Everything: req.Everything, Soft: req.Soft}
	used, items := 0, 0
	flush := func() {
		if items > 0 || cur.Everything {
			parts = append(parts, cur)
		}
		cur = invalidation.Request{Tenant: req.Tenant, Soft: req.Soft}
		used, items = 0, 0
	}
	add := func(dst func(*invalidation.Request) *[]string, v string) {
		n := jsonLen(v)
		if items > 0 && used+n > maxBytes {
			flush()
		}
		l := dst(&cur)
		*l = append(*l, v)
		used += n
		items++
	}
	for _, v := range req.Tags {
		add(func(r *invalidation.Request) *[]string { return &r.Tags }, v)
	}
	for _, v := range req.URLs {
		add(func(r *invalidation.Request) *[]string { return &r.URLs }, v)
	}
	for _, v := range req.Prefixes {
		add(func(r *invalidation.Request) *[]string { return &r.Prefixes }, v)
	}
	flush()
	for k := range parts {
		parts[k].ID = PartID(req.ID, k+1)
	}
	return parts
}

// jsonLen is the length of v as a JSON string in a list (with its comma).
func jsonLen(v string) int {
	b, _ := json.Marshal(v)
	return len(b) + 1
}

// manifest is what the state bucket holds for a purge sent in parts.
type manifest struct {
	Parts []string  `json:"parts"`
	Time  time.Time `json:"time"`
}

// SetParts records that purge id travels as the parts partIDs. Record it
// before publishing any part, so that the purge's state is never read as
// that of its first parts alone.
func (s *States) SetParts(ctx context.Context, id string, partIDs []string) error {
	b, err := json.Marshal(manifest{Parts: partIDs, Time: time.Now().UTC()})
	if err != nil {
		return fmt.Errorf("purge: encode parts: %w", err)
	}
	if _, err := s.kv.Put(ctx, keyToken(id)+"."+partsTarget, b); err != nil {
		return fmt.Errorf("purge: record parts of %s: %w", id, err)
	}
	return nil
}

// Parts returns the part ids of purge id, or nil when it was sent whole.
func (s *States) Parts(ctx context.Context, id string) ([]string, error) {
	e, err := s.kv.Get(ctx, keyToken(id)+"."+partsTarget)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("purge: parts of %s: %w", id, err)
	}
	var m manifest
	if err := json.Unmarshal(e.Value(), &m); err != nil {
		return nil, fmt.Errorf("purge: decode parts of %s: %w", id, err)
	}
	return m.Parts, nil
}

// rank orders statuses for merging parts: the least advanced part decides,
// and a failure anywhere shows.
func rank(s Status) int {
	switch s {
	case StatusFailed:
		return 5
	case StatusRetrying:
		return 4
	case StatusQueued:
		return 3
	case StatusSent:
		return 2
	}
	return 1 // applied, confirmed
}

// mergeParts merges the states of a purge's parts per target. A part
// without a state at a target that others have is still queued there.
func mergeParts(parts []string, states []map[string]State) map[string]State {
	out := map[string]State{}
	for _, m := range states {
		for target := range m {
			out[target] = State{}
		}
	}
	for target := range out {
		var merged State
		for k, m := range states {
			st, ok := m[target]
			if !ok {
				st = State{Status: StatusQueued, Detail: fmt.Sprintf("part %d of %d not yet processed", k+1, len(parts))}
			} else if st.Detail != "" {
				st.Detail = fmt.Sprintf("part %d of %d: %s", k+1, len(parts), st.Detail)
			}
			if merged.Status == "" || rank(st.Status) > rank(merged.Status) {
				merged.Status, merged.Detail = st.Status, st.Detail
			}
			merged.Attempts = max(merged.Attempts, st.Attempts)
			if st.Updated.After(merged.Updated) {
				merged.Updated = st.Updated
			}
		}
		out[target] = merged
	}
	return out
}

// getParts reads and merges the states of a purge sent in parts.
func (s *States) getParts(ctx context.Context, id string, parts []string) (map[string]State, error) {
	all := make([]map[string]State, len(parts))
	for k, p := range parts {
		st, err := s.getWhole(ctx, p)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		all[k] = st
	}
	out := mergeParts(parts, all)
	if len(out) == 0 {
		// Recorded, no part processed yet: unknown, as a whole purge is
		// until the coordinator takes it.
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return out, nil
}

// RetryFailedParts retries purge id, or each of its parts that failed when
// it was sent in parts. It returns ErrNotFound when nothing failed.
func (q *Queue) RetryFailedParts(ctx context.Context, id string) error {
	parts, err := q.states.Parts(ctx, id)
	if err != nil {
		return err
	}
	if parts == nil {
		return q.RetryFailed(ctx, id)
	}
	retried := 0
	for _, p := range parts {
		err := q.RetryFailed(ctx, p)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		retried++
	}
	if retried == 0 {
		return fmt.Errorf("%w: no failed purge %s", ErrNotFound, id)
	}
	return nil
}

// DismissAll forgets every failure of purge id, or of its parts, without
// retrying (an operator decided it no longer matters); their states stay
// failed. It returns ErrNotFound when nothing failed.
func (s *States) DismissAll(ctx context.Context, id string) error {
	ids, err := s.Parts(ctx, id)
	if err != nil {
		return err
	}
	if ids == nil {
		ids = []string{id}
	}
	n := 0
	for _, p := range ids {
		fails, err := s.Failed(ctx, p)
		if err != nil {
			return err
		}
		for _, f := range fails {
			if err := s.Dismiss(ctx, f.ID, f.Provider); err != nil {
				return err
			}
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("%w: no failed purge %s", ErrNotFound, id)
	}
	return nil
}
