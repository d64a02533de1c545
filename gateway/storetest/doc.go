// Package storetest is the conformance suite every gateway.Store must pass:
// storage and expiry, and above all the generation model of invalidation
// (a tag invalidation kills exactly the entries of that tenant carrying the
// tag, including fills that began before it and are stored after it, even
// under concurrency). Each layer's tests call Run with a factory of fresh
// stores, against the real backend.
package storetest
