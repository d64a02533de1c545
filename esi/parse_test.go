package esi

import (
	"errors"
	"strings"
	"testing"
)

// render writes nodes back as text, an include as [src|alt|c].
func render(nodes []Node) string {
	var b strings.Builder
	for _, n := range nodes {
		if n.Include == nil {
			b.Write(n.Text)
			continue
		}
		b.WriteString("[" + n.Include.Src)
		if n.Include.Alt != "" {
			b.WriteString("|" + n.Include.Alt)
		}
		if n.Include.Continue {
			b.WriteString("|c")
		}
		b.WriteString("]")
	}
	return b.String()
}

func TestParse(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "<p>hello</p>", "<p>hello</p>"},
		{"include", `a<esi:include src="/f"/>b`, "a[/f]b"},
		{"include spaces", "a<esi:include  src = '/f' />b", "a[/f]b"},
		{"include end tag", `a<esi:include src="/f"></esi:include>b`, "a[/f]b"},
		{"alt onerror", `<esi:include src="/f" alt="/g" onerror="continue"/>`, "[/f|/g|c]"},
		{"entities", `<esi:include src="/f?a=1&amp;b=2"/>`, "[/f?a=1&b=2]"},
		{"gt in quotes", `<esi:include src="/f?x=>"/>.`, "[/f?x=>]."},
		{"unknown attr ignored", `<esi:include src="/f" maxwait="5"/>`, "[/f]"},
		{"tab after name", "<esi:include\tsrc=\"/f\"/>", "[/f]"},
		{"remove", "a<esi:remove><a href=/x>x</a></esi:remove>b", "ab"},
		{"comment", `a<esi:comment text="not shown"/>b`, "ab"},
		{"esi html comment", `a<!--esi <esi:include src="/f"/> -->b`, "a [/f] b"},
		{"html comment kept", "a<!-- plain -->b", "a<!-- plain -->b"},
		{"other tags kept", "<esix><es:i>", "<esix><es:i>"},
		{"two includes", `<esi:include src="/a"/><esi:include src="/b"/>`, "[/a][/b]"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nodes, err := Parse([]byte(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got := render(nodes); got != tt.want {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"no src", `<esi:include/>`, "needs a non-empty src"},
		{"empty src", `<esi:include src=""/>`, "needs a non-empty src"},
		{"bad onerror", `<esi:include src="/f" onerror="stop"/>`, `onerror must be "continue"`},
		{"unquoted", `<esi:include src=/f />`, "must be quoted"},
		{"dup attr", `<esi:include src="/a" src="/b"/>`, "given twice"},
		{"unterminated value", `<esi:include src="/a/>`, "tag not closed"},
		{"unclosed tag", `<esi:include src="/a"`, "tag not closed"},
		{"tag runs into markup", `<esi:include src="/a" <p>`, "before the next <"},
		{"unclosed remove", `<esi:remove>x`, "not closed"},
		{"stray end remove", `x</esi:remove>`, "without <esi:remove>"},
		{"unclosed esi comment", `<!--esi x`, "<!--esi is not closed"},
		{"unsupported", `<esi:vars>$(HTTP_HOST)</esi:vars>`, "unsupported element esi:vars"},
		{"unsupported end", `</esi:try>`, "unsupported element esi:try"},
		{"too long", "<esi:include src=\"" + strings.Repeat("a", MaxTagBytes+10), "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want an error with %q", err, tt.want)
			}
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("%v is not ErrSyntax", err)
			}
		})
	}
}

// feedAll parses in by chunks of n bytes.
func feedAll(in []byte, n int) ([]Node, error) {
	var p Parser
	var all []Node
	for len(in) > 0 {
		k := min(n, len(in))
		buf := append([]byte(nil), in[:k]...)
		nodes, err := p.Feed(buf)
		if err != nil {
			return nil, err
		}
		// The caller may reuse its chunk: the nodes must not see it.
		for i := range buf {
			buf[i] = '#'
		}
		all = append(all, nodes...)
		in = in[k:]
	}
	nodes, err := p.Close()
	return append(all, nodes...), err
}

// TestParserChunked: a tag or marker split across chunks anywhere parses
// as the whole document does.
func TestParserChunked(t *testing.T) {
	in := []byte(`<html>a<esi:include src="/f" alt="/g"/>b<esi:remove>x</esi:remove>` +
		`c<!--esi <esi:include src="/h" onerror="continue"></esi:include> -->d<esi:comment text="-->"/>e-->f<</html>`)
	whole, err := Parse(in)
	if err != nil {
		t.Fatal(err)
	}
	want := render(whole)
	if want != `<html>a[/f|/g]bc [/h|c] de-->f<</html>` {
		t.Fatalf("whole: %q", want)
	}
	for n := 1; n <= len(in); n++ {
		nodes, err := feedAll(in, n)
		if err != nil {
			t.Fatalf("chunks of %d: %v", n, err)
		}
		if got := render(nodes); got != want {
			t.Fatalf("chunks of %d: got %q, want %q", n, got, want)
		}
	}
}

// TestParserBounded: an open tag that never closes fails once it passes
// MaxTagBytes instead of being buffered for ever.
func TestParserBounded(t *testing.T) {
	var p Parser
	if _, err := p.Feed([]byte(`<esi:include src="`)); err != nil {
		t.Fatal(err)
	}
	chunk := []byte(strings.Repeat("a", 1024))
	for i := 0; i < 2*MaxTagBytes/len(chunk); i++ {
		if _, err := p.Feed(chunk); err != nil {
			if !errors.Is(err, ErrSyntax) || len(p.pending) > MaxTagBytes+len(chunk) {
				t.Fatalf("err %v with %d bytes held", err, len(p.pending))
			}
			return
		}
	}
	t.Fatalf("no error after %d bytes of one tag", 2*MaxTagBytes)
}

func TestContains(t *testing.T) {
	for in, want := range map[string]bool{
		"<p>x</p>": false, `<esi:include src="/a"/>`: true, "<!--esi x -->": true, "</esi:remove>": true,
	} {
		if got := Contains([]byte(in)); got != want {
			t.Errorf("Contains(%q) = %v", in, got)
		}
	}
}
