package varnish

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cachegate/cachegate/purge"
)

// Purger purges tags, URLs, prefixes, hosts and a tenant's everything on
// every configured Varnish node.
type Purger struct {
	cfg      Config
	requests *prometheus.CounterVec
	purged   prometheus.Counter
}

var _ purge.Purger = (*Purger)(nil)

// New returns a Purger for cfg.
func New(cfg Config) (*Purger, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	cfg.URLs = append([]string(nil), cfg.URLs...)
	for i, u := range cfg.URLs {
		cfg.URLs[i] = strings.TrimRight(u, "/")
	}
	labels := prometheus.Labels{"provider": cfg.Name}
	p := &Purger{
		cfg: cfg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name:        "cachegate_varnish_requests_total",
			Help:        "PURGE and BAN requests to Varnish nodes, by node, kind and result (ok, temporary, permanent).",
			ConstLabels: labels,
		}, []string{"node", "kind", "result"}),
		purged: prometheus.NewCounter(prometheus.CounterOpts{
			Name:        "cachegate_varnish_objects_purged_total",
			Help:        "Objects Varnish nodes reported purged by xkey, summed over nodes.",
			ConstLabels: labels,
		}),
	}
	if cfg.Registerer != nil {
		for _, c := range []prometheus.Collector{p.requests, p.purged} {
			if err := cfg.Registerer.Register(c); err != nil {
				return nil, fmt.Errorf("varnish: register metrics: %w", err)
			}
		}
	}
	return p, nil
}

// Name identifies the provider ("varnish" unless configured).
func (p *Purger) Name() string { return p.cfg.Name }

// Limits are the per-call limits. Tags are further split across requests
// by the header budget, so a call of TagsPerCall long tags still fits.
func (p *Purger) Limits() purge.Limits {
	return purge.Limits{
		TagsPerCall:     p.cfg.TagsPerCall,
		URLsPerCall:     p.cfg.TargetsPerCall,
		PrefixesPerCall: p.cfg.TargetsPerCall,
		HostsPerCall:    p.cfg.TargetsPerCall,
		MaxTagLength:    MaxTagLength,
	}
}

// Result is what the nodes reported for one batch.
type Result struct {
	// Purged is what the nodes' xkey purges reported, summed over nodes;
	// bans report no count. Zero means no tagged object was cached. With
	// several keys in one request, varnish-modules 0.20's xkey over-counts
	// (keys after the first match add the running total again), so treat
	// it as "some" rather than an exact number.
	Purged int
	// Requests is the number of HTTP requests sent, over all nodes.
	Requests int
}

// Purge sends b to every node; see purge.Purger.
func (p *Purger) Purge(ctx context.Context, b purge.Batch) error {
	_, err := p.Send(ctx, b)
	return err
}

// Send is Purge reporting what the nodes answered. It returns nil only
// when every node confirmed every request. Otherwise it joins one error
// per failing node, each naming the node: temporary (network, timeouts,
// 5xx) unless one wraps purge.ErrPermanent (the node refused: ACL, a bad
// ban, an answer not from the cachegate VCL) or is a *purge.RetryAfterError.
func (p *Purger) Send(ctx context.Context, b purge.Batch) (Result, error) {
	calls, err := p.plan(b)
	if err != nil {
		return Result{}, err
	}
	type nodeResult struct {
		purged, requests int
		err              error
	}
	results := make([]nodeResult, len(p.cfg.URLs))
	var wg sync.WaitGroup
	for i, node := range p.cfg.URLs {
		wg.Go(func() {
			r := &results[i]
			for _, c := range calls {
				n, err := p.do(ctx, node, c)
				r.requests++
				r.purged += n
				p.requests.WithLabelValues(node, c.kind, outcome(err)).Inc()
				if err != nil {
					r.err = fmt.Errorf("varnish node %s: %s: %w", node, c.kind, err)
					return
				}
			}
		})
	}
	wg.Wait()
	var res Result
	var errs []error
	for _, r := range results {
		res.Purged += r.purged
		res.Requests += r.requests
		if r.err != nil {
			errs = append(errs, r.err)
		}
	}
	p.purged.Add(float64(res.Purged))
	return res, errors.Join(errs...)
}

func outcome(err error) string {
	var ra *purge.RetryAfterError
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, purge.ErrPermanent):
		return "permanent"
	case errors.As(err, &ra):
		return "rate_limited"
	default:
		return "temporary"
	}
}

// do sends one request to one node and returns the objects it purged.
func (p *Purger) do(ctx context.Context, node string, c call) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, c.method, node+"/", nil)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", purge.ErrPermanent, err)
	}
	if c.host != "" {
		req.Host = c.host
	}
	req.Header.Set(c.header, c.value)
	start := time.Now()
	resp, err := p.cfg.Client.Do(req)
	if err != nil {
		return 0, err // unreachable, refused, timed out: temporary
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))

	n, err := p.check(c, resp, body)
	attrs := []slog.Attr{slog.String("node", node), slog.String("kind", c.kind),
		slog.Int("status", resp.StatusCode), slog.Int("purged", n), slog.Duration("took", time.Since(start))}
	level := slog.LevelDebug
	if err != nil {
		level = slog.LevelWarn
		attrs = append(attrs, slog.Any("err", err))
	}
	p.cfg.Logger.LogAttrs(ctx, level, "varnish purge request", attrs...)
	return n, err
}

// check maps a node's answer to the purge.Purger error contract.
func (p *Purger) check(c call, resp *http.Response, body []byte) (int, error) {
	reason := strings.TrimSpace(string(body))
	if len(reason) > 200 {
		reason = reason[:200] + "..."
	}
	switch {
	case resp.StatusCode == http.StatusOK:
		if c.method == MethodPurge {
			v := resp.Header.Get(HeaderPurged)
			n, err := strconv.Atoi(v)
			if v == "" || err != nil || n < 0 {
				return 0, fmt.Errorf("%w: 200 without a valid %s header: is deploy/varnish/cachegate.vcl loaded?", purge.ErrPermanent, HeaderPurged)
			}
			return n, nil
		}
		if resp.Header.Get(HeaderBanned) == "" {
			return 0, fmt.Errorf("%w: 200 without %s: is deploy/varnish/cachegate.vcl loaded?", purge.ErrPermanent, HeaderBanned)
		}
		return 0, nil
	case resp.StatusCode == http.StatusTooManyRequests:
		after, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return 0, &purge.RetryAfterError{After: time.Duration(after) * time.Second, Err: fmt.Errorf("status 429")}
	case resp.StatusCode == http.StatusForbidden:
		return 0, fmt.Errorf("%w: 403: this client is not in the VCL's acl purgers", purge.ErrPermanent)
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout:
		return 0, fmt.Errorf("status %d: %s", resp.StatusCode, reason)
	default:
		return 0, fmt.Errorf("%w: status %d: %s", purge.ErrPermanent, resp.StatusCode, reason)
	}
}
