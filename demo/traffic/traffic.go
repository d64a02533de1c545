package traffic

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults for the zero values of Config.
const (
	DefaultRate        = 10.0
	DefaultConcurrency = 4
	DefaultEditEvery   = 30 * time.Second // what the demo passes; zero means never
	DefaultEditToken   = "demo-editor"
	MaxRate            = 1000.0
)

// Config configures Run.
type Config struct {
	// Target is the gateway's base URL, e.g. "http://127.0.0.1:8080".
	// Requests go to its address with Host "<tenant>.localhost" (and the
	// target's port), as a browser opening http://acme.localhost:8080
	// would send them. Required.
	Target string

	// Tenants to visit; the first is visited most. Nil means acme and berg.
	Tenants []string

	// Rate is the most requests per second ever sent. Zero means
	// DefaultRate; at most MaxRate.
	Rate float64

	// Concurrency bounds the requests in flight. Zero means
	// DefaultConcurrency.
	Concurrency int

	// EditEvery is how often an editor changes a company's description
	// (POST /edit) or, in turn, a gallery caption (POST /edit/gallery);
	// counted against Rate. Zero means never.
	EditEvery time.Duration

	// EditToken is the editor's bearer token. Empty means DefaultEditToken.
	EditToken string

	// Client sends the requests. Nil means a client with a 10 s timeout
	// that does not follow redirects.
	Client *http.Client

	// Logger receives failed requests (at debug level) and a summary when
	// Run ends. Nil means discard.
	Logger *slog.Logger
}

// Validate reports what is wrong with the configuration.
func (c Config) Validate() error {
	var errs []error
	u, err := url.Parse(c.Target)
	switch {
	case c.Target == "":
		errs = append(errs, errors.New("traffic: no target URL"))
	case err != nil:
		errs = append(errs, fmt.Errorf("traffic: target: %w", err))
	case (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		errs = append(errs, fmt.Errorf("traffic: target %q: want an http:// or https:// URL with a host", c.Target))
	}
	if c.Tenants != nil && len(c.Tenants) == 0 {
		errs = append(errs, errors.New("traffic: no tenants (nil means acme and berg)"))
	}
	for _, t := range c.Tenants {
		if t == "" || strings.ContainsAny(t, ".:/ \t") {
			errs = append(errs, fmt.Errorf("traffic: tenant %q is not a host label", t))
		}
	}
	if math.IsNaN(c.Rate) || c.Rate < 0 || c.Rate > MaxRate {
		errs = append(errs, fmt.Errorf("traffic: rate %v: want 0 (default %v) up to %v requests/s", c.Rate, DefaultRate, MaxRate))
	}
	if c.Concurrency < 0 {
		errs = append(errs, fmt.Errorf("traffic: concurrency %d is negative", c.Concurrency))
	}
	if c.EditEvery < 0 {
		errs = append(errs, fmt.Errorf("traffic: edit interval %v is negative", c.EditEvery))
	}
	return errors.Join(errs...)
}

// Run sends traffic until ctx is done, then waits for the requests in
// flight (they are cancelled with ctx) and returns nil. It returns an error
// only for an invalid Config; failed requests (a gateway still starting,
// say) are logged and the traffic goes on.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	g := newGenerator(cfg)
	g.run(ctx)
	return nil
}

type generator struct {
	base        string // the target URL without a trailing slash
	hostSuffix  string // ".localhost:<port>" or ".localhost"
	tenants     []string
	interval    time.Duration
	concurrency int
	editEvery   time.Duration
	editToken   string
	client      *http.Client
	log         *slog.Logger
	// linkRE finds the pages a visitor could go to next: marketplace
	// entries and gallery images.
	linkRE *regexp.Regexp

	rnd         *rand.Rand // used by the dispatching goroutine only, as are:
	tenantZ     *rand.Zipf
	galleryNext bool // the editor's next change is of a gallery caption

	mu    sync.Mutex
	etags map[string]string   // tenant+locale+path → last ETag seen
	links map[string][]string // tenant → discovered page paths, in order found

	sent, failed, skipped, notModified, edits atomic.Int64
}

