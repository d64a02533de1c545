package gateway

import (
	"context"
	"errors"
	"fmt"

	"github.com/cachegate/cachegate/invalidation"
	"github.com/cachegate/cachegate/tagging"
)

// InvalidateTags makes every response of tenant carrying one of tags gone,
// in L2 and then L1: in that order, so an L2 hit cannot refill L1 with
// what L1 just dropped. An L2 failure is returned (the caller retries);
// L1 is invalidated regardless.
func (g *Gateway) InvalidateTags(ctx context.Context, tenant string, tags ...string) error {
	if err := invalidation.ValidateTenant(tenant); err != nil {
		return err
	}
	if len(tags) == 0 {
		return nil
	}
	return g.invalidate(ctx, true, true, tenant, tags, false, false)
}

// Invalidate applies req to L2 and then L1: its tags and the implicit tags
// of its URLs and prefixes, or the whole tenant for Everything.
func (g *Gateway) Invalidate(ctx context.Context, req invalidation.Request) error {
	if err := req.Validate(); err != nil {
		return err
	}
	return g.invalidate(ctx, true, true, req.Tenant, req.StoreTags(), req.Everything, req.Soft)
}

// InvalidateShared applies req to L2 only (once per cluster, by the
// coordinator); without an L2 it does nothing.
func (g *Gateway) InvalidateShared(ctx context.Context, req invalidation.Request) error {
	if err := req.Validate(); err != nil {
		return err
	}
	return g.invalidate(ctx, true, false, req.Tenant, req.StoreTags(), req.Everything, req.Soft)
}

// InvalidateLocal applies req to this instance's L1 only (every instance,
// after the shared layer was invalidated).
func (g *Gateway) InvalidateLocal(ctx context.Context, req invalidation.Request) error {
	if err := req.Validate(); err != nil {
		return err
	}
	return g.invalidate(ctx, false, true, req.Tenant, req.StoreTags(), req.Everything, req.Soft)
}

// DropLocal drops all of L1, for an instance that may have missed
// invalidations. L1 must implement Clearer.
func (g *Gateway) DropLocal(ctx context.Context) error {
	c, ok := g.cfg.L1.(Clearer)
	if !ok {
		return errors.New("gateway: L1 cannot be cleared (it does not implement Clearer)")
	}
	if err := c.Clear(ctx); err != nil {
		return fmt.Errorf("gateway: clearing L1: %w", err)
	}
	return nil
}

// invalidate applies an invalidation to the layers. Each tag's fallback
// bucket is invalidated with it: an entry whose tag fell back past the
// per-response cap carries the bucket only (tagging.PurgeTags). A soft one
// is applied hard to a layer that is no SoftInvalidator.
func (g *Gateway) invalidate(ctx context.Context, shared, local bool, tenant string, tags []string, everything, soft bool) error {
	if !everything {
		tags = tagging.PurgeTags(tags)
	}
	at := g.now()
	apply := func(s Store, layer string) error {
		var err error
		si := softInvalidator(s)
		switch {
		case soft && si != nil && everything:
			err = si.SoftInvalidateTenant(ctx, tenant, at)
		case soft && si != nil && len(tags) > 0:
			err = si.SoftInvalidateTags(ctx, tenant, tags, at)
		case everything:
			err = s.InvalidateTenant(ctx, tenant)
		case len(tags) > 0:
			err = s.InvalidateTags(ctx, tenant, tags)
		}
		if err != nil {
			return fmt.Errorf("gateway: invalidating %s of tenant %s: %w", layer, tenant, err)
		}
		return nil
	}
	var errs []error
	if shared && g.cfg.L2 != nil {
		errs = append(errs, apply(g.cfg.L2, "l2"))
	}
	if local {
		errs = append(errs, apply(g.cfg.L1, "l1"))
	}
	err := errors.Join(errs...)
	if local && err == nil && !everything && !soft {
		// What this instance's L1 lost teaches its auto routes' TTLs
		// (autottl.go): once, after the invalidation was applied.
		g.auto.invalidated(tenant, tags, at)
	}
	if local && err == nil {
		// Each instance warms its own hot set once its L1 dropped the
		// tags; L2 was invalidated first (here, or by the coordinator
		// before it asked the instances), so a refetch cannot find the old
		// entry there either. After a failure, nothing is warmed.
		g.warm.afterInvalidate(tenant, tags, everything)
	}
	return err
}
