package testenv

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func TestRenderVCL(t *testing.T) {
	src := `vcl 4.1;
backend other { .host = "10.0.0.1"; .port = "1"; }
backend default {
    .host = "127.0.0.1"; # backend-host
    .port = "8080";
    .connect_timeout = 2s;
}
sub vcl_recv { set req.http.x = ".host = \"keep\";"; }
`
	tests := []struct {
		name, src, addr string
		want            []string
		wantErr         string
	}{
		{"ipv4", src, "127.0.0.1:41234",
			[]string{`.host = "127.0.0.1"; # backend-host`, `.port = "41234";`, `.host = "10.0.0.1"`, `.host = \"keep\"`}, ""},
		{"ipv6", src, "[::1]:9", []string{`.host = "::1";`, `.port = "9";`}, ""},
		{"no port", src, "127.0.0.1", nil, "backend address"},
		{"no host", src, ":8080", nil, "need host:port"},
		{"quote", src, `a"b:1`, nil, "need host:port"},
		{"no default backend", "vcl 4.1;\nbackend x {\n.host = \"a\"; .port = \"1\";\n}\n", "127.0.0.1:1", nil, "no \"backend default"},
		{"no port line", "vcl 4.1;\nbackend default {\n.host = \"a\";\n}\n", "127.0.0.1:1", nil, "lacks .host or .port"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := RenderVCL([]byte(tt.src), tt.addr)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("rendered VCL lacks %q:\n%s", w, out)
				}
			}
			if strings.Contains(string(out), `"8080"`) {
				t.Errorf("old port left:\n%s", out)
			}
		})
	}
}

func TestShippedVCLRenders(t *testing.T) {
	src, err := os.ReadFile(ShippedVCL(t))
	if err != nil {
		t.Fatal(err)
	}
	out, err := RenderVCL(src, "127.0.0.1:1234")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), `.port = "1234";`) {
		t.Fatalf("port not rendered")
	}
}

func TestStartVarnishStopRestart(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=60")
		io.WriteString(w, "hello")
	}))
	defer backend.Close()
	start := time.Now()
	v := StartVarnish(t, backend.Listener.Addr().String(), ShippedVCL(t))
	t.Logf("varnishd serving after %v", time.Since(start))
	get := func() (string, error) {
		resp, err := http.Get(v.URL + "/")
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.Header.Get("X-Cache") + " " + string(b), nil
	}
	for _, want := range []string{"MISS hello", "HIT hello"} {
		if got, err := get(); err != nil || got != want {
			t.Fatalf("got %q, %v; want %q", got, err, want)
		}
	}
	start = time.Now()
	v.Stop()
	t.Logf("varnishd stopped after %v", time.Since(start))
	if _, err := get(); err == nil {
		t.Fatal("a stopped Varnish answered")
	}
	v.Restart()
	if got, err := get(); err != nil || got != "MISS hello" {
		t.Fatalf("after restart: got %q, %v; want an empty cache", got, err)
	}
}

func TestVarnishBadVCLFailsWithTheCompilerMessage(t *testing.T) {
	dir := t.TempDir()
	vcl := dir + "/bad.vcl"
	if err := os.WriteFile(vcl, []byte("vcl 4.1;\nbackend default { .host = \"127.0.0.1\"; .port = \"1\"; }\nsub vcl_recv { nonsense; }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	v := &Varnish{t: t, Dir: dir + "/varnish", VCL: vcl, port: FreePort(t)}
	start := time.Now()
	err := v.start()
	if err == nil {
		v.Stop()
		t.Fatal("varnishd started with a broken VCL")
	}
	if !strings.Contains(err.Error(), "VCL compilation failed") && !strings.Contains(err.Error(), "nonsense") {
		t.Errorf("error lacks the compiler's message: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v to notice varnishd exited", d)
	}
}
