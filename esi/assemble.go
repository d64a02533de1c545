package esi

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of the Assembler's zero fields.
const (
	// DefaultTimeout bounds one fetch of one include (src, then alt).
	DefaultTimeout = 5 * time.Second
	// DefaultMaxDepth is how deep includes may nest: a page's includes
	// are depth 1, theirs depth 2, and so on (Varnish's max_esi_depth
	// is 5 too).
	DefaultMaxDepth = 5
	// DefaultMaxIncludes bounds the includes of one page, all depths
	// together: a fragment that includes itself ten times per level
	// cannot fan out into 10^5 fetches.
	DefaultMaxIncludes = 64
)

// Fragment is what a Fetcher returns for one include.
type Fragment struct {
	// URL is the include's resolved URL: the base its own includes are
	// resolved against, and part of the combined ETag.
	URL string
	// Body is the fragment's body as the page includes it.
	Body []byte
	// Hit: it was served from a cache layer.
	Hit bool
	// Private: it was fetched for this user alone; the assembled page
	// must not be shared.
	Private bool
	// ETag is the fragment's strong validator, if any.
	ETag string
	// ESI: Body is itself an ESI document, to be assembled.
	ESI bool
}

// Fetcher fetches one include. base is the URL of the document the
// include appears in; src is the include's src or alt as written. An
// error (including a status the page must not include) makes the include
// fall back to its alt, then to onerror.
type Fetcher interface {
	Fetch(ctx context.Context, base, src string) (Fragment, error)
}

// CachedFetcher is a Fetcher that can answer some includes at once from
// memory, with no I/O. The assembler asks it first, include by include,
// without a goroutine or a timer each, and fetches only the others in
// parallel: a page of cached fragments costs little more than its
// lookups. ok false means "fetch it": Cached never fails an include.
type CachedFetcher interface {
	Fetcher
	Cached(base, src string) (f Fragment, ok bool)
}

// FetcherFunc adapts a function to Fetcher.
type FetcherFunc func(ctx context.Context, base, src string) (Fragment, error)

// Fetch calls f.
func (f FetcherFunc) Fetch(ctx context.Context, base, src string) (Fragment, error) {
	return f(ctx, base, src)
}

// Assembler assembles documents. Its zero fields take the defaults above.
type Assembler struct {
	Fetcher Fetcher
	// Docs, when set, keeps parsed documents for the next assembly.
	Docs        *Docs
	Timeout     time.Duration
	MaxDepth    int
	MaxIncludes int
}

// Validate reports a config that cannot work.
func (a *Assembler) Validate() error {
	switch {
	case a.Fetcher == nil:
		return errors.New("esi: Assembler.Fetcher is required")
	case a.Timeout < 0, a.MaxDepth < 0, a.MaxIncludes < 0:
		return errors.New("esi: Assembler limits must not be negative (zero means the default)")
	}
	return nil
}

// Result is an assembled document.
type Result struct {
	// Size is the assembled body's length; WriteTo writes it and Bytes
	// returns it, from the parts (they are not copied into one buffer).
	Size int
	// ETag is a strong validator of the body: a hash of the document's and
	// each fragment's URL and validator (or body, where one has none).
	ETag string
	// Fragments counts the includes resolved, at every depth; Hits those
	// served from a cache; Omitted those that failed with onerror
	// "continue" and were left out.
	Fragments, Hits, Omitted int
	// Private: some fragment was private.
	Private bool

	root *part
}

// WriteTo writes the assembled body to w.
func (r *Result) WriteTo(w io.Writer) (int64, error) {
	if r.root == nil {
		return 0, nil
	}
	return r.root.writeTo(w)
}

// Bytes returns the assembled body.
func (r *Result) Bytes() []byte {
	if r.root == nil {
		return nil
	}
	return r.root.write(make([]byte, 0, r.Size))
}

// FragmentError is an include that failed with no fallback left: the
// document cannot be assembled (the gateway answers 502).
type FragmentError struct {
	Src string
	Err error
}

