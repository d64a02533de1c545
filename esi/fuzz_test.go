package esi

import (
	"bytes"
	"testing"
)

// FuzzParse: Parse never panics; feeding the document in chunks gives the
// same nodes or the same failure; a document without ESI markers is its
// own only text; text never holds a marker that was parsed.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`<p>a<esi:include src="/f" alt="/g" onerror="continue"/>b</p>`,
		`<esi:remove>x</esi:remove><!--esi <esi:include src="/h"/> -->`,
		`<esi:comment text="c"/><esi:include src='/x'></esi:include>`,
		`<esi:include src="/a?b=1&amp;c=2"/>`,
		`<!--esi --><esi:`, `</esi:remove>`, `<esi:vars>`,
	} {
		f.Add([]byte(s), uint8(3))
	}
	f.Fuzz(func(t *testing.T, in []byte, chunk uint8) {
		whole, err := Parse(in)
		n := int(chunk%16) + 1
		chunked, cerr := feedAll(in, n)
		if (err == nil) != (cerr == nil) {
			t.Fatalf("Parse error %v, chunks of %d: %v", err, n, cerr)
		}
		if err != nil {
			return
		}
		if a, b := render(whole), render(chunked); a != b {
			t.Fatalf("Parse %q, chunks of %d %q", a, n, b)
		}
		if !Contains(in) {
			if len(whole) > 1 || len(whole) == 1 && !bytes.Equal(whole[0].Text, in) {
				t.Fatalf("a document without ESI changed: %q", render(whole))
			}
		}
		for _, nd := range whole {
			if nd.Include != nil && nd.Include.Src == "" {
				t.Fatal("an include without src")
			}
		}
	})
}
