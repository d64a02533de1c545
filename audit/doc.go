// Package audit keeps the audit log of cachegate: who or what asked for an
// invalidation (an event id, an admin), what it named, when, and how it
// ended at each layer and provider. The log is a JetStream stream, so it is
// shared by every instance, survives restarts and is bounded in size.
package audit
