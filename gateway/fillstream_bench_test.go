package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// BenchmarkMissFirstByte measures how long a client waits for the first
// body byte of a 5 MiB storable miss through the gateway, against the
// same request sent to the origin directly and through a bare
// httputil.ReverseProxy (what any proxy hop costs), with the length
// announced or not. Each op is one request to each on a new URL; the
// figures are the means per request (us): origin-, proxy- and
// gateway-first-byte-us, and origin-last-byte-us, what the gateway's first
// byte would wait for if it read the body before answering.
func BenchmarkMissFirstByte(b *testing.B) {
	const size = 5 << 20
	body := pattern(size)
	for _, chunked := range []bool{true, false} {
		b.Run(fmt.Sprintf("chunked=%t", chunked), func(b *testing.B) {
			o := startOrigin(b, func(w http.ResponseWriter, r *http.Request) {
				storableHeader(w.Header(), false, chunked, size)
				for i := 0; i < size; i += 64 << 10 {
					w.Write(body[i : i+64<<10])
				}
			})
			g := startGateway(b, o, nil)
			u, _ := url.Parse(o.srv.URL)
			proxy := httptest.NewServer(httputil.NewSingleHostReverseProxy(u))
			b.Cleanup(proxy.Close)
			var origin, bare, gateway, last time.Duration
			for i := 0; b.Loop(); i++ {
				first, end := firstByte(b, o.srv.URL+"/o/"+strconv.Itoa(i))
				origin += first
				last += end
				first, _ = firstByte(b, proxy.URL+"/p/"+strconv.Itoa(i))
				bare += first
				first, _ = firstByte(b, g.srv.URL+"/g/"+strconv.Itoa(i))
				gateway += first
			}
			us := func(d time.Duration) float64 { return float64(d.Microseconds()) / float64(b.N) }
			b.ReportMetric(us(origin), "origin-first-byte-us")
			b.ReportMetric(us(bare), "proxy-first-byte-us")
			b.ReportMetric(us(gateway), "gateway-first-byte-us")
			b.ReportMetric(us(last), "origin-last-byte-us")
		})
	}
}

// firstByte GETs url and returns when its first body byte and its last
// arrived, from the moment the request was sent; the body must be whole.
func firstByte(b *testing.B, target string) (first, last time.Duration) {
	b.Helper()
	req, _ := http.NewRequest(http.MethodGet, target, nil)
	req.Host = "acme"
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var one [1]byte
	if _, err := io.ReadFull(resp.Body, one[:]); err != nil {
		b.Fatal(err)
	}
	first = time.Since(start)
	n, err := io.Copy(io.Discard, resp.Body)
	if err != nil || n != 5<<20-1 {
		b.Fatalf("%s: %d bytes after the first (%v)", target, n, err)
	}
	return first, time.Since(start)
}
