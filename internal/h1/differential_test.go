package h1

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestSameAnswerAsNetHTTP runs each handler behind the lane and behind a
// plain net/http server and compares what a client reads: status, header
// (Date aside), framing, body and trailers.
func TestSameAnswerAsNetHTTP(t *testing.T) {
	big := strings.Repeat("<html>x", 600) // over the 2 KiB buffer: chunked
	handlers := map[string]http.HandlerFunc{
		"sniffed html": func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html><body>hi") },
		"empty":        func(w http.ResponseWriter, r *http.Request) {},
		"explicit type": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "x/y")
			io.WriteString(w, "a")
		},
		"encoded, not sniffed": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			io.WriteString(w, "<html>")
		},
		"large body chunked": func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, big) },
		"large with length": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "4200")
			io.WriteString(w, big[:4200])
		},
		"many small writes": func(w http.ResponseWriter, r *http.Request) {
			for range 1000 {
				io.WriteString(w, "abc")
			}
		},
		"header changed after WriteHeader": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Before", "1")
			w.WriteHeader(201)
			w.Header().Set("X-After", "1")
			io.WriteString(w, "body")
		},
		"header changed after a complete WriteHeader": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "a/b")
			w.Header().Set("Content-Length", "4")
			w.WriteHeader(200)
			w.Header().Set("X-After", "1")
			io.WriteString(w, "body")
		},
		"trailers": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Trailer", "X-T, X-Unset")
			io.WriteString(w, "body")
			w.Header().Set("X-T", "1")
			w.Header().Set(http.TrailerPrefix+"X-P", "2")
		},
		"handler closes": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			io.WriteString(w, "a")
		},
		"204 with Content-Length": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "3")
			w.WriteHeader(204)
			io.WriteString(w, "abc")
		},
		"early hints": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Link", "</a.css>; rel=preload")
			w.WriteHeader(103)
			w.WriteHeader(200)
			io.WriteString(w, "x")
		},
		"identity TE closes": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Transfer-Encoding", "identity")
			io.WriteString(w, "stream")
		},
		"CL and chunked TE": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "3")
			w.Header().Set("Transfer-Encoding", "chunked")
			io.WriteString(w, "abc")
		},
		"invalid CL dropped": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "x")
			io.WriteString(w, "abc")
		},
		"no Date": func(w http.ResponseWriter, r *http.Request) { w.Header()["Date"] = nil; io.WriteString(w, "a") },
		"304 strips": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "a/b")
			w.Header().Set("Content-Length", "5")
			w.WriteHeader(304)
		},
		"unknown code": func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(599) },
		"flush first": func(w http.ResponseWriter, r *http.Request) {
			w.(http.Flusher).Flush()
			io.WriteString(w, "after")
		},
		"value sanitised": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-Nl", " a\r\nb ")
			w.Header()["Bad Name"] = []string{"x"}
			io.WriteString(w, "a")
		},
	}
	mux := http.NewServeMux()
	for name, h := range handlers {
		mux.Handle("/"+strings.ReplaceAll(name, " ", "-"), h)
	}
	lane := start(t, mux, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	plain := &http.Server{Handler: tag(mux), ReadHeaderTimeout: 5 * time.Second}
	go plain.Serve(ln)
	t.Cleanup(func() { plain.Close() })

	type answer struct {
		Status          int
		Header, Trailer http.Header
		TE              []string
		CL              int64
		Close           bool
		Body            string
	}
	fetch := func(addr, method, path string) answer {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, method+" "+path+" HTTP/1.1\r\nHost: h\r\n\r\n")
		res, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: method})
		if err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
		b, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatalf("%s %s: body: %v", method, path, err)
		}
		res.Header.Del("Date")
		res.Header.Del(servedBy)
		return answer{res.StatusCode, res.Header, res.Trailer, res.TransferEncoding, res.ContentLength, res.Close, string(b)}
	}
	for name := range handlers {
		for _, method := range []string{"GET", "HEAD"} {
			if method == "HEAD" && name == "invalid CL dropped" {
				continue // both servers send "Content-Length: x", which no client reads
			}
			t.Run(method+" "+name, func(t *testing.T) {
				path := "/" + strings.ReplaceAll(name, " ", "-")
				want, got := fetch(ln.Addr().String(), method, path), fetch(lane.addr, method, path)
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("lane     %+v\nnet/http %+v", got, want)
				}
			})
		}
	}
}
