// Package policy is the per-route cache policy the operator configures:
// which rule a request matches (host, path pattern, method, cookie,
// header), its tenant, whether it is private or a staff bypass, the TTL and
// stale windows that override the origin's, the Cache-Control told to
// browsers and CDNs, the locales, and the rule's response tags. It decides
// once per request (Policy.Decide, no I/O, no parsing) and rewrites each
// response as the decision promises (ApplyResponse).
//
// It owns the policy's configuration and its checks (Config, Check,
// Warnings), which the config loader places at FILE:LINE.
//
// It does not own the HTTP caching rules (package headers: what may be
// stored and for how long), the tag templates and the CDN tag headers
// (package tagging, whose Template it compiles the rule tags with), nor the
// CDN providers' facts (package cdn).
//
//   - config.go: Config and its fields; check.go: the checks and warnings.
//   - policy.go: Compile and Decide; decision.go: what Decide returns.
//   - path.go: route path patterns; directives.go: configured directives.
//   - apply.go: the response rewrite a decision promises.
package policy