func (e *FragmentError) Error() string { return fmt.Sprintf("esi: include %q: %v", e.Src, e.Err) }
func (e *FragmentError) Unwrap() error { return e.Err }

// ErrTooDeep is the error of an include nested deeper than MaxDepth;
// ErrTooMany of one past MaxIncludes.
var (
	ErrTooDeep = errors.New("includes nested too deep")
	ErrTooMany = errors.New("too many includes in one page")
)

// Assemble parses body (a document at url whose validator is etag, "" for
// none) and replaces its includes by their fragments, fetched in parallel.
func (a *Assembler) Assemble(ctx context.Context, url string, body []byte, etag string) (Result, error) {
	nodes, err := a.Docs.Parse(body)
	if err != nil {
		return Result{}, err
	}
	run := &assembly{a: a, maxDepth: cmpOr(a.MaxDepth, DefaultMaxDepth), timeout: a.Timeout}
	if run.timeout == 0 {
		run.timeout = DefaultTimeout
	}
	run.left.Store(int64(cmpOr(a.MaxIncludes, DefaultMaxIncludes)))
	p, err := run.document(ctx, url, body, etag, nodes, 0)
	if err != nil {
		return Result{}, err
	}
	r := p.result
	r.Size, r.root = p.size, p
	var buf [512]byte
	sum := sha256.Sum256(p.appendID(buf[:0]))
	r.ETag = `"esi-` + base64.RawURLEncoding.EncodeToString(sum[:16]) + `"`
	return r, nil
}

func cmpOr(v, d int) int {
	if v == 0 {
		return d
	}
	return v
}

// assembly is one Assemble call.
type assembly struct {
	a        *Assembler
	maxDepth int
	timeout  time.Duration
	left     atomic.Int64 // includes still allowed
}

// part is an assembled document (its nodes with each include's part) or
// a fragment's body.
type part struct {
	nodes  []Node
	parts  []*part // per include node, in order; nil when omitted
	body   []byte  // a fragment that is not ESI; the document's own body
	url    string
	etag   string
	size   int
	result Result // counts, Body and ETag unset
}

// appendID appends what identifies p's assembled body, to be hashed once
// for the page: each document's and fragment's URL and validator (or body,
// without a strong one), in order, and which includes were left out.
func (p *part) appendID(b []byte) []byte {
	// Each variable part is length-prefixed: no two trees write the same.
	b = binary.AppendUvarint(b, uint64(len(p.url)))
	b = append(b, p.url...)
	if p.etag != "" && !strings.HasPrefix(p.etag, "W/") {
		b = append(b, 'e')
		b = binary.AppendUvarint(b, uint64(len(p.etag)))
		b = append(b, p.etag...)
	} else {
		b = append(b, 'b')
		b = binary.AppendUvarint(b, uint64(len(p.body)))
		b = append(b, p.body...)
	}
	for _, c := range p.parts {
		if c == nil {
			b = append(b, 1)
			continue
		}
		b = append(b, 2)
		b = c.appendID(b)
	}
	return append(b, 3)
}

