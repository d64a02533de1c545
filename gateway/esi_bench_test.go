package gateway_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"syscall"
	"testing"

	"github.com/cachegate/cachegate/gateway"
)

// BenchmarkESIPage compares a page assembled from a shell and three
// cached fragments with the same page served whole from L1 (issue 13's
// target: at least 0.6 of the whole page's rate). Both pages are the same
// 2 KiB; every part is an L1 hit.
func BenchmarkESIPage(b *testing.B) {
	part := body2K[:512] // benchHitsOf wants a page of len(body2K)
	shell := part + `<esi:include src="/f/a"/><esi:include src="/f/b"/><esi:include src="/f/c"/>`
	o := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		switch r.URL.Path {
		case "/whole":
			w.Write([]byte(body2K))
		case "/page":
			w.Header().Set("Surrogate-Control", `content="ESI/1.0"`)
			w.Write([]byte(shell))
		default:
			w.Header().Set("Surrogate-Key", "fragment:"+r.URL.Path)
			w.Write([]byte(part))
		}
	}))
	b.Cleanup(o.Close)
	u, _ := url.Parse(o.URL)
	g, err := gateway.New(gateway.Config{Origin: u, L1: newL1(b)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { g.Close() })
	for _, bc := range []struct{ name, path, want string }{
		{"whole", "/whole", "detail=l1"},
		{"assembled", "/page", "fragment-hits=3"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			// benchHitsOf reports the CPU time per page too.
			benchHitsOf(b, g, httptest.NewRequest(http.MethodGet, "http://acme"+bc.path, nil), bc.want)
		})
	}
}

// cpuTime is the process's user and system CPU time, in ns.
func cpuTime(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
