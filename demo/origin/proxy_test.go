package origin_test

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"testing"

	"github.com/cachegate/cachegate/demo/origin"
)

// TestBehindAReverseProxy puts the origin behind httputil.ReverseProxy the
// way the gateway does (SetURL rewrites Host to the origin's address,
// SetXForwarded keeps the client's host): the tenant must still be found.
func TestBehindAReverseProxy(t *testing.T) {
	_, srv := server(t, origin.Config{})
	target, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(target)
		pr.SetXForwarded()
	}})
	t.Cleanup(proxy.Close)
	for _, tenant := range []string{"acme", "berg"} {
		r := get(t, proxy, tenant+".localhost:8080", "/", "Accept-Language", "de-DE,de;q=0.9")
		if r.status != http.StatusOK || r.header.Get("Surrogate-Key") != "company:"+tenant+" gallery:"+tenant+" listings:"+tenant || r.header.Get("Content-Language") != "de" {
			t.Fatalf("%s through a proxy: %d %v", tenant, r.status, r.header)
		}
	}
}

func BenchmarkProfilePage(b *testing.B) {
	o, err := origin.New(origin.Config{Latency: -1})
	if err != nil {
		b.Fatal(err)
	}
	h := o.Handler()
	req := httptest.NewRequest("GET", "http://acme.localhost/", nil)
	req.Header.Set("Accept-Language", "de-DE,de;q=0.9")
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatal(w.Code)
		}
	}
}
