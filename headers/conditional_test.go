package headers

import (
	"net/http"
	"testing"
)

func TestNotModified(t *testing.T) {
	lm := "Mon, 02 Jan 2006 15:04:05 GMT"
	resp := http.Header{"Etag": {`"v1"`}, "Last-Modified": {lm}}
	tests := []struct {
		name   string
		method string
		req    http.Header
		status int
		want   bool
	}{
		{"inm match", "GET", http.Header{"If-None-Match": {`"v1"`}}, 200, true},
		{"inm weak match", "GET", http.Header{"If-None-Match": {`W/"v1"`}}, 200, true},
		{"inm list", "HEAD", http.Header{"If-None-Match": {`"x", "v1"`}}, 200, true},
		{"inm second line", "GET", http.Header{"If-None-Match": {`"x"`, `"v1"`}}, 200, true},
		{"inm star", "GET", http.Header{"If-None-Match": {`*`}}, 200, true},
		{"inm no match", "GET", http.Header{"If-None-Match": {`"v2"`}}, 200, false},
		{"inm wins over ims", "GET", http.Header{"If-None-Match": {`"v2"`}, "If-Modified-Since": {lm}}, 200, false},
		{"inm malformed", "GET", http.Header{"If-None-Match": {`v1`}}, 200, false},
		{"ims equal", "GET", http.Header{"If-Modified-Since": {lm}}, 200, true},
		{"ims before", "GET", http.Header{"If-Modified-Since": {"Mon, 02 Jan 2006 15:04:04 GMT"}}, 200, false},
		{"ims bad date", "GET", http.Header{"If-Modified-Since": {"yesterday"}}, 200, false},
		{"not 2xx", "GET", http.Header{"If-None-Match": {`"v1"`}}, 404, false},
		{"not get", "POST", http.Header{"If-None-Match": {`"v1"`}}, 200, false},
		{"no conditional", "GET", http.Header{}, 200, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NotModified(tt.method, tt.req, tt.status, resp); got != tt.want {
				t.Fatalf("got %v want %v", got, tt.want)
			}
		})
	}
}

// Without a Last-Modified, If-Modified-Since is compared with the stored
// response's Date (RFC 9111 4.3.2).
func TestNotModifiedByDate(t *testing.T) {
	date := "Mon, 02 Jan 2006 15:04:05 GMT"
	tests := []struct {
		name string
		resp http.Header
		ims  []string
		want bool
	}{
		{"date equal", http.Header{"Date": {date}}, []string{date}, true},
		{"date later than ims", http.Header{"Date": {date}}, []string{"Mon, 02 Jan 2006 15:04:04 GMT"}, false},
		{"ims in obsolete form", http.Header{"Date": {date}}, []string{"Monday, 02-Jan-06 15:04:05 GMT"}, true},
		{"last-modified wins over date", http.Header{"Date": {date}, "Last-Modified": {"Mon, 02 Jan 2006 15:04:06 GMT"}}, []string{date}, false},
		{"no date, no last-modified", http.Header{}, []string{date}, false},
		{"ims with a one-digit hour is ignored", http.Header{"Date": {date}}, []string{"Mon, 02 Jan 2006 9:04:05 GMT"}, false},
		{"two ims lines are ignored", http.Header{"Date": {date}}, []string{date, date}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := NotModified("GET", http.Header{"If-Modified-Since": tt.ims}, 200, tt.resp); got != tt.want {
				t.Fatalf("got %v want %v", got, tt.want)
			}
		})
	}
}

func TestUpdate304(t *testing.T) {
	stored := http.Header{"Cache-Control": {"max-age=1"}, "Content-Length": {"5"}, "Etag": {`"a"`}, "X-Keep": {"k"}}
	got := Update304(stored, http.Header{"Cache-Control": {"max-age=60"}, "Content-Length": {"0"}, "Etag": {`"a"`},
		"Transfer-Encoding": {"chunked"}, "Connection": {"close"}, "X-New": {"n"}})
	if got.Get("Cache-Control") != "max-age=60" || got.Get("Content-Length") != "5" || got.Get("X-Keep") != "k" ||
		got.Get("X-New") != "n" || got.Get("Transfer-Encoding") != "" || got.Get("Connection") != "" {
		t.Fatalf("got %v", got)
	}
	if stored.Get("Cache-Control") != "max-age=1" {
		t.Fatal("stored header mutated")
	}
}

func TestValidatorHeaders(t *testing.T) {
	out := http.Header{"If-None-Match": {`"client"`}}
	if !ValidatorHeaders(out, http.Header{"Etag": {`"s"`}}) || out.Get("If-None-Match") != `"s"` {
		t.Fatalf("got %v", out)
	}
	out = http.Header{"If-Modified-Since": {"x"}}
	if ValidatorHeaders(out, http.Header{}) || len(out) != 0 {
		t.Fatalf("got %v", out)
	}
}

func FuzzNotModified(f *testing.F) {
	f.Add(`"a", W/"b"`, `"b"`)
	f.Add(`*`, `W/"x"`)
	f.Add(`"`, `"a"`)
	f.Fuzz(func(t *testing.T, inm, etag string) {
		_ = NotModified("GET", http.Header{"If-None-Match": {inm}}, 200, http.Header{"Etag": {etag}})
	})
}
