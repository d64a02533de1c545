package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"strconv"
	"testing"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/internal/testenv"
)

// TestMemoryPerFilledEntry measures what a 2 KiB response stored in L1 by a
// fill costs the heap, everything included (body, header, tags, derived
// values, key, the cache's bookkeeping), against its payload and header
// bytes on the wire: the per-entry figure, for entries as fills
// really make them.
func TestMemoryPerFilledEntry(t *testing.T) {
	const n = 5000
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("ETag", `"`+r.URL.Path[len("/fill/"):]+`"`)
		w.Header().Set("Content-Length", strconv.Itoa(len(body2K)))
		w.Write([]byte(body2K))
	}))
	t.Cleanup(o.Close)
	u, _ := url.Parse(o.URL)
	l1 := newL1(t)
	g, err := gateway.New(gateway.Config{Origin: u, L1: l1, Via: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	w := &sink{h: http.Header{}}
	serve := func(i int) {
		w.reset()
		r := httptest.NewRequest(http.MethodGet, "/fill/"+strconv.Itoa(i), nil)
		r.Host = "acme"
		g.ServeHTTP(w, r)
		if w.status != http.StatusOK || w.n != len(body2K) {
			t.Fatalf("/fill/%d: status %d, %d bytes", i, w.status, w.n)
		}
	}
	serve(-1) // warm the gateway's own tables
	before := testenv.HeapInUse()
	for i := range n {
		serve(i)
	}
	after := testenv.HeapInUse()
	runtime.KeepAlive(g)
	if got := l1.Len(); got != n+1 {
		t.Fatalf("L1 holds %d entries, want %d", got, n+1)
	}
	// The stored header as it goes on the wire: each field's name, ": ",
	// value and CRLF.
	e, _, _ := l1.Get(t.Context(), "acme", "acme|/fill/1")
	hdr := 0
	for k, v := range e.HeaderFields() {
		hdr += len(k) + len(v) + 4
	}
	per := float64(after-before) / n
	ratio := per / float64(len(body2K)+hdr)
	t.Logf("per filled entry: %.0f heap bytes for %d of body and %d of header (%d fields): %.3fx", per, len(body2K), hdr, e.HeaderLen(), ratio)
	// The target is 1.25x, met at about 1.247x (a few bytes more under
	// the race detector): the bound leaves room for that noise and still
	// fails if the header goes back to a map (1.38x).
	if ratio > 1.27 {
		t.Fatalf("a filled 2 KiB entry costs %.3fx its payload and header, want at most 1.27x", ratio)
	}
}
