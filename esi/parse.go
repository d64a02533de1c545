package esi

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// MaxTagBytes bounds one ESI tag (from "<esi:" to its ">"): a document
// that opens a tag and never closes it cannot make a Parser buffer without
// limit.
const MaxTagBytes = 8 << 10

// Include is one <esi:include>.
type Include struct {
	// Src is the URL to include, as written (resolved by the Fetcher).
	Src string
	// Alt is fetched when Src fails; empty means none.
	Alt string
	// Continue is onerror="continue": when Src (and Alt) fail, the include
	// is replaced by nothing instead of failing the document.
	Continue bool
}

// Node is literal text (Include nil) or an include.
type Node struct {
	Text    []byte
	Include *Include
}

// SyntaxError is a document that is not valid ESI, at Offset bytes.
type SyntaxError struct {
	Offset int64
	Msg    string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("esi: at byte %d: %s", e.Offset, e.Msg) }

// ErrSyntax is matched by every SyntaxError (errors.Is).
var ErrSyntax = errors.New("esi: syntax error")

func (e *SyntaxError) Is(target error) bool { return target == ErrSyntax }

var (
	openTag     = []byte("<esi:")
	closeTag    = []byte("</esi:")
	openComment = []byte("<!--esi")
	endComment  = []byte("-->")
	endRemove   = []byte("</esi:remove>")
)

// Contains reports whether b holds anything ESI would change: a cheap
// test before parsing.
func Contains(b []byte) bool {
	return bytes.Contains(b, openTag) || bytes.Contains(b, closeTag) || bytes.Contains(b, openComment)
}

// Parse parses a whole document. Text nodes are slices of b (no copy), so
// b must not change while the nodes are used.
func Parse(b []byte) ([]Node, error) {
	var p Parser
	n, err := p.scan(b, true)
	if err != nil {
		return nil, err
	}
	return n, nil
}

// Parser parses a document fed in chunks, as it streams past. The zero
// value is ready to use.
type Parser struct {
	pending   []byte // bytes held back: a tag or marker not yet complete
	off       int64  // document offset of pending[0]
	inRemove  bool   // inside <esi:remove>: text is dropped
	inComment bool   // inside <!--esi: the wrapper, not the content, is dropped
	err       error
}

// Feed parses chunk and returns the nodes it completed. It keeps no
// reference to chunk; the nodes stay valid after later calls.
func (p *Parser) Feed(chunk []byte) ([]Node, error) {
	if p.err != nil {
		return nil, p.err
	}
	buf := append(p.pending, chunk...)
	nodes, err := p.scan(buf, false)
	if err != nil {
		return nil, err
	}
	return nodes, nil
}

// Close ends the document: whatever is held back must be complete text.
func (p *Parser) Close() ([]Node, error) {
	if p.err != nil {
		return nil, p.err
	}
	buf := p.pending
	p.pending = nil
	return p.scan(buf, true)
}

// scan parses buf, which starts at p.off. Unless final, it keeps the tail
// that may be an incomplete tag in p.pending (in a new array: the nodes
// returned keep referring to buf).
func (p *Parser) scan(buf []byte, final bool) ([]Node, error) {
	var nodes []Node
	text := func(b []byte) {
		if len(b) > 0 {
			nodes = append(nodes, Node{Text: b})
		}
	}
	fail := func(at int, format string, a ...any) ([]Node, error) {
		p.err = &SyntaxError{Offset: p.off + int64(at), Msg: fmt.Sprintf(format, a...)}
		return nil, p.err
	}
	i := 0
	for i < len(buf) {
		rest := buf[i:]
		if p.inRemove {
			j := bytes.Index(rest, endRemove)
			if j < 0 {
				if final {
					return fail(i, "<esi:remove> is not closed")
				}
				// Keep only what may be the start of </esi:remove>.
				i = max(i, len(buf)-len(endRemove)+1)
				break
			}
			p.inRemove = false
			i += j + len(endRemove)
			continue
		}
		j, m := nextMarker(rest, p.inComment)
		if j < 0 {
			keep := 0
			if !final {
				keep = partialMarker(rest, p.inComment)
			}
			text(rest[:len(rest)-keep])
			i = len(buf) - keep
			break
		}
		text(rest[:j])
		i += j
		rest = buf[i:]
		switch m {
		case markEndComment:
			p.inComment = false
			i += len(endComment)
			continue
		case markOpenComment:
			p.inComment = true
			i += len(openComment)
			continue
		}
		end := tagEnd(rest)
		if end < -1 {
			return fail(i, "tag not closed before the next <")
		}
		if end < 0 {
			if len(rest) > MaxTagBytes {
				return fail(i, "tag longer than %d bytes or not closed", MaxTagBytes)
			}
			if final {
				return fail(i, "tag not closed")
			}
			break
		}
		tag := rest[:end+1]
		if m == markClose {
			name := strings.TrimSpace(string(tag[len(closeTag) : len(tag)-1]))
			switch name {
			case "include", "comment":
				// The end of an include or comment written with an
				// end tag: nothing to output.
			case "remove":
				return fail(i, "</esi:remove> without <esi:remove>")
			default:
				return fail(i, "unsupported element esi:%s", name)
			}
			i += len(tag)
			continue
		}
		inc, remove, err := parseTag(tag)
		if err != nil {
			return fail(i, "%s", err)
		}
		if inc != nil {
			nodes = append(nodes, Node{Include: inc})
		}
		p.inRemove = remove
		i += len(tag)
	}
	if final {
		switch {
		case p.inRemove:
			return fail(i, "<esi:remove> is not closed")
		case p.inComment:
			return fail(i, "<!--esi is not closed")
		}
	}
	p.pending = append([]byte(nil), buf[i:]...)
	p.off += int64(i)
	return nodes, nil
}

