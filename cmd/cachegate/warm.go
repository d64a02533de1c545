package main

import (
	"bufio"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/web"
)

// Bounds of what warm reads: a sitemap is at most 50 MB and 50,000 URLs
// (sitemaps.org); an index is followed one level deep.
const (
	maxSitemapBytes = 50 << 20
	maxSitemaps     = 100
	// warmChunkBytes keeps each POST well under the admin API's default
	// 1 MiB body limit: a long list goes as several jobs.
	warmChunkBytes = 512 << 10
)

// errWarmFailed marks a warm job with URLs that failed: exit 1.
var errWarmFailed = errors.New("warm incomplete")

func runWarm(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("warm", stderr)
	client := adminFlags(fs)
	tenant := fs.String("tenant", "", "tenant whose URLs to warm (required)")
	file := fs.String("urls", "", "file of URLs to warm, one a line (absolute, or paths with --host); - for stdin")
	sitemap := fs.String("sitemap", "", "sitemap (or sitemap index) URL whose <loc> URLs to warm")
	host := fs.String("host", "", "host of the paths in --urls that are not absolute URLs")
	timeout := fs.Duration("timeout", 30*time.Minute, "how long to follow the jobs")
	output := outputFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *tenant == "" {
		return fmt.Errorf("%w: --tenant is required", errUsage)
	}
	if (*file == "") == (*sitemap == "") {
		return fmt.Errorf("%w: name exactly one of --urls FILE and --sitemap URL", errUsage)
	}
	if err := output.check(); err != nil {
		return err
	}
	c, err := client()
	if err != nil {
		return err
	}
	var urls []string
	if *file != "" {
		urls, err = readURLFile(*file, *host)
	} else {
		urls, err = fetchSitemap(ctx, *sitemap)
	}
	if err != nil {
		return err
	}
	if len(urls) == 0 {
		return fmt.Errorf("%w: no URLs to warm", errUsage)
	}
	var ids []string
	for _, chunk := range chunkURLs(urls) {
		var accepted web.WarmAccepted
		if _, err := c.post(ctx, "/api/v1/warm", web.WarmRequest{Tenant: *tenant, URLs: chunk}, &accepted); err != nil {
			if len(ids) > 0 {
				return fmt.Errorf("%w (jobs %s were started and run on)", err, strings.Join(ids, ", "))
			}
			return err
		}
		ids = append(ids, accepted.ID)
	}
	total, err := followWarm(ctx, c, ids, *timeout, stderr)
	if err != nil {
		return err
	}
	out := map[string]any{"jobs": ids, "total": total.Total, "done": total.Done, "fetched": total.Fetched,
		"fresh": total.Fresh, "skipped": total.Skipped, "failed": total.Failed, "failures": total.Failures}
	if err := output.print(stdout, out, func(w io.Writer) {
		fmt.Fprintf(w, "warmed %d of %d URLs: %d fetched, %d already cached, %d skipped (private routes), %d failed\n",
			total.Done, total.Total, total.Fetched, total.Fresh, total.Skipped, total.Failed)
		for _, f := range total.Failures {
			fmt.Fprintf(w, "  %s\n", f)
		}
	}); err != nil {
		return err
	}
	switch {
	case total.Failed > 0:
		return fmt.Errorf("%w: %d of %d URLs failed", errWarmFailed, total.Failed, total.Total)
	case total.Done < total.Total:
		return fmt.Errorf("%w: %d of %d URLs done when the wait ended (the jobs run on: follow them with GET /api/v1/warm/<id>)", errWarmFailed, total.Done, total.Total)
	}
	return nil
}