func newGenerator(cfg Config) *generator {
	u, _ := url.Parse(cfg.Target) // validated
	g := &generator{
		base:        strings.TrimRight(cfg.Target, "/"),
		linkRE:      regexp.MustCompile(`(?:href|src)="(/companies/[a-z0-9-]+|/gallery/[0-9]+\.svg)"`),
		hostSuffix:  ".localhost",
		tenants:     cfg.Tenants,
		concurrency: cfg.Concurrency,
		editEvery:   cfg.EditEvery,
		editToken:   cfg.EditToken,
		client:      cfg.Client,
		log:         cfg.Logger,
		rnd:         rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		etags:       map[string]string{},
		links:       map[string][]string{},
	}
	if port := u.Port(); port != "" {
		g.hostSuffix += ":" + port
	}
	if g.tenants == nil {
		g.tenants = []string{"acme", "berg"}
	}
	rate := cfg.Rate
	if rate == 0 {
		rate = DefaultRate
	}
	g.interval = time.Duration(float64(time.Second) / rate)
	if g.concurrency == 0 {
		g.concurrency = DefaultConcurrency
	}
	if g.editToken == "" {
		g.editToken = DefaultEditToken
	}
	if g.client == nil {
		g.client = &http.Client{
			Timeout:       10 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if g.log == nil {
		g.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	// s=1.2 keeps every tenant visible: with three tenants the shares
	// are about 59%, 26% and 16%.
	g.tenantZ = rand.NewZipf(g.rnd, 1.2, 1, uint64(len(g.tenants)-1))
	return g
}

func (g *generator) run(ctx context.Context) {
	tick := time.NewTicker(g.interval)
	defer tick.Stop()
	slots := make(chan struct{}, g.concurrency)
	var wg sync.WaitGroup
	lastEdit := time.Now()
	defer func() {
		wg.Wait()
		g.log.Info("demo traffic stopped", "sent", g.sent.Load(), "failed", g.failed.Load(),
			"not_modified", g.notModified.Load(), "edits", g.edits.Load(), "skipped_ticks", g.skipped.Load())
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			select {
			case slots <- struct{}{}:
			default:
				g.skipped.Add(1) // all slots busy: drop the tick, never queue
				continue
			}
			var v visit
			if g.editEvery > 0 && now.Sub(lastEdit) >= g.editEvery {
				lastEdit = now
				v = g.nextEdit(now)
			} else {
				v = g.nextVisit()
			}
			wg.Go(func() {
				defer func() { <-slots }()
				g.do(ctx, v)
			})
		}
	}
}

// visit is one request to make.
type visit struct {
	tenant, method, path, locale string
	header                       http.Header
	body                         []byte
}

func (v visit) key() string { return v.tenant + "\x00" + v.locale + "\x00" + v.path }

// nextVisit draws the next page view from the skewed mix.
func (g *generator) nextVisit() visit {
	tenant := g.tenants[g.tenantZ.Uint64()]
	v := visit{tenant: tenant, method: http.MethodGet, locale: "en", header: http.Header{}}
	if g.rnd.IntN(100) < 40 {
		v.locale = "de"
	}
	switch p := g.rnd.IntN(100); {
	case p < 45:
		v.path = "/"
	case p < 65:
		v.path = "/companies"
	case p < 85:
		v.path = g.discovered(tenant, "/companies/", "/companies/"+tenant)
	case p < 93:
		v.path = g.discovered(tenant, "/gallery/", "/fragments/gallery")
	default:
		v.path = "/account"
		v.header.Set("Cookie", fmt.Sprintf("sessionid=visitor-%d", 1+g.rnd.IntN(20)))
	}
	if v.path != "/account" && g.rnd.IntN(100) < 20 {
		g.mu.Lock()
		etag := g.etags[v.key()]
		g.mu.Unlock()
		if etag != "" {
			v.header.Set("If-None-Match", etag)
		}
	}
	return v
}

// discovered picks, Zipf-skewed by the order they were found, one of the
// tenant's links that start with prefix, or fallback before any is known.
func (g *generator) discovered(tenant, prefix, fallback string) string {
	g.mu.Lock()
	var cands []string
	for _, l := range g.links[tenant] {
		if strings.HasPrefix(l, prefix) {
			cands = append(cands, l)
		}
	}
	g.mu.Unlock()
	if len(cands) == 0 {
		return fallback
	}
	// Rank-skewed without a Zipf per call: the minimum of two uniform
	// draws favours the first links found.
	return cands[min(g.rnd.IntN(len(cands)), g.rnd.IntN(len(cands)))]
}

// editPhrases are what the editor writes, in English and German.
func editPhrases() [][2]string {
	return [][2]string{
		{"Now shipping to Scandinavia.", "Jetzt mit Lieferung nach Skandinavien."},
		{"New: 24-hour service hotline.", "Neu: Service-Hotline rund um die Uhr."},
		{"ISO 9001 certified since this spring.", "Seit diesem Frühjahr nach ISO 9001 zertifiziert."},
		{"Visit us at the trade fair in hall 4.", "Besuchen Sie uns auf der Messe in Halle 4."},
	}
}

// captionPhrases are the captions the editor gives the first gallery
// image, in English and German.
func captionPhrases() [][2]string {
	return [][2]string{
		{"Open day", "Tag der offenen Tür"},
		{"Our new hall", "Unsere neue Halle"},
		{"The team", "Das Team"},
	}
}

// nextEdit is the editor's change: every other one of a company
// description, else of its gallery's first caption, so that the
// dashboard shows both a page and a fragment refetched.
func (g *generator) nextEdit(now time.Time) visit {
	tenant := g.tenants[g.tenantZ.Uint64()]
	locale, idx := "en", 0
	if g.rnd.IntN(2) == 1 {
		locale, idx = "de", 1
	}
	at := now.UTC().Format("15:04:05")
	g.galleryNext = !g.galleryNext
	path, fields := "/edit", map[string]any{"locale": locale}
	if g.galleryNext {
		phrases := captionPhrases()
		path, fields["image"], fields["title"] = "/edit/gallery", 1, fmt.Sprintf("%s (%s)", phrases[g.rnd.IntN(len(phrases))][idx], at)
	} else {
		phrases := editPhrases()
		fields["description"] = fmt.Sprintf("%s (%s)", phrases[g.rnd.IntN(len(phrases))][idx], at)
	}
	body, _ := json.Marshal(fields)
	h := http.Header{}
	h.Set("Authorization", "Bearer "+g.editToken)
	h.Set("Content-Type", "application/json")
	return visit{tenant: tenant, method: http.MethodPost, path: path, locale: locale, header: h, body: body}
}

func (g *generator) do(ctx context.Context, v visit) {
	req, err := http.NewRequestWithContext(ctx, v.method, g.base+v.path, bytes.NewReader(v.body))
	if err != nil {
		g.failed.Add(1)
		g.log.Debug("demo traffic: bad request", "path", v.path, "err", err)
		return
	}
	if v.body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	req.Host = v.tenant + g.hostSuffix
	for k, vals := range v.header {
		req.Header[k] = vals
	}
	if v.locale == "de" {
		req.Header.Set("Accept-Language", "de-DE,de;q=0.9,en;q=0.5")
	} else {
		req.Header.Set("Accept-Language", "en-US,en;q=0.9")
	}
	req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	req.Header.Set("User-Agent", "cachegate-demo-traffic/1")
	g.sent.Add(1)
	if v.method == http.MethodPost {
		g.edits.Add(1)
	}
	resp, err := g.client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			g.failed.Add(1)
			g.log.Debug("demo traffic: request failed", "host", req.Host, "path", v.path, "err", err)
		}
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return
	}
	switch {
	case resp.StatusCode == http.StatusNotModified:
		g.notModified.Add(1)
	case resp.StatusCode >= 400:
		g.failed.Add(1)
		g.log.Debug("demo traffic: error answer", "host", req.Host, "method", v.method, "path", v.path, "status", resp.StatusCode)
	case resp.StatusCode == http.StatusOK && v.method == http.MethodGet:
		g.learn(v, resp.Header.Get("ETag"), body)
	}
}

// maxLinks bounds what is learnt per tenant, so a site with endless links
// cannot grow the generator's memory.
const maxLinks = 64

func (g *generator) learn(v visit, etag string, body []byte) {
	found := g.linkRE.FindAllSubmatch(body, -1)
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, known := g.etags[v.key()]; etag != "" && (known || len(g.etags) < maxLinks*len(g.tenants)*2) {
		g.etags[v.key()] = etag
	}
	known := g.links[v.tenant]
	for _, m := range found {
		l := string(m[1])
		if len(known) < maxLinks && !slices.Contains(known, l) {
			known = append(known, l)
		}
	}
	g.links[v.tenant] = known
}
