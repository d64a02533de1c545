package h1

import (
	"bufio"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestParseHeadHandsOff(t *testing.T) {
	tests := []struct {
		name, head, reason string
	}{
		{"POST", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n", reasonMethod},
		{"lower-case method", "get / HTTP/1.1\r\nHost: a\r\n\r\n", reasonMethod},
		{"OPTIONS asterisk", "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", reasonMethod},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\n", reasonMethod},
		{"HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\n\r\n", reasonVersion},
		{"two spaces", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", reasonTarget},
		{"space in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n", reasonTargetByte},
		{"absolute-form", "GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n", reasonTarget},
		{"non-ASCII target", "GET /\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n", reasonTargetByte},
		{"bad escape", "GET /%zz HTTP/1.1\r\nHost: a\r\n\r\n", reasonURL},
		{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", reasonFold},
		{"no colon", "GET / HTTP/1.1\r\nHost: a\r\nX\r\n\r\n", reasonLine},
		{"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", reasonLine},
		{"empty name", "GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", reasonLine},
		{"bare LF in value", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\n2\r\n\r\n", reasonValue},
		{"bare CR in value", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\r2\r\n\r\n", reasonValue},
		{"NUL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\x002\r\n\r\n", reasonValue},
		{"DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: 1\x7f\r\n\r\n", reasonValue},
		{"no Host", "GET / HTTP/1.1\r\nX: 1\r\n\r\n", reasonHost},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", reasonHost},
		{"bad Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", reasonHost},
		{"Content-Length 1", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\n\r\n", reasonBody},
		{"Content-Length 00", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 00\r\n\r\n", reasonBody},
		{"two Content-Lengths", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\ncontent-length: 0\r\n\r\n", reasonBody},
		{"Transfer-Encoding", "GET / HTTP/1.1\r\nHost: a\r\ntransfer-encoding: chunked\r\n\r\n", reasonTE},
		{"Upgrade", "GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n", reasonUpgrade},
		{"Connection upgrade", "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, UPGRADE\r\n\r\n", reasonUpgrade},
		{"Expect", "GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n", reasonExpect},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, reason := parseHead([]byte(tt.head)); reason != tt.reason {
				t.Fatalf("reason %q, want %q", reason, tt.reason)
			}
		})
	}
	t.Run("too many lines", func(t *testing.T) {
		head := "GET / HTTP/1.1\r\nHost: a\r\n" + strings.Repeat("X: 1\r\n", maxHeaderLines) + "\r\n"
		if _, reason := parseHead([]byte(head)); reason != reasonTooMany {
			t.Fatalf("reason %q, want %q", reason, reasonTooMany)
		}
	})
}

func TestParseHeadAccepts(t *testing.T) {
	tests := []struct {
		name, head string
		want       head
	}{
		{"minimal GET", "GET / HTTP/1.1\r\nHost: a\r\n\r\n",
			head{method: "GET", target: "/", host: "a", header: http.Header{}}},
		{"HEAD with query", "HEAD /p?q=1&r=%20 HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
			head{method: "HEAD", target: "/p?q=1&r=%20", host: "example.com:8080", header: http.Header{}}},
		{"canonical keys, OWS trimmed, repeats in order", "GET / HTTP/1.1\r\nhost:a\r\naccept-encoding: \tgzip \r\nX-A: 1\r\nx-a:2\r\n\r\n",
			head{method: "GET", target: "/", host: "a", header: http.Header{"Accept-Encoding": {"gzip"}, "X-A": {"1", "2"}}}},
		{"Content-Length 0", "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
			head{method: "GET", target: "/", host: "a", header: http.Header{"Content-Length": {"0"}}}},
		{"Connection close", "GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Close\r\n\r\n",
			head{method: "GET", target: "/", host: "a", close: true, header: http.Header{"Connection": {"keep-alive, Close"}}}},
		{"Pragma no-cache", "GET / HTTP/1.1\r\nHost: a\r\nPragma: no-cache\r\n\r\n",
			head{method: "GET", target: "/", host: "a", header: http.Header{"Pragma": {"no-cache"}, "Cache-Control": {"no-cache"}}}},
		{"empty value and obs-text", "GET / HTTP/1.1\r\nHost: a\r\nX-E:\r\nX-U: caf\xc3\xa9\r\n\r\n",
			head{method: "GET", target: "/", host: "a", header: http.Header{"X-E": {""}, "X-U": {"caf\xc3\xa9"}}}},
		{"double slash path", "GET //x HTTP/1.1\r\nHost: a\r\n\r\n",
			head{method: "GET", target: "//x", host: "a", header: http.Header{}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, reason := parseHead([]byte(tt.head))
			if reason != "" {
				t.Fatalf("handed off: %s", reason)
			}
			if got.url == nil || got.url.RequestURI() == "" {
				t.Fatalf("no URL parsed")
			}
			got.url = nil
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("got %+v\nwant %+v", got, tt.want)
			}
			sameAsNetHTTP(t, []byte(tt.head), got)
		})
	}
}

// sameAsNetHTTP fails unless net/http parses raw into the request h says.
func sameAsNetHTTP(t *testing.T, raw []byte, h head) {
	t.Helper()
	req, err := http.ReadRequest(bufio.NewReader(strings.NewReader(string(raw))))
	if err != nil {
		t.Fatalf("lane took a head net/http rejects: %v\n%q", err, raw)
	}
	want := req.Header.Clone()
	delete(want, "Host") // net/http's server drops it from the header too
	if len(want) == 0 && len(h.header) == 0 {
		want = h.header
	}
	if req.Method != h.method || req.RequestURI != h.target || req.Host != h.host || req.Close != h.close || !reflect.DeepEqual(want, h.header) {
		t.Fatalf("lane and net/http differ on %q:\nlane     %s %s host=%q close=%v %v\nnet/http %s %s host=%q close=%v %v",
			raw, h.method, h.target, h.host, h.close, h.header, req.Method, req.RequestURI, req.Host, req.Close, want)
	}
	if h.url != nil && *h.url != *req.URL {
		t.Fatalf("URL %#v, net/http %#v", h.url, req.URL)
	}
}

// FuzzParseHead: the parser never panics, and every head it takes is one
// net/http parses into the same request.
func FuzzParseHead(f *testing.F) {
	for _, s := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"HEAD /x?y HTTP/1.1\r\nHost: a:1\r\nX: 1\r\nx: 2\r\nConnection: close\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\nPragma: no-cache\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\n X: 1\r\n\r\n",
		"PRI * HTTP/2.0\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		// The connection only passes heads that end at their first CRLFCRLF.
		i := strings.Index(string(raw), "\r\n\r\n")
		if i < 0 {
			return
		}
		raw = raw[:i+4]
		h, reason := parseHead(raw)
		if reason != "" {
			return
		}
		sameAsNetHTTP(t, raw, h)
	})
}
