package gateway_test

import (
	"fmt"

	"github.com/cachegate/cachegate/invalidation"
)

func errorfT(format string, args ...any) error { return fmt.Errorf(format, args...) }

func invalidationRequest(tenant string, tags ...string) invalidation.Request {
	return invalidation.Request{Tenant: tenant, Tags: tags}
}
