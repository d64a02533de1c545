package purge_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cachegate/cachegate/invalidation"
	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/purge/cloudflare/cloudflarefake"
)

func TestSplitRequest(t *testing.T) {
	var tags []string
	for i := range 10000 {
		tags = append(tags, fmt.Sprintf("item:%d", i))
	}
	whole := invalidation.Request{ID: "big", Tenant: "acme", Tags: tags, URLs: []string{"/a", "/b"}, Everything: true}
	parts := purge.SplitRequest(whole, 32<<10)
	if len(parts) < 4 {
		t.Fatalf("%d parts for 10,000 tags in 32 KiB each", len(parts))
	}
	var gotTags, gotURLs []string
	for k, p := range parts {
		if p.ID != purge.PartID("big", k+1) || p.Tenant != "acme" || p.Everything != (k == 0) {
			t.Errorf("part %d: id %q tenant %q everything %v", k, p.ID, p.Tenant, p.Everything)
		}
		if err := p.Validate(); err != nil {
			t.Errorf("part %d: %v", k, err)
		}
		if n := len(strings.Join(p.Tags, `","`)) + len(strings.Join(p.URLs, `","`)); n > 32<<10 {
			t.Errorf("part %d takes %d bytes", k, n)
		}
		if w, n, ok := purge.ParsePartID(p.ID); !ok || w != "big" || n != k+1 {
			t.Errorf("ParsePartID(%q) = %q %d %v", p.ID, w, n, ok)
		}
		gotTags, gotURLs = append(gotTags, p.Tags...), append(gotURLs, p.URLs...)
	}
	if !slices.Equal(gotTags, tags) || !slices.Equal(gotURLs, whole.URLs) {
		t.Errorf("the parts do not add up to the request: %d tags, urls %v", len(gotTags), gotURLs)
	}
	small := invalidation.Request{ID: "s", Tenant: "acme", Tags: []string{"a"}}
	if got := purge.SplitRequest(small, 32<<10); len(got) != 1 || got[0].ID != "s" {
		t.Errorf("a small request was split: %+v", got)
	}
	for _, id := range []string{"x", "x~", "x~0", "x~01", "~1", "x~y"} {
		if _, _, ok := purge.ParsePartID(id); ok {
			t.Errorf("ParsePartID(%q) is a part", id)
		}
	}
}

// TestPartsReadAsOne: a purge sent in parts has one state, the least
// advanced of its parts', a failed part shows, and it is retried by the
// whole purge's id.
func TestPartsReadAsOne(t *testing.T) {
	e := newEnv(t)
	parts := purge.SplitRequest(invalidation.Request{ID: "p", Tenant: "acme", Tags: []string{"aaaa", "bbbb", "cccc"}}, 8)
	if len(parts) != 3 {
		t.Fatalf("%d parts", len(parts))
	}
	ids := []string{parts[0].ID, parts[1].ID, parts[2].ID}
	if err := e.states.SetParts(t.Context(), "p", ids); err != nil {
		t.Fatal(err)
	}
	e.cf.Fail(cloudflarefake.Fault{Status: 400, Code: 1012, Message: "Request is invalid"})
	e.enqueue(parts[0])
	e.start(e.queue, e.fastCfg())
	e.waitStatus("p", "cloudflare", purge.StatusFailed, 10*time.Second)
	e.enqueue(parts[1], parts[2])
	st := e.waitStatus("p", "cloudflare", purge.StatusFailed, 10*time.Second)
	if !strings.Contains(st.Detail, "part 1 of 3") || !strings.Contains(st.Detail, "HTTP 400") {
		t.Errorf("merged state %+v, want part 1's failure", st)
	}
	e.waitStatus(parts[2].ID, "cloudflare", purge.StatusConfirmed, 10*time.Second)
	fails, err := e.states.Failed(t.Context(), "")
	if err != nil || len(fails) != 1 || fails[0].Purge != "p" || fails[0].ID != parts[0].ID {
		t.Fatalf("Failed() = %+v, %v", fails, err)
	}
	if err := e.queue.RetryFailedParts(t.Context(), "p"); err != nil {
		t.Fatal(err)
	}
	e.waitStatus("p", "cloudflare", purge.StatusConfirmed, 10*time.Second)
	if err := e.queue.RetryFailedParts(t.Context(), "p"); err == nil {
		t.Error("a second retry found something to retry")
	}

	// A part that fails again can be dismissed by the whole purge's id.
	e.cf.Fail(cloudflarefake.Fault{Status: 400, Code: 1012, Message: "Request is invalid"})
	more := purge.SplitRequest(invalidation.Request{ID: "q", Tenant: "acme", Tags: []string{"dddd", "eeee"}}, 8)
	if err := e.states.SetParts(t.Context(), "q", []string{more[0].ID, more[1].ID}); err != nil {
		t.Fatal(err)
	}
	e.enqueue(more...)
	e.waitStatus("q", "cloudflare", purge.StatusFailed, 10*time.Second)
	if err := e.states.DismissAll(t.Context(), "q"); err != nil {
		t.Fatal(err)
	}
	if fails, err := e.states.Failed(t.Context(), ""); err != nil || len(fails) != 0 {
		t.Errorf("Failed() after DismissAll = %+v, %v", fails, err)
	}
	if err := e.states.DismissAll(t.Context(), "q"); !errors.Is(err, purge.ErrNotFound) {
		t.Errorf("a second DismissAll: %v, want ErrNotFound", err)
	}
}