type marker int

const (
	markOpen marker = iota
	markClose
	markOpenComment
	markEndComment
)

// nextMarker finds the first ESI construct in b: a tag, an end tag, the
// start of <!--esi, or (inside one) its -->.
func nextMarker(b []byte, inComment bool) (int, marker) {
	best, m := -1, markOpen
	try := func(pat []byte, k marker) {
		if j := bytes.Index(b, pat); j >= 0 && (best < 0 || j < best) {
			best, m = j, k
		}
	}
	try(openTag, markOpen)
	try(closeTag, markClose)
	if inComment {
		try(endComment, markEndComment)
	} else {
		try(openComment, markOpenComment)
	}
	return best, m
}

// partialMarker is how many bytes at the end of b may begin a marker that
// the next chunk completes.
func partialMarker(b []byte, inComment bool) int {
	pats := [][]byte{openTag, closeTag, openComment}
	if inComment {
		pats = append(pats, endComment)
	}
	for k := min(len(b), len(openComment)-1); k > 0; k-- {
		tail := b[len(b)-k:]
		for _, p := range pats {
			if len(p) > k && bytes.HasPrefix(p, tail) {
				return k
			}
		}
	}
	return 0
}

// tagEnd is the index of the ">" that ends the tag starting b, outside
// quoted attribute values, or -1.
func tagEnd(b []byte) int {
	var quote byte
	for i := 1; i < len(b) && i <= MaxTagBytes; i++ {
		c := b[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'':
			quote = c
		case c == '>':
			return i
		case c == '<':
			// A tag does not contain another: report the first as not
			// closed rather than reading markup as attributes.
			return -2 - i
		}
	}
	return -1
}

// parseTag reads one <esi:...> start or empty tag.
func parseTag(tag []byte) (inc *Include, remove bool, err error) {
	s := string(tag[len(openTag) : len(tag)-1])
	selfClosing := strings.HasSuffix(s, "/")
	s = strings.TrimSuffix(s, "/")
	name, attrs, _ := strings.Cut(s, " ")
	if k := strings.IndexAny(name, "\t\r\n"); k >= 0 {
		name, attrs = name[:k], name[k:]+" "+attrs
	}
	switch name {
	case "comment":
		_, err := parseAttrs(attrs)
		return nil, false, err
	case "remove":
		if selfClosing {
			return nil, false, nil
		}
		if strings.TrimSpace(attrs) != "" {
			return nil, false, errors.New("<esi:remove> takes no attributes")
		}
		return nil, true, nil
	case "include":
		a, err := parseAttrs(attrs)
		if err != nil {
			return nil, false, err
		}
		inc := &Include{Src: a["src"], Alt: a["alt"]}
		if inc.Src == "" {
			return nil, false, errors.New("<esi:include> needs a non-empty src")
		}
		switch v, ok := a["onerror"]; {
		case !ok:
		case v == "continue":
			inc.Continue = true
		default:
			return nil, false, fmt.Errorf("onerror must be \"continue\", got %q", v)
		}
		return inc, false, nil
	}
	return nil, false, fmt.Errorf("unsupported element esi:%s", name)
}

// parseAttrs reads name="value" pairs (either quote), decoding XML's
// predefined entities in values.
func parseAttrs(s string) (map[string]string, error) {
	a := map[string]string{}
	for {
		s = strings.TrimLeft(s, " \t\r\n")
		if s == "" {
			return a, nil
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return nil, fmt.Errorf("attribute without a value: %q", s)
		}
		name := strings.TrimRight(s[:eq], " \t\r\n")
		if strings.ContainsAny(name, " \t\r\n\"'") {
			return nil, fmt.Errorf("malformed attribute name %q", name)
		}
		s = strings.TrimLeft(s[eq+1:], " \t\r\n")
		if s == "" || s[0] != '"' && s[0] != '\'' {
			return nil, fmt.Errorf("attribute %s: the value must be quoted", name)
		}
		q := s[0]
		end := strings.IndexByte(s[1:], q)
		if end < 0 {
			return nil, fmt.Errorf("attribute %s: unterminated value", name)
		}
		if _, dup := a[name]; dup {
			return nil, fmt.Errorf("attribute %s given twice", name)
		}
		a[name] = entities.Replace(s[1 : 1+end])
		s = s[end+2:]
	}
}

var entities = strings.NewReplacer("&amp;", "&", "&quot;", `"`, "&apos;", "'", "&lt;", "<", "&gt;", ">")
