package ensure

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// declare waits out a cluster that cannot place or answer yet (as the
// servers answer while a cluster forms or elects), and fails at once on
// anything else.
func TestDeclareWaitsOutAFormingCluster(t *testing.T) {
	notReady := func(code jetstream.ErrorCode) error {
		return fmt.Errorf("create: %w", &jetstream.APIError{Code: 503, ErrorCode: code, Description: "not ready"})
	}
	tests := []struct {
		name      string
		failures  []error // what the creates answer before succeeding
		wantErr   bool
		wantCalls int
	}{
		{"no peers for placement", []error{notReady(jsClusterNoPeers), notReady(jsClusterNoPeers)}, false, 3},
		{"system temporarily unavailable", []error{notReady(jsClusterNotAvailable)}, false, 2},
		{"not leader", []error{notReady(jsClusterNotLeader)}, false, 2},
		{"bad request is final", []error{&jetstream.APIError{Code: 400, ErrorCode: 10003, Description: "bad"}}, true, 1},
		{"plain error is final", []error{errors.New("boom")}, true, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			r := resource[string, string]{
				what: "thing",
				get:  func(context.Context) (string, error) { return "", jetstream.ErrStreamNotFound },
				create: func(_ context.Context, c string) (string, error) {
					calls++
					if calls <= len(tt.failures) {
						return "", tt.failures[calls-1]
					}
					return c, nil
				},
				missing: []error{jetstream.ErrStreamNotFound},
				exists:  jetstream.ErrStreamNameAlreadyInUse,
			}
			got, err := declare(context.Background(), r, "want")
			if (err != nil) != tt.wantErr || calls != tt.wantCalls {
				t.Fatalf("declare = %q, %v after %d creates; want error %v after %d", got, err, calls, tt.wantErr, tt.wantCalls)
			}
		})
	}
}

// A context that ends while the cluster forms ends the wait, and the
// error says both what the cluster answered and why the wait stopped.
func TestDeclareWaitEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	r := resource[string, string]{
		what: "thing",
		get:  func(context.Context) (string, error) { return "", jetstream.ErrStreamNotFound },
		create: func(context.Context, string) (string, error) {
			cancel()
			return "", &jetstream.APIError{Code: 503, ErrorCode: jsClusterNoPeers, Description: "no suitable peers for placement"}
		},
		missing: []error{jetstream.ErrStreamNotFound},
	}
	_, err := declare(ctx, r, "want")
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("declare = %v, want the context's end", err)
	}
	var api *jetstream.APIError
	if !errors.As(err, &api) || api.ErrorCode != jsClusterNoPeers {
		t.Fatalf("declare = %v, want the cluster's answer kept", err)
	}
}
