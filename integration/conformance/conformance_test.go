package conformance

import (
	"fmt"
	"io"
	"net/http"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// kase is one rule checked through the running gateway; run gets its own
// path prefix (p, "/c07"), for which it scripts the origin.
type kase struct {
	spec string // "RFC 9111 4.3.4", "departure"
	name string
	run  func(t *testing.T, e *env, p string)
}

type env struct {
	o *origin
	s *serve
}

// TestConformance runs every case against one `cachegate serve` started
// with only --origin, and logs the pass counts per specification.
func TestConformance(t *testing.T) {
	o := startOrigin(t)
	e := &env{o: o, s: startServe(t, o.srv.URL)}
	cases := slices.Concat(storageCases(), freshnessCases(), staleCases(), requestCases(), targetedCases(), departureCases())
	type tally struct{ pass, total int }
	bySpec := map[string]*tally{}
	var specs, failed []string
	for i, c := range cases {
		spec := strings.Fields(c.spec)
		key := strings.Join(spec[:min(2, len(spec))], " ")
		if bySpec[key] == nil {
			bySpec[key] = &tally{}
			specs = append(specs, key)
		}
		bySpec[key].total++
		if t.Run(fmt.Sprintf("%s/%s", c.spec, c.name), func(t *testing.T) { c.run(t, e, fmt.Sprintf("/c%02d", i)) }) {
			bySpec[key].pass++
		} else {
			failed = append(failed, c.spec+": "+c.name)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "conformance of cachegate serve --origin (no config), %s, %s/%s, %d CPUs:\n",
		time.Now().UTC().Format(time.DateOnly), runtime.GOOS, runtime.GOARCH, runtime.NumCPU())
	pass := 0
	for _, s := range specs {
		fmt.Fprintf(&b, "  %-14s %d/%d\n", s, bySpec[s].pass, bySpec[s].total)
		pass += bySpec[s].pass
	}
	fmt.Fprintf(&b, "  %-14s %d/%d\n", "all", pass, len(cases))
	for _, f := range failed {
		fmt.Fprintf(&b, "  FAILED %s\n", f)
	}
	t.Log(b.String())
}

// respond answers status with body and the header lines hdr.
func respond(status int, body string, hdr ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for _, h := range hdr {
			k, v, _ := strings.Cut(h, ":")
			w.Header().Add(k, strings.TrimSpace(v))
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

// wantStored gets path twice: the second answer comes from the store and
// the origin was asked once.
func wantStored(t *testing.T, e *env, path string, hdr ...string) res {
	t.Helper()
	first := e.s.get(t, path, hdr...)
	second := e.s.get(t, path, hdr...)
	if !second.isHit() || e.o.count(path) != 1 || second.status != first.status || second.body != first.body {
		t.Fatalf("not answered from the store: %d %q then %d %q (%s); origin asked %d times",
			first.status, first.body, second.status, second.body, second.cacheStatus(), e.o.count(path))
	}
	return second
}

// wantNotReused gets path twice: both go to the origin.
func wantNotReused(t *testing.T, e *env, path string, hdr ...string) {
	t.Helper()
	e.s.get(t, path, hdr...)
	second := e.s.get(t, path, hdr...)
	if second.isHit() || e.o.count(path) != 2 {
		t.Fatalf("reused: %d %q (%s); origin asked %d times, want 2", second.status, second.body, second.cacheStatus(), e.o.count(path))
	}
}

// revalidating is an origin of a response with validators: a conditional
// request that matches gets a 304 with X-Rev: 2 (which the store must take
// up), any other the response with X-Rev: 1 and hdr.
func revalidating(body string, hdr ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"v1"` || r.Header.Get("If-Modified-Since") == "Mon, 01 Jan 2024 00:00:00 GMT" {
			w.Header().Set("X-Rev", "2")
			w.Header().Set("ETag", `"v1"`)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		respond(http.StatusOK, body, append([]string{"X-Rev: 1"}, hdr...)...)(w, r)
	}
}

// storageCases: what a shared cache stores (RFC 9111 3).
func storageCases() []kase {
	var cs []kase
	for _, status := range []int{200, 203, 204, 299, 302, 307, 400, 404, 410, 500, 503, 599} {
		cs = append(cs, kase{"RFC 9111 3", fmt.Sprintf("status %d with explicit freshness is stored", status), func(t *testing.T, e *env, p string) {
			e.o.handle(p, respond(status, "", "Cache-Control: max-age=60", "Location: /elsewhere"))
			wantStored(t, e, p+"/x")
		}})
	}
	cs = append(cs,
		kase{"RFC 9111 3", "no-store is not stored", func(t *testing.T, e *env, p string) {
			e.o.handle(p, respond(200, "x", "Cache-Control: no-store, max-age=60"))
			wantNotReused(t, e, p+"/x")
		}},
		kase{"RFC 9111 3", "private is not stored and passed unchanged", func(t *testing.T, e *env, p string) {
			e.o.handle(p, respond(200, "x", "Cache-Control: private, max-age=60"))
			if r := e.s.get(t, p+"/x"); r.header.Get("Cache-Control") != "private, max-age=60" {
				t.Fatalf("Cache-Control %q, want the origin's", r.header.Get("Cache-Control"))
			}
			wantNotReused(t, e, p+"/y")
		}},
		kase{"RFC 9111 4.1", "Vary: * is not reused", func(t *testing.T, e *env, p string) {
			e.o.handle(p, respond(200, "x", "Cache-Control: max-age=60", "Vary: *"))
			wantNotReused(t, e, p+"/x")
		}},
		kase{"RFC 9111 5.2.2.3", "no-store, must-understand on an unknown status is not stored", func(t *testing.T, e *env, p string) {
			e.o.handle(p, respond(299, "x", "Cache-Control: no-store, must-understand, max-age=60"))
			wantNotReused(t, e, p+"/x")
		}},
		kase{"RFC 9111 5.2.2.3", "no-store, must-understand on a known status is stored", func(t *testing.T, e *env, p string) {
			e.o.handle(p, respond(200, "x", "Cache-Control: no-store, must-understand, max-age=60"))
			wantStored(t, e, p+"/x")
		}},
		kase{"RFC 9111 3.3", "the framing fields are never stored (chunked with a Content-Length)", func(t *testing.T, e *env, p string) {
			e.o.handle(p, func(w http.ResponseWriter, r *http.Request) {
				c, _, _ := http.NewResponseController(w).Hijack()
				io.WriteString(c, "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
				c.Close()
			})
			r := wantStored(t, e, p+"/x")
			if r.body != "hello" || r.header.Get("Transfer-Encoding") != "" {
				t.Fatalf("hit %q with Transfer-Encoding %q", r.body, r.header.Get("Transfer-Encoding"))
			}
		}},
		kase{"RFC 9112 6.3", "conflicting Content-Length from the origin is a 502 that says so", func(t *testing.T, e *env, p string) {
			e.o.handle(p, func(w http.ResponseWriter, r *http.Request) {
				c, _, _ := http.NewResponseController(w).Hijack()
				io.WriteString(c, "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!")
				c.Close()
			})
			if r := e.s.get(t, p+"/x"); r.status != http.StatusBadGateway || !strings.Contains(r.body, "malformed") {
				t.Fatalf("got %d %q", r.status, r.body)
			}
		}},
	)
	return cs
}

// freshnessCases: freshness and age (RFC 9111 4.2, 5.1, 5.3; RFC 9110 5.6.7).
func freshnessCases() []kase {
	var cs []kase
	for _, c := range []struct{ name, expires string }{
		{"extra spaces", "Thu,  01 Jan 2099 00:00:00 GMT"},
		{"one-digit hour", "Thu, 01 Jan 2099 0:00:00 GMT"},
		{"dashes", "Thu, 01-Jan-2099 00:00:00 GMT"},
		{"not a date", "tomorrow"},
	} {
		cs = append(cs, kase{"RFC 9111 5.3", "an invalid Expires (" + c.name + ") is already expired", func(t *testing.T, e *env, p string) {
			e.o.handle(p, respond(200, "x", "Expires: "+c.expires))
			wantNotReused(t, e, p+"/x")
		}})
	}
	cs = append(cs,
		kase{"RFC 9111 5.3", "two Expires lines are already expired", func(t *testing.T, e *env, p string) {
			e.o.handle(p, respond(200, "x", "Expires: Thu, 01 Jan 2099 00:00:00 GMT", "Expires: Thu, 01 Jan 2099 00:00:00 GMT"))
			wantNotReused(t, e, p+"/x")
		}},
		kase{"RFC 9110 5.6.7", "a future IMF-fixdate Expires is fresh", func(t *testing.T, e *env, p string) {
			e.o.handle(p, respond(200, "x", "Expires: Thu, 01 Jan 2099 00:00:00 GMT"))
			wantStored(t, e, p+"/x")
		}},
		kase{"RFC 9110 5.6.7", "an obsolete asctime Expires is accepted", func(t *testing.T, e *env, p string) {
			e.o.handle(p, respond(200, "x", "Expires: Thu Jan  1 00:00:00 2099"))
			wantStored(t, e, p+"/x")
		}},
		kase{"RFC 9110 5.6.7", "an obsolete RFC 850 Expires is accepted", func(t *testing.T, e *env, p string) {
			e.o.handle(p, respond(200, "x", "Expires: Friday, 01-Jan-49 00:00:00 GMT"))
			wantStored(t, e, p+"/x")
		}},
		kase{"RFC 9111 5.2.2.10", "s-maxage wins over max-age for a shared cache", func(t *testing.T, e *env, p string) {
			e.o.handle(p, respond(200, "x", "Cache-Control: max-age=0, s-maxage=60"))
			wantStored(t, e, p+"/x")
		}},
		kase{"RFC 9111 5.1", "an Age list whose first value is large is stale", func(t *testing.T, e *env, p string) {
			e.o.handle(p, respond(200, "x", "Cache-Control: max-age=600", "Age: 1000, 5"))
			wantNotReused(t, e, p+"/x")
		}},
		kase{"RFC 9111 5.1", "Age counts against max-age", func(t *testing.T, e *env, p string) {
			e.o.handle(p, respond(200, "x", "Cache-Control: max-age=600", "Age: 700"))
			wantNotReused(t, e, p+"/x")
		}},
		kase{"RFC 9111 4.2.3", "a hit carries an Age", func(t *testing.T, e *env, p string) {
			e.o.handle(p, respond(200, "x", "Cache-Control: max-age=600", "Age: 100"))
			if r := wantStored(t, e, p+"/x"); atoi(r.header.Get("Age")) < 100 {
				t.Fatalf("Age %q, want at least 100", r.header.Get("Age"))
			}
		}},
	)
	return cs
}
