package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cachegate/cachegate/audit"
	"github.com/cachegate/cachegate/web"
)

// runTail follows the audit log, where every event, purge and CDN outcome
// of the cluster lands, until interrupted:
//
//	cachegate tail [--last N] [--interval 1s]
func runTail(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("tail", stderr)
	client := adminFlags(fs)
	output := outputFlag(fs)
	last := fs.Int("last", 10, "print this many recent entries first (0: only new ones)")
	interval := fs.Duration("interval", time.Second, "how often to ask for new entries")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *last < 0 || *last > audit.MaxRecent || *interval <= 0 {
		return fmt.Errorf("%w: --last: 0 to %d; --interval: positive", errUsage, audit.MaxRecent)
	}
	c, err := connect(output, client)
	if err != nil {
		return err
	}
	p := &progress{w: stderr}
	p.update("following events and purges at %s (interrupt to stop)", c.base)
	// seen holds the entries printed at the newest time printed: entries
	// of one instant may come in several reads.
	var newest time.Time
	seen := map[string]bool{}
	first := true
	for {
		var a web.AuditResponse
		if _, err := c.get(ctx, fmt.Sprintf("/api/v1/audit?limit=%d", audit.MaxRecent), &a); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			// A follower outlives an admin API restart: say so, go on.
			p.update("admin API unreachable, retrying: %v", err)
		} else {
			p.update("following")
			fresh := a.Entries
			if first {
				fresh = fresh[:min(*last, len(fresh))]
			}
			for i := len(fresh) - 1; i >= 0; i-- { // oldest first
				e := fresh[i]
				k := entryKey(e)
				if e.Time.Before(newest) || seen[k] {
					continue
				}
				if e.Time.After(newest) {
					newest, seen = e.Time, map[string]bool{}
				}
				seen[k] = true
				if err := output.print(stdout, e, func(w io.Writer) { printEntry(w, e) }); err != nil {
					return err
				}
			}
			if first && len(a.Entries) > 0 && a.Entries[0].Time.After(newest) {
				// --last 0, or fewer than there are: start after the newest.
				newest = a.Entries[0].Time
				for _, e := range a.Entries {
					if e.Time.Equal(newest) {
						seen[entryKey(e)] = true
					}
				}
			}
			first = false
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*interval):
		}
	}
}

func entryKey(e audit.Entry) string {
	return strings.Join([]string{e.Time.Format(time.RFC3339Nano), e.Actor, e.Action, e.ID, e.Provider, e.Result}, "\x00")
}

func printEntry(w io.Writer, e audit.Entry) {
	var what []string
	if len(e.Tags) > 0 {
		what = append(what, "tags="+strings.Join(e.Tags, ","))
	}
	if len(e.URLs) > 0 {
		what = append(what, "urls="+strings.Join(e.URLs, ","))
	}
	if len(e.Prefixes) > 0 {
		what = append(what, "prefixes="+strings.Join(e.Prefixes, ","))
	}
	if e.Everything {
		what = append(what, "everything")
	}
	if e.Provider != "" {
		what = append(what, "at="+e.Provider)
	}
	fmt.Fprintf(w, "%s %-18s %-10s id=%s %s %s by %s\n", e.Time.Format("15:04:05.000"), e.Action, e.Tenant, e.ID,
		strings.Join(what, " "), e.Result, e.Actor)
}
