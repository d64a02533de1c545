package events_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// An app that imports the publisher does not link the NATS server: it is
// in events/natsserver, which package events never imports.
func TestEventsDoesNotLinkTheServer(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed to list dependencies: %v", err)
	}
	out, err := exec.Command(gobin, "list", "-deps", "github.com/cachegate/cachegate/events").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 || !slices.Contains(deps, "github.com/nats-io/nats.go/jetstream") {
		t.Fatalf("go list -deps output does not look like a dependency list:\n%s", out)
	}
	for _, d := range deps {
		if strings.HasPrefix(d, "github.com/nats-io/nats-server") {
			t.Errorf("package events depends on %s", d)
		}
	}
}
