package events_test

import (
	"github.com/cachegate/cachegate/audit"
	"github.com/cachegate/cachegate/events"
	"github.com/cachegate/cachegate/purge"
)

// The implementations elsewhere keep the signatures this package declares.
// (*gateway.Gateway's guard belongs to the wiring: events does not import
// the gateway.)
var (
	_ events.PurgeQueue    = (*purge.Queue)(nil)
	_ events.StateRecorder = (*purge.States)(nil)
	_ events.Auditor       = (*audit.Log)(nil)
)
