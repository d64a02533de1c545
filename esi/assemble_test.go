package esi

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeOrigin serves fragments by src for the assembler's tests: a body,
// or an error.
type fakeOrigin struct {
	mu    sync.Mutex
	frags map[string]Fragment
	fail  map[string]bool
}

func (o *fakeOrigin) Fetch(ctx context.Context, base, src string) (Fragment, error) {
	o.mu.Lock()
	f, ok := o.frags[src]
	fail := o.fail[src]
	o.mu.Unlock()
	if fail || !ok {
		return Fragment{}, fmt.Errorf("%s: 503", src)
	}
	f.URL = src
	return f, nil
}

func TestAssemble(t *testing.T) {
	frags := map[string]Fragment{
		"/a":      {Body: []byte("A"), Hit: true, ETag: `"a1"`},
		"/b":      {Body: []byte("B"), Hit: true},
		"/c":      {Body: []byte("C")},
		"/me":     {Body: []byte("ME"), Private: true},
		"/nest":   {Body: []byte(`[<esi:include src="/a"/>]`), ESI: true, Hit: true},
		"/alt":    {Body: []byte("ALT"), Hit: true},
		"/self":   {Body: []byte(`<esi:include src="/self"/>`), ESI: true},
		"/broken": {Body: []byte(`<esi:include`), ESI: true},
	}
	tests := []struct {
		name       string
		doc        string
		fail       []string
		want       string
		frags, hit int
		omitted    int
		private    bool
		err        error
	}{
		{name: "three", doc: `<h1>x</h1><esi:include src="/a"/><esi:include src="/b"/><esi:include src="/c"/>`,
			want: "<h1>x</h1>ABC", frags: 3, hit: 2},
		{name: "no includes", doc: "plain", want: "plain"},
		{name: "private", doc: `<esi:include src="/a"/><esi:include src="/me"/>`, want: "AME", frags: 2, hit: 1, private: true},
		{name: "nested", doc: `<esi:include src="/nest"/>`, want: "[A]", frags: 2, hit: 2},
		{name: "alt", doc: `<esi:include src="/gone" alt="/alt"/>`, want: "ALT", frags: 1, hit: 1},
		{name: "continue", doc: `x<esi:include src="/gone" onerror="continue"/>y`, want: "xy", frags: 1, omitted: 1},
		{name: "alt fails too, continue", doc: `x<esi:include src="/gone" alt="/gone2" onerror="continue"/>y`, want: "xy", frags: 1, omitted: 1},
		{name: "fails", doc: `x<esi:include src="/a"/><esi:include src="/gone"/>`, err: &FragmentError{}},
		{name: "alt fails", doc: `<esi:include src="/gone" alt="/gone2"/>`, err: &FragmentError{}},
		{name: "too deep", doc: `<esi:include src="/self"/>`, err: ErrTooDeep},
		{name: "too deep continue", doc: `x<esi:include src="/self" onerror="continue"/>`, want: "x", frags: 1, omitted: 1},
		{name: "broken fragment", doc: `<esi:include src="/broken"/>`, err: ErrSyntax},
		{name: "broken shell", doc: `<esi:include src="/a"`, err: ErrSyntax},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := &fakeOrigin{frags: frags}
			a := &Assembler{Fetcher: o, MaxDepth: 3}
			r, err := a.Assemble(context.Background(), "/page", []byte(tt.doc), `"p1"`)
			if tt.err != nil {
				var fe *FragmentError
				if errors.As(tt.err, &fe) {
					if !errors.As(err, &fe) {
						t.Fatalf("err %v, want a FragmentError", err)
					}
					return
				}
				if !errors.Is(err, tt.err) {
					t.Fatalf("err %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(r.Bytes()) != tt.want || r.Fragments != tt.frags || r.Hits != tt.hit || r.Omitted != tt.omitted || r.Private != tt.private {
				t.Fatalf("got %q frags=%d hits=%d omitted=%d private=%v", r.Bytes(), r.Fragments, r.Hits, r.Omitted, r.Private)
			}
			if !strings.HasPrefix(r.ETag, `"esi-`) {
				t.Fatalf("ETag %q", r.ETag)
			}
		})
	}
}

