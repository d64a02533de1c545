package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/cachegate/cachegate/stats"
)

// runStats prints the instance's hit ratios per layer and tenant, once or
// every --watch interval until interrupted:
//
//	cachegate stats [--watch 2s]
func runStats(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("stats", stderr)
	client := adminFlags(fs)
	output := outputFlag(fs)
	watch := fs.Duration("watch", 0, "print again at this interval until interrupted (0: once)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *watch < 0 {
		return fmt.Errorf("%w: --watch must not be negative", errUsage)
	}
	c, err := connect(output, client)
	if err != nil {
		return err
	}
	for {
		var snap stats.Snapshot
		if _, err := c.get(ctx, "/api/v1/stats", &snap); err != nil {
			if ctx.Err() != nil && *watch > 0 {
				return nil
			}
			return err
		}
		if err := output.print(stdout, snap, func(w io.Writer) { printStats(w, snap) }); err != nil {
			return err
		}
		if *watch == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*watch):
		}
	}
}

func printStats(w io.Writer, s stats.Snapshot) {
	fmt.Fprintf(w, "%s  up %s  requests %d  hit ratio %.1f%%\n", s.Time.Format(time.RFC3339), time.Duration(s.UptimeSeconds*float64(time.Second)).Round(time.Second), s.Requests, 100*s.HitRatio)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprint(tw, "\tREQUESTS\tHIT%\t")
	for _, l := range stats.Layers {
		fmt.Fprintf(tw, "%s\t", l)
	}
	fmt.Fprintln(tw)
	row := func(name string, c stats.Counts) {
		fmt.Fprintf(tw, "%s\t%d\t%.1f\t", name, c.Requests, 100*c.HitRatio)
		for _, l := range stats.Layers {
			lc := c.Layers[l]
			fmt.Fprintf(tw, "%d/%d\t", lc.Hits, lc.Hits+lc.Misses)
		}
		fmt.Fprintln(tw)
	}
	row("all", s.Counts)
	for _, t := range sortedKeys(s.Tenants) {
		row("tenant "+t, s.Tenants[t])
	}
	for _, r := range sortedKeys(s.Routes) {
		row("route "+r, s.Routes[r])
	}
	_ = tw.Flush()
}
