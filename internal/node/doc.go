// Package node assembles one cachegate process from the other packages: the
// gateway with its layers, the event instance and coordinator, the CDN
// purge queue and dispatcher, the audit log and the admin server, over one
// NATS connection (an embedded server when no URL is given). The command
// and the cross-package integration tests both start nodes through it.
package node
