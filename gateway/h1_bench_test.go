package gateway_test

import (
	"context"
	"net"
	"net/http"
	"testing"

	"github.com/cachegate/cachegate/internal/h1"
)

// BenchmarkL1HitWireH1 is BenchmarkL1HitWire through the front the
// gateway listener really uses (h1's lane, net/http as fallback).
func BenchmarkL1HitWireH1(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &h1.Server{Fallback: &http.Server{Handler: servedGateway(b, "ETag: \"v1\"").Handler()}}
	go srv.Serve(ln)
	b.Cleanup(func() { _ = srv.Shutdown(context.Background()) })
	benchL1HitWire(b, ln.Addr().String())
}
