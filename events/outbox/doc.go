// Package outbox is an optional durable local outbox for apps that publish
// cachegate change events but cannot retry themselves (a request handler
// that must answer, a batch job that must not block on NATS).
//
// Publish first tries JetStream; when JetStream does not confirm the event
// (NATS unreachable: events.ErrNotAccepted), the event is written to a
// file in the outbox directory and fsynced, file and directory, before
// Publish returns. A background loop delivers the files in the order they
// were written once NATS is back, and removes each file only after
// JetStream acknowledged it. A crash between the acknowledgement and the
// removal publishes the event again under the same id, which JetStream's
// duplicate window drops, and which is harmless past it (an invalidation
// applied twice). The receipt says which guarantee the caller got:
// durable in JetStream, or durable on this host's disk only.
//
// Why written here rather than taken from a library: the outbox needs
// at-least-once delivery with removal only after an acknowledgement. The
// disk queues for Go (go-diskqueue and its kin) advance their read
// position when a message is read, so a crash after reading and before
// publishing loses it. One file per event, written with rename and fsync,
// is the simplest format with that property, and an outbox is small: it
// holds only what was published while NATS was away.
//
// The directory belongs to one process at a time (an exclusive lock file).
package outbox
