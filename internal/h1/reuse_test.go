package h1

import (
	"net/http"
	"strconv"
	"testing"
)

// The header map a connection reuses starts empty for every response: no
// field of an earlier response reaches a later one, however many it had.
func TestResponseHeaderStartsEmpty(t *testing.T) {
	ts := start(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n := len(w.Header()); n != 1 { // servedBy, set by the test wrapper
			t.Errorf("%s: handler found %d fields already set", r.URL.Path, n)
		}
		fields, _ := strconv.Atoi(r.URL.Query().Get("fields"))
		for i := range fields {
			w.Header().Set("X-Field-"+strconv.Itoa(i), "v")
		}
		w.Write([]byte("ok"))
	}), nil)
	c := ts.dial(t)
	for _, fields := range []int{9, 0, 100, 0, 3, 0} {
		res, body := c.get("/?fields=" + strconv.Itoa(fields))
		wantServedBy(t, res, byLane)
		got := 0
		for k := range res.Header {
			if len(k) > 8 && k[:8] == "X-Field-" {
				got++
			}
		}
		if body != "ok" || got != fields {
			t.Fatalf("fields=%d: got %d X-Field- fields, body %q", fields, got, body)
		}
	}
}
