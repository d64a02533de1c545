package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
)

func TestPprofServesProfilesOnlyWhereAsked(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out bytes.Buffer
	if err := startPprof(ctx, "127.0.0.1:0", &out); err != nil {
		t.Fatal(err)
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(out.String()), "pprof listening on ")
	if !ok {
		t.Fatalf("startPprof printed %q, want its address", out.String())
	}
	resp, err := http.Get("http://" + addr + "/debug/pprof/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("cmdline profile: status %d", resp.StatusCode)
	}
	if err := startPprof(ctx, "256.0.0.1:0", &out); err == nil {
		t.Fatal("a bad address was accepted")
	}
}
