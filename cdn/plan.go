package cdn

import "slices"

// Plan is a Cloudflare plan's documented purge limits.
type Plan struct {
	Name string
	// PurgesPerSecond and PurgeBurst are the token bucket of purge calls
	// by tag, host and prefix.
	PurgesPerSecond float64
	PurgeBurst      int
	// URLsPerCall bounds the URLs of one purge call.
	URLsPerCall int
}

// DefaultPlan is assumed when none is configured: the most generous, as a
// lower plan is the operator's to state.
const DefaultPlan = "enterprise"

var plans = []Plan{
	{Name: "free", PurgesPerSecond: 5.0 / 60, PurgeBurst: 25, URLsPerCall: 30},
	{Name: "pro", PurgesPerSecond: 5, PurgeBurst: 25, URLsPerCall: CloudflarePurgeItemsPerCall},
	{Name: "business", PurgesPerSecond: 10, PurgeBurst: 50, URLsPerCall: CloudflarePurgeItemsPerCall},
	{Name: "enterprise", PurgesPerSecond: 50, PurgeBurst: 500, URLsPerCall: CloudflarePurgeItemsPerCall},
}

// PlanNames returns the Cloudflare plans' names (a fresh slice).
func PlanNames() []string {
	out := make([]string, len(plans))
	for i, p := range plans {
		out[i] = p.Name
	}
	return out
}

// CloudflarePlan returns the plan called name; "" is DefaultPlan.
func CloudflarePlan(name string) (Plan, bool) {
	if name == "" {
		name = DefaultPlan
	}
	i := slices.IndexFunc(plans, func(p Plan) bool { return p.Name == name })
	if i < 0 {
		return Plan{}, false
	}
	return plans[i], true
}
