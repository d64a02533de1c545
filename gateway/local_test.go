package gateway

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"
)

// L1 serves only within its lease, checked on every read: nothing runs
// late enough to let a hit through after it.
func TestLocalLease(t *testing.T) {
	origin, _ := url.Parse("http://127.0.0.1:1")
	g, err := New(Config{Origin: origin, L1: NewTestStore()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	get := func() error { _, _, err := g.cfg.L1.Get(ctx, "acme", "k"); return err }
	for _, tc := range []struct {
		name  string
		lease time.Time
		want  bool
	}{
		{"no lease", time.Time{}, true},
		{"running", time.Now().Add(time.Hour), true},
		{"ended", time.Now().Add(-time.Millisecond), false},
	} {
		g.SetLocalLease(tc.lease)
		if err := get(); (err == nil) != tc.want || g.LocalEnabled() != tc.want {
			t.Errorf("%s: Get error %v, LocalEnabled %v; want usable %v", tc.name, err, g.LocalEnabled(), tc.want)
		}
		if err != nil && !errors.Is(err, ErrUnavailable) {
			t.Errorf("%s: %v does not wrap ErrUnavailable", tc.name, err)
		}
	}
	g.SetLocalLease(time.Time{})
	g.SetLocalEnabled(false)
	if get() == nil {
		t.Error("a disabled L1 served")
	}
}
