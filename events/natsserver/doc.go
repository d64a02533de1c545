// Package natsserver runs a NATS server with JetStream inside a cachegate
// process, for deployments (and the demo) without a NATS server of their
// own. It is its own package so that an app importing the publisher
// (package events) does not link the NATS server.
//
// The server is locked down (PITFALLS 16: an open control plane lets anyone
// on the host invalidate, read or forge):
//
//   - By default it has no TCP listener at all: the cachegate process
//     connects in-process (ClientOptions), and nothing else can reach it.
//   - With Config.Listen it listens there, and only there, and refuses
//     anonymous clients: the one user is an nkey generated on first start,
//     whose seed is written to SeedFile (in the store directory, mode 0600,
//     the directory 0700). Only processes that can read that file (the same
//     OS user on the same host, e.g. a second instance with
//     nats.nkey_seed pointing at it, or the nats CLI with --nkey) can
//     connect. The seed is kept across restarts so their settings stay
//     valid; a seed file readable by group or others is refused.
//
// An nkey rather than a generated password: the server stores only the
// public key, the secret never crosses the connection (the client signs a
// nonce), and the seed file is the format nats.go and the nats CLI already
// read.
package natsserver