func (p *part) writeTo(w io.Writer) (int64, error) {
	if p.parts == nil {
		n, err := w.Write(p.body)
		return int64(n), err
	}
	var total int64
	k := 0
	for _, nd := range p.nodes {
		var n int64
		var err error
		if nd.Include == nil {
			var m int
			m, err = w.Write(nd.Text)
			n = int64(m)
		} else {
			if c := p.parts[k]; c != nil {
				n, err = c.writeTo(w)
			}
			k++
		}
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (p *part) write(dst []byte) []byte {
	if p.parts == nil {
		return append(dst, p.body...)
	}
	k := 0
	for _, n := range p.nodes {
		if n.Include == nil {
			dst = append(dst, n.Text...)
			continue
		}
		if c := p.parts[k]; c != nil {
			dst = c.write(dst)
		}
		k++
	}
	return dst
}

// document resolves the includes of nodes (at depth+1) in parallel.
func (r *assembly) document(ctx context.Context, url string, body []byte, etag string, nodes []Node, depth int) (*part, error) {
	p := &part{nodes: nodes, url: url, etag: etag, body: body}
	var incs []*Include
	for _, n := range nodes {
		if n.Include != nil {
			incs = append(incs, n.Include)
		} else {
			p.size += len(n.Text)
		}
	}
	p.parts = make([]*part, len(incs))
	errs := make([]error, len(incs))
	var wg sync.WaitGroup
	for i, inc := range incs {
		f, ok := r.cached(url, inc.Src, depth+1)
		switch {
		case ok && !f.ESI:
			p.parts[i], errs[i] = r.include(ctx, url, inc, depth+1, &f)
		case ok:
			wg.Go(func() { p.parts[i], errs[i] = r.include(ctx, url, inc, depth+1, &f) })
		default:
			wg.Go(func() { p.parts[i], errs[i] = r.include(ctx, url, inc, depth+1, nil) })
		}
	}
	wg.Wait()
	for i, c := range p.parts {
		if errs[i] != nil {
			return nil, errs[i]
		}
		p.result.Fragments++
		if c == nil {
			p.result.Omitted++
			continue
		}
		p.size += c.size
		p.result.Fragments += c.result.Fragments
		p.result.Hits += c.result.Hits
		p.result.Omitted += c.result.Omitted
		p.result.Private = p.result.Private || c.result.Private
	}
	return p, nil
}

// cached asks a CachedFetcher for src at depth.
func (r *assembly) cached(base, src string, depth int) (Fragment, bool) {
	cf, ok := r.a.Fetcher.(CachedFetcher)
	if !ok || depth > r.maxDepth {
		return Fragment{}, false
	}
	f, ok := cf.Cached(base, src)
	if !ok || r.left.Add(-1) < 0 {
		return Fragment{}, false
	}
	return f, true
}

// include resolves one include: src (already got, when got is not nil),
// else alt, else nothing with onerror="continue", else an error. A nil
// part is an omitted include.
func (r *assembly) include(ctx context.Context, base string, inc *Include, depth int, got *Fragment) (*part, error) {
	var p *part
	var err error
	if got != nil {
		p, err = r.part(ctx, *got, depth)
	} else {
		p, err = r.fetch(ctx, base, inc.Src, depth)
	}
	if err != nil && inc.Alt != "" {
		p, err = r.fetch(ctx, base, inc.Alt, depth)
	}
	if err == nil {
		return p, nil
	}
	if inc.Continue {
		return nil, nil
	}
	var fe *FragmentError
	if errors.As(err, &fe) {
		return nil, err // a nested include failed: report that one
	}
	return nil, &FragmentError{Src: inc.Src, Err: err}
}

// fetch fetches src with its own timeout and, for an ESI fragment,
// assembles it.
func (r *assembly) fetch(ctx context.Context, base, src string, depth int) (*part, error) {
	if depth > r.maxDepth {
		return nil, fmt.Errorf("%w (more than %d levels)", ErrTooDeep, r.maxDepth)
	}
	if r.left.Add(-1) < 0 {
		return nil, ErrTooMany
	}
	fctx, cancel := context.WithTimeout(ctx, r.timeout)
	f, err := r.a.Fetcher.Fetch(fctx, base, src)
	cancel()
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			return nil, fmt.Errorf("no answer within %s: %w", r.timeout, err)
		}
		return nil, err
	}
	return r.part(ctx, f, depth)
}

// part is f as a part of the page at depth: assembled itself when it is ESI.
func (r *assembly) part(ctx context.Context, f Fragment, depth int) (*part, error) {
	var p *part
	if f.ESI {
		nodes, err := r.a.Docs.Parse(f.Body)
		if err != nil {
			return nil, err
		}
		if p, err = r.document(ctx, f.URL, f.Body, f.ETag, nodes, depth); err != nil {
			return nil, err
		}
	} else {
		p = &part{body: f.Body, size: len(f.Body), url: f.URL, etag: f.ETag}
	}
	if f.Hit {
		p.result.Hits++
	}
	p.result.Private = p.result.Private || f.Private
	return p, nil
}
