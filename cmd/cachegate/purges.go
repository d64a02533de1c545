package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/cachegate/cachegate/web"
)

// runPurges lists the purges a CDN provider refused for good, shows one
// purge's state, or retries one:
//
//	cachegate purges [list] [--limit N]
//	cachegate purges show <id>
//	cachegate purges retry <id>
//	cachegate purges dismiss <id>
func runPurges(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub := "list"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		sub, args = args[0], args[1:]
	}
	fs := newFlagSet("purges "+sub, stderr)
	client := adminFlags(fs)
	output := outputFlag(fs)
	limit := 0
	if sub == "list" {
		fs.IntVar(&limit, "limit", 100, "at most this many failed purges")
	}
	var id string
	switch sub {
	case "list":
		if err := parseFlags(fs, args); err != nil {
			return err
		}
	case "show", "retry", "dismiss":
		if len(args) == 0 || strings.HasPrefix(args[0], "-") {
			return fmt.Errorf("%w: purges %s needs a purge id", errUsage, sub)
		}
		id, args = args[0], args[1:]
		if err := parseFlags(fs, args); err != nil {
			return err
		}
	default:
		return fmt.Errorf("%w: purges: unknown subcommand %q (list, show, retry, dismiss)", errUsage, sub)
	}
	c, err := connect(output, client)
	if err != nil {
		return err
	}
	switch sub {
	case "show":
		var st web.PurgeStateResponse
		if _, err := c.get(ctx, "/api/v1/purges/"+url.PathEscape(id), &st); err != nil {
			return err
		}
		return output.print(stdout, st, func(w io.Writer) { printTargets(w, st) })
	case "retry", "dismiss":
		var out json.RawMessage
		if _, err := c.post(ctx, "/api/v1/purges/"+url.PathEscape(id)+"/"+sub, struct{}{}, &out); err != nil {
			return err
		}
		return output.print(stdout, out, func(w io.Writer) {
			if sub == "retry" {
				fmt.Fprintf(w, "purge %s queued again for the providers where it failed\n", id)
			} else {
				fmt.Fprintf(w, "purge %s: failures dismissed, not retried\n", id)
			}
		})
	}
	var list web.FailedPurgesResponse
	if _, err := c.get(ctx, fmt.Sprintf("/api/v1/purges?status=failed&limit=%d", limit), &list); err != nil {
		return err
	}
	return output.print(stdout, list, func(w io.Writer) { printFailed(w, list) })
}

func printFailed(w io.Writer, list web.FailedPurgesResponse) {
	if b := list.Backlog; b != nil {
		fmt.Fprintf(w, "queued: %d (oldest %s), failed: %d\n", b.Queued, time.Duration(b.OldestSeconds*float64(time.Second)).Round(time.Second), b.Failed)
		for _, name := range sortedKeys(b.Providers) {
			p := b.Providers[name]
			line := fmt.Sprintf("  %s: %d pending (oldest %s)", name, p.Pending, time.Duration(p.OldestSeconds*float64(time.Second)).Round(time.Second))
			if p.Failing {
				line += fmt.Sprintf(", failing since %s: %s", p.FailingSince.Format(time.RFC3339), p.LastError)
			}
			fmt.Fprintln(w, line)
		}
	}
	if len(list.Purges) == 0 {
		fmt.Fprintln(w, "no failed purges")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tPROVIDER\tTENANT\tWHEN\tREASON")
	for _, f := range list.Purges {
		id := f.ID
		if f.Purge != "" {
			id = f.Purge + " (part " + strings.TrimPrefix(f.ID, f.Purge) + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", id, f.Provider, f.Request.Tenant, f.Time.Format(time.RFC3339), f.Reason)
	}
	_ = tw.Flush()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// writeJSONLine writes v as one line of JSON.
func writeJSONLine(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}
