// Command bare is the baseline of the load script: a plain net/http server
// that answers every request with the same bytes from memory, as fast as Go
// serves anything. The gateway's L1-hit path is measured against it.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"strconv"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	size := flag.Int("size", 2048, "response body size in bytes")
	fields := flag.String("fields", "origin", `response header fields: "origin" (the 4 an origin sends, and Date) or "gateway" (those and a gateway hit's)`)
	flag.Parse()

	if *fields != "origin" && *fields != "gateway" {
		log.Fatalf("-fields: %q is neither origin nor gateway", *fields)
	}
	gateway := *fields == "gateway"
	date := time.Now().UTC().Format(http.TimeFormat)
	body := bytes.Repeat([]byte("x"), *size)
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("bare listening on %s\n", ln.Addr())
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("ETag", `"bench"`)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		if gateway {
			h := w.Header()
			h.Set("Date", date) // a stored response's Date: fixed, in the map
			h.Set("Age", "0")
			h.Set("Cache-Status", "cachegate; hit; detail=l1; ttl=3600")
			h.Set("Via", "1.1 cachegate")
			h.Set("X-Request-Id", "af87131411de72e5f4cb820b5c0e869c")
		}
		_, _ = w.Write(body)
	})
	log.Fatal(http.Serve(ln, h))
}