// followWarm polls the jobs until all finished or timeout, writing a
// progress line to progress whenever it changed, and returns their sum.
func followWarm(ctx context.Context, c *adminClient, ids []string, timeout time.Duration, progress io.Writer) (gateway.WarmProgress, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var last string
	for {
		var sum gateway.WarmProgress
		finished := true
		for _, id := range ids {
			var p gateway.WarmProgress
			rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			_, err := c.get(rctx, "/api/v1/warm/"+url.PathEscape(id), &p)
			rcancel()
			if err != nil {
				return sum, err
			}
			sum.Total += p.Total
			sum.Done += p.Done
			sum.Fetched += p.Fetched
			sum.Fresh += p.Fresh
			sum.Skipped += p.Skipped
			sum.Failed += p.Failed
			sum.Failures = append(sum.Failures, p.Failures...)
			finished = finished && p.Finished
		}
		if line := fmt.Sprintf("warm: %d/%d done (%d fetched, %d cached, %d skipped, %d failed)\n",
			sum.Done, sum.Total, sum.Fetched, sum.Fresh, sum.Skipped, sum.Failed); line != last {
			fmt.Fprint(progress, line)
			last = line
		}
		if finished {
			return sum, nil
		}
		t := time.NewTimer(pollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return sum, nil // the caller reports what is not done
		case <-t.C:
		}
	}
}

// readURLFile reads one URL a line; blank lines and lines starting with #
// are skipped; a path is made absolute with host.
func readURLFile(name, host string) ([]string, error) {
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	var urls []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		case strings.HasPrefix(line, "/"):
			if host == "" {
				return nil, fmt.Errorf("%w: %s:%d: %q is a path: give --host, or absolute URLs", errUsage, name, n, line)
			}
			line = "http://" + host + line
		}
		urls = append(urls, line)
	}
	return urls, sc.Err()
}

// sitemapDoc is a sitemap's <urlset> or a sitemap index's <sitemapindex>:
// both list <loc>s.
type sitemapDoc struct {
	XMLName  xml.Name
	URLs     []sitemapLoc `xml:"url"`
	Sitemaps []sitemapLoc `xml:"sitemap"`
}

type sitemapLoc struct {
	Loc string `xml:"loc"`
}

// fetchSitemap reads the URLs of the sitemap at u, following an index one
// level deep.
func fetchSitemap(ctx context.Context, u string) ([]string, error) {
	hc := &http.Client{Timeout: time.Minute}
	doc, err := readSitemap(ctx, hc, u)
	if err != nil {
		return nil, err
	}
	urls := locs(doc.URLs)
	if len(doc.Sitemaps) > maxSitemaps {
		return nil, fmt.Errorf("sitemap index %s lists %d sitemaps, more than %d", u, len(doc.Sitemaps), maxSitemaps)
	}
	for _, sm := range doc.Sitemaps {
		sub, err := readSitemap(ctx, hc, sm.Loc)
		if err != nil {
			return nil, err
		}
		urls = append(urls, locs(sub.URLs)...)
	}
	return urls, nil
}

func readSitemap(ctx context.Context, hc *http.Client, u string) (sitemapDoc, error) {
	var doc sitemapDoc
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return doc, fmt.Errorf("%w: --sitemap %q: %v", errUsage, u, err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return doc, fmt.Errorf("sitemap: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return doc, fmt.Errorf("sitemap %s: %s", u, resp.Status)
	}
	if err := xml.NewDecoder(io.LimitReader(resp.Body, maxSitemapBytes)).Decode(&doc); err != nil {
		return doc, fmt.Errorf("sitemap %s: not a sitemap: %w", u, err)
	}
	if doc.XMLName.Local != "urlset" && doc.XMLName.Local != "sitemapindex" {
		return doc, fmt.Errorf("sitemap %s: root element <%s>, want <urlset> or <sitemapindex>", u, doc.XMLName.Local)
	}
	return doc, nil
}

func locs(ls []sitemapLoc) []string {
	out := make([]string, 0, len(ls))
	for _, l := range ls {
		if loc := strings.TrimSpace(l.Loc); loc != "" {
			out = append(out, loc)
		}
	}
	return out
}

// chunkURLs splits urls into lists of at most warmChunkBytes and
// gateway.MaxWarmURLs each.
func chunkURLs(urls []string) [][]string {
	var out [][]string
	start, size := 0, 0
	for i, u := range urls {
		if i > start && (size+len(u)+4 > warmChunkBytes || i-start >= gateway.MaxWarmURLs) {
			out = append(out, urls[start:i])
			start, size = i, 0
		}
		size += len(u) + 4
	}
	return append(out, urls[start:])
}
