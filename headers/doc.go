// Package headers holds the HTTP caching rules of RFC 9111 / 9110 / 9213 a
// shared cache follows, and nothing else: it parses and decides, does no
// I/O and knows no configuration. What cachegate's operator decides per
// route (the policy engine) is package policy; how responses are tagged and
// how the tags reach a CDN is package tagging; the CDN providers' facts are
// package cdn. headers imports none of them but cdn's field names.
//
// One file per concern:
//   - cachecontrol.go: the Cache-Control field.
//   - targeted.go: targeted cache control (RFC 9213) and the order of the
//     fields the gateway honours.
//   - date.go: HTTP-dates, strictly (an Expires that is not one is expired).
//   - age.go: the Age field and the current age (RFC 9111 4.2.3, 5.1).
//   - freshness.go: the explicit and the heuristic freshness lifetime.
//   - storable.go: the one decision of whether a response may be stored
//     (Storable) and of what it may be shared as downstream (ShareAs). The
//     gateway's store, the client's Cache-Control and the CDN's directives
//     and tags all follow these two, so they cannot disagree.
//   - vary.go: Vary, and the normal form of Vary'd request headers.
//   - validators.go, conditional.go: entity tags, conditional requests and
//     the 304 update of a stored header.
package headers
