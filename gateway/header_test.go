package gateway

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// lines is e's header as "Name: value" lines, in the entry's order.
func lines(e *Entry) []string {
	var ls []string
	for k, v := range e.HeaderFields() {
		ls = append(ls, k+": "+v)
	}
	return ls
}

// SetHeader keeps canonical names, sorted, a field's lines in their order,
// and drops fields without a value (nothing goes on the wire for them);
// Header gives back the same fields.
func TestSetHeader(t *testing.T) {
	for _, tc := range []struct {
		name      string
		in        http.Header
		wantLines []string
		wantMap   http.Header
	}{
		{"nil", nil, nil, http.Header{}},
		{"one field", http.Header{"Content-Type": {"text/plain"}}, []string{"Content-Type: text/plain"}, http.Header{"Content-Type": {"text/plain"}}},
		{"sorted, lines in order",
			http.Header{"Link": {"</b>", "</a>"}, "Cache-Control": {"max-age=60"}, "Age": {"1"}},
			[]string{"Age: 1", "Cache-Control: max-age=60", "Link: </b>", "Link: </a>"},
			http.Header{"Link": {"</b>", "</a>"}, "Cache-Control": {"max-age=60"}, "Age": {"1"}}},
		{"names made canonical", http.Header{"ETag": {`"v1"`}, "x-custom": {"a"}}, []string{`Etag: "v1"`, "X-Custom: a"}, http.Header{"Etag": {`"v1"`}, "X-Custom": {"a"}}},
		{"empty value kept, no value dropped", http.Header{"X-Empty": {""}, "X-None": {}}, []string{"X-Empty: "}, http.Header{"X-Empty": {""}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := &Entry{}
			e.SetHeader(tc.in)
			if got := lines(e); !reflect.DeepEqual(got, tc.wantLines) {
				t.Errorf("lines %q, want %q", got, tc.wantLines)
			}
			if got := e.Header(); !reflect.DeepEqual(got, tc.wantMap) {
				t.Errorf("Header() = %v, want %v", got, tc.wantMap)
			}
			if e.HeaderLen() != len(tc.wantLines) {
				t.Errorf("HeaderLen() = %d, want %d", e.HeaderLen(), len(tc.wantLines))
			}
			for k, vs := range tc.wantMap {
				if got := e.HeaderValue(strings.ToLower(k)); got != vs[0] {
					t.Errorf("HeaderValue(%q) = %q, want %q", k, got, vs[0])
				}
			}
		})
	}
}

// SetHeaderFields, a decoder's way in, leaves the form SetHeader does
// whatever the order of the lines it is given.
func TestSetHeaderFields(t *testing.T) {
	e := &Entry{}
	e.SetHeaderFields([]string{"link", "</b>", "Content-Type", "text/plain", "Link", "</a>", "age", "3"})
	want := []string{"Age: 3", "Content-Type: text/plain", "Link: </b>", "Link: </a>"}
	if got := lines(e); !reflect.DeepEqual(got, want) {
		t.Fatalf("lines %q, want %q", got, want)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("an odd number of strings was taken as a header")
		}
	}()
	e.SetHeaderFields([]string{"Age"})
}

// Nothing a reader does to what it got from an entry changes the entry:
// Header's map is the caller's, and the value slices the hit path shares
// (copyTo) copy on append.
func TestStoredHeaderCannotChange(t *testing.T) {
	e := &Entry{}
	e.SetHeader(http.Header{"Etag": {`"v1"`}, "Link": {"</a>", "</b>"}, "Content-Type": {"text/plain"}})
	want := lines(e)

	h := e.Header()
	h["Content-Type"][0] = "text/html"
	h["Link"][1] = "</c>"
	h.Add("Etag", `"v2"`)
	h.Set("Age", "1")

	w := http.Header{}
	e.header.copyTo(w)
	w["Etag"] = append(w["Etag"], `"v3"`)
	w["Link"] = append(w["Link"], "</d>")
	w["Link"][0] = "</e>" // a field of several lines is copied for w
	w.Add("Content-Type", "text/css")

	if got := lines(e); !reflect.DeepEqual(got, want) {
		t.Fatalf("entry changed by its readers: %q, want %q", got, want)
	}
}

// The hit path copies an entry's single-line fields into the response
// header without allocating (writeStored relies on it: a map per field
// would cost a hit more than the map the entry no longer holds).
func TestCopyToDoesNotAllocate(t *testing.T) {
	e := &Entry{}
	e.SetHeader(http.Header{"Etag": {`"v1"`}, "Cache-Control": {"max-age=60"}, "Content-Type": {"text/plain"}, "Content-Length": {"2048"}, "Date": {"Mon, 02 Jan 2006 15:04:05 GMT"}})
	w := make(http.Header, 16)
	if n := testing.AllocsPerRun(100, func() { e.header.copyTo(w) }); n != 0 {
		t.Fatalf("copyTo allocates %v times", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = e.header.values("Date") }); n != 0 {
		t.Fatalf("values allocates %v times", n)
	}
	if !reflect.DeepEqual(w, e.Header()) {
		t.Fatalf("copied %v, want %v", w, e.Header())
	}
}

// Size counts the header's pairs and strings, so that a layer's byte
// budget sees what an entry's header holds.
func TestSizeCountsHeader(t *testing.T) {
	bare := &Entry{}
	e := &Entry{}
	e.SetHeader(http.Header{"Etag": {`"v1"`}, "Link": {"</a>", "</b>"}})
	held := 3 * 2 * 16 // the pairs' string headers
	for k, v := range e.HeaderFields() {
		held += len(k) + len(v)
	}
	if got := e.Size() - bare.Size(); got < held {
		t.Fatalf("the header adds %d bytes to Size, it holds at least %d", got, held)
	}
}
