package node

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/cachegate/cachegate/audit"
	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/web"
)

// warmAdapter gives the admin API the gateway's on-demand warming, mapping
// its errors to web's.
type warmAdapter struct {
	gw    *gateway.Gateway
	audit *audit.Log
}

var _ web.Warmer = warmAdapter{}

func (a warmAdapter) StartWarm(ctx context.Context, tenant string, urls []string, actor string) (string, error) {
	id, err := a.gw.StartWarm(ctx, tenant, urls)
	if errors.Is(err, gateway.ErrBadWarm) {
		return "", fmt.Errorf("%w: %v", web.ErrBadRequest, err)
	}
	if err != nil {
		return "", fmt.Errorf("%w: %v", web.ErrUnavailable, err)
	}
	// As for purges, the audit line is a record, not a condition: the
	// job runs whether or not it could be written.
	_ = a.audit.Record(ctx, audit.Entry{
		Actor: actor, Action: "warm.requested", ID: id, Tenant: tenant,
		Result: "accepted: " + strconv.Itoa(len(urls)) + " urls",
	})
	return id, nil
}

func (a warmAdapter) WarmProgress(_ context.Context, id string) (gateway.WarmProgress, error) {
	p, err := a.gw.WarmProgress(id)
	if errors.Is(err, gateway.ErrWarmNotFound) {
		return p, fmt.Errorf("%w: warm job %q (jobs are kept by the instance that runs them, the last %d)", web.ErrNotFound, id, gateway.MaxWarmJobs)
	}
	return p, err
}
