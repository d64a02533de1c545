// Package tokens owns the publish-only tenant tokens: an app's credential
// for the admin listener's POST /api/v1/events that can publish events of
// one tenant and do nothing else.
//
// A token reads "cgt_<id>_<secret>": the id names it (in listings, the
// audit log and revocation) and the secret, 256 random bits, is shown once
// when it is created. Only the SHA-256 of the secret is stored, in a
// JetStream key-value bucket, so every instance on the same NATS knows
// every token, a revocation holds on all of them at once, and a copy of the
// bucket gives nobody a usable token. A slow password hash is not needed:
// the secret is random, not chosen by a person, so it cannot be guessed
// from its hash.
//
// What a token may do is web's decision (it refuses everything but
// publishing for the token's tenant); this package only creates, finds and
// revokes them.
package tokens
