package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cachegate/cachegate/purge"
	"github.com/cachegate/cachegate/web"
)

// pollInterval is how often a waiting purge command reads the purge state.
const pollInterval = 200 * time.Millisecond

// errPurgeFailed marks a purge that failed at a target, or is still
// retrying when the wait ended: exit 1, said plainly.
var errPurgeFailed = errors.New("purge not confirmed")

func runPurge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("purge", stderr)
	client := adminFlags(fs)
	tenant := fs.String("tenant", "", "tenant whose responses to purge (required)")
	var tags, urls, prefixes stringList
	fs.Var(&tags, "tag", "tag to purge (repeatable)")
	fs.Var(&urls, "url", "URL path to purge, e.g. /companies (repeatable)")
	fs.Var(&prefixes, "prefix", "path prefix to purge (repeatable)")
	everything := fs.Bool("everything", false, "purge everything of the tenant")
	soft := fs.Bool("soft", false, "mark stale instead of removing: served for up to each route's stale-while-revalidate while one refill runs (no read-your-writes); soft at Fastly, hard at Cloudflare")
	wait := fs.Bool("wait", true, "wait until applied in the gateway's layers and every CDN provider confirmed or failed; exit 1 unless all confirmed")
	timeout := fs.Duration("timeout", 2*time.Minute, "with --wait, how long to wait for the CDN providers")
	output := outputFlag(fs)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *tenant == "" {
		return fmt.Errorf("%w: --tenant is required", errUsage)
	}
	if len(tags)+len(urls)+len(prefixes) == 0 && !*everything {
		return fmt.Errorf("%w: name --tag, --url, --prefix or --everything", errUsage)
	}
	if *timeout <= 0 {
		return fmt.Errorf("%w: --timeout must be positive", errUsage)
	}
	if err := output.check(); err != nil {
		return err
	}
	c, err := client()
	if err != nil {
		return err
	}
	body := map[string]any{"tenant": *tenant, "tags": nonNil(tags), "urls": nonNil(urls), "prefixes": nonNil(prefixes), "everything": *everything}
	if *soft {
		body["soft"] = true
	}
	path := "/api/v1/purge"
	if *wait {
		path += "?wait=1"
	}
	var accepted struct {
		ID        string `json:"id"`
		Guarantee string `json:"guarantee"`
	}
	if _, err := c.post(ctx, path, body, &accepted); err != nil {
		return err
	}
	if !*wait {
		return output.print(stdout, map[string]any{"id": accepted.ID, "queued": true}, func(w io.Writer) {
			fmt.Fprintf(w, "purge %s queued\n", accepted.ID)
		})
	}
	if *soft {
		// What a soft purge promises readers is not what the CDN's
		// confirmation below says: say it first.
		fmt.Fprintln(stderr, accepted.Guarantee)
	}
	st, err := follow(ctx, c, accepted.ID, *timeout, &progress{w: stderr})
	if err != nil {
		return err
	}
	if err := output.print(stdout, st, func(w io.Writer) { printTargets(w, st) }); err != nil {
		return err
	}
	return verdict(st, *timeout)
}

// follow reads purge id's state until no target has work left, or
// timeout: the POST with wait returns once the gateway's layers applied
// it, while CDN providers confirm later.
//
// Each change of the targets' states is reported on p: a CDN can take
// minutes to confirm.
func follow(ctx context.Context, c *adminClient, id string, timeout time.Duration, p *progress) (web.PurgeStateResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var st web.PurgeStateResponse
	for {
		rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		_, err := c.get(rctx, "/api/v1/purges/"+url.PathEscape(id), &st)
		rcancel()
		if err != nil {
			return st, err
		}
		if st.Done {
			return st, nil
		}
		var states []string
		for _, name := range sortedKeys(st.Targets) {
			states = append(states, fmt.Sprintf("%s %s", name, st.Targets[name].Status))
		}
		p.update("purge %s: %s", id, strings.Join(states, ", "))
		t := time.NewTimer(pollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return st, nil // verdict says what is still retrying
		case <-t.C:
		}
	}
}

// verdict is nil only when every target applied or confirmed the purge.
func verdict(st web.PurgeStateResponse, timeout time.Duration) error {
	var failed, pending []string
	for _, name := range sortedKeys(st.Targets) {
		s := st.Targets[name]
		switch s.Status {
		case purge.StatusApplied, purge.StatusConfirmed:
		case purge.StatusFailed:
			failed = append(failed, fmt.Sprintf("%s (%s)", name, s.Detail))
		default:
			pending = append(pending, fmt.Sprintf("%s (%s)", name, s.Status))
		}
	}
	switch {
	case len(failed) > 0:
		return fmt.Errorf("%w: purge %s failed at %s; fix the cause, then retry it with: cachegate purges retry %s",
			errPurgeFailed, st.ID, strings.Join(failed, ", "), st.ID)
	case len(pending) > 0:
		return fmt.Errorf("%w: purge %s still retrying after %v at %s; it is queued durably and will be delivered; follow it with: cachegate purges show %s",
			errPurgeFailed, st.ID, timeout, strings.Join(pending, ", "), st.ID)
	}
	return nil
}

// printTargets writes one line per target: its status, attempts and
// detail.
func printTargets(w io.Writer, st web.PurgeStateResponse) {
	fmt.Fprintf(w, "purge %s\n", st.ID)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tSTATUS\tATTEMPTS\tDETAIL")
	for _, name := range sortedKeys(st.Targets) {
		s := st.Targets[name]
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\n", name, s.Status, s.Attempts, s.Detail)
	}
	_ = tw.Flush()
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// outputFormat is the --output flag of the operator commands.
type outputFormat struct{ v *string }

func outputFlag(fs *flag.FlagSet) outputFormat {
	return outputFormat{fs.String("output", "json", "output format: json or table")}
}

func (o outputFormat) check() error {
	if *o.v != "json" && *o.v != "table" {
		return fmt.Errorf("%w: --output %q: json or table", errUsage, *o.v)
	}
	return nil
}

// print writes v as one line of JSON, or calls table.
func (o outputFormat) print(w io.Writer, v any, table func(io.Writer)) error {
	if *o.v == "table" {
		table(w)
		return nil
	}
	return writeJSONLine(w, v)
}