// TestAssembleETag: the ETag changes with any fragment's validator or
// body, and with which of src and alt was used; it is stable otherwise.
func TestAssembleETag(t *testing.T) {
	etag := func(frags map[string]Fragment, fail ...string) string {
		o := &fakeOrigin{frags: frags, fail: map[string]bool{}}
		for _, f := range fail {
			o.fail[f] = true
		}
		r, err := (&Assembler{Fetcher: o}).Assemble(context.Background(), "/p", []byte(`<esi:include src="/a" alt="/b"/><esi:include src="/c"/>`), `"p"`)
		if err != nil {
			t.Fatal(err)
		}
		return r.ETag
	}
	base := map[string]Fragment{"/a": {Body: []byte("x"), ETag: `"1"`}, "/b": {Body: []byte("x"), ETag: `"1"`}, "/c": {Body: []byte("y")}}
	e0 := etag(base)
	if e0 != etag(base) {
		t.Fatal("ETag not stable")
	}
	changedTag := map[string]Fragment{"/a": {Body: []byte("x"), ETag: `"2"`}, "/b": base["/b"], "/c": base["/c"]}
	changedBody := map[string]Fragment{"/a": base["/a"], "/b": base["/b"], "/c": {Body: []byte("z")}}
	weak := map[string]Fragment{"/a": {Body: []byte("x2"), ETag: `W/"1"`}, "/b": base["/b"], "/c": base["/c"]}
	for name, e := range map[string]string{
		"fragment etag": etag(changedTag), "fragment body": etag(changedBody),
		"alt used": etag(base, "/a"), "weak etag means body": etag(weak),
	} {
		if e == e0 {
			t.Errorf("%s: ETag did not change", name)
		}
	}
}

// TestAssembleParallel: includes are fetched at the same time (each of
// three waits until all three are in flight), each with its own timeout.
func TestAssembleParallel(t *testing.T) {
	var inFlight atomic.Int64
	all := make(chan struct{})
	f := FetcherFunc(func(ctx context.Context, base, src string) (Fragment, error) {
		if src == "/slow" {
			<-ctx.Done()
			return Fragment{}, ctx.Err()
		}
		if inFlight.Add(1) == 3 {
			close(all)
		}
		select {
		case <-all:
			return Fragment{URL: src, Body: []byte(src[1:])}, nil
		case <-ctx.Done():
			return Fragment{}, fmt.Errorf("%s alone in flight: %w", src, ctx.Err())
		}
	})
	a := &Assembler{Fetcher: f, Timeout: 2 * time.Second}
	r, err := a.Assemble(context.Background(), "/p", []byte(`<esi:include src="/a"/><esi:include src="/b"/><esi:include src="/c"/>`), "")
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Bytes()) != "abc" {
		t.Fatalf("got %q", r.Bytes())
	}
	a.Timeout = 50 * time.Millisecond
	_, err = a.Assemble(context.Background(), "/p", []byte(`<esi:include src="/slow"/>`), "")
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "no answer within 50ms") {
		t.Fatalf("err %v", err)
	}
	r, err = a.Assemble(context.Background(), "/p", []byte(`x<esi:include src="/slow" onerror="continue"/>`), "")
	if err != nil || string(r.Bytes()) != "x" || r.Omitted != 1 {
		t.Fatalf("got %q, %v", r.Bytes(), err)
	}
}

// TestAssembleMaxIncludes: a fan-out past MaxIncludes fails rather than
// fetching without bound.
func TestAssembleMaxIncludes(t *testing.T) {
	var n atomic.Int64
	f := FetcherFunc(func(ctx context.Context, base, src string) (Fragment, error) {
		n.Add(1)
		return Fragment{URL: src, Body: []byte(strings.Repeat(`<esi:include src="/x"/>`, 4)), ESI: true}, nil
	})
	_, err := (&Assembler{Fetcher: f, MaxIncludes: 20}).Assemble(context.Background(), "/p", []byte(`<esi:include src="/x"/>`), "")
	if !errors.Is(err, ErrTooMany) {
		t.Fatalf("err %v", err)
	}
	if n.Load() > 20 {
		t.Fatalf("%d fetches past the limit of 20", n.Load())
	}
}

func TestAssemblerValidate(t *testing.T) {
	if err := (&Assembler{}).Validate(); err == nil {
		t.Fatal("no fetcher accepted")
	}
	if err := (&Assembler{Fetcher: &fakeOrigin{}, Timeout: -1}).Validate(); err == nil {
		t.Fatal("negative timeout accepted")
	}
	if err := (&Assembler{Fetcher: &fakeOrigin{}}).Validate(); err != nil {
		t.Fatal(err)
	}
}
