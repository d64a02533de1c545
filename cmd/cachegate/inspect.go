package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/web"
)

// runInspect shows what each layer of the instance holds for one URL:
//
//	cachegate inspect URL [--header Name:Value]...
func runInspect(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	target, args, err := positional("inspect", "a URL, e.g. http://acme.localhost/", args)
	if err != nil {
		return err
	}
	fs := newFlagSet("inspect", stderr)
	client := adminFlags(fs)
	output := outputFlag(fs)
	var hdrs stringList
	fs.Var(&hdrs, "header", "request header Name:Value that selects a variant, e.g. Accept-Language:de (repeatable)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !strings.Contains(target, "://") {
		target = "http://" + target
	}
	c, err := connect(output, client)
	if err != nil {
		return err
	}
	q := url.Values{"url": {target}}
	for _, h := range hdrs {
		q.Add("header", h)
	}
	var in gateway.Inspection
	if _, err := c.get(ctx, "/api/v1/inspect?"+q.Encode(), &in); err != nil {
		return err
	}
	return output.print(stdout, in, func(w io.Writer) { printInspection(w, in) })
}

func printInspection(w io.Writer, in gateway.Inspection) {
	fmt.Fprintf(w, "url:    %s\ntenant: %s\n", in.URL, in.Tenant)
	if in.Route != "" {
		fmt.Fprintf(w, "route:  %s\n", in.Route)
	}
	if in.Reason != "" {
		fmt.Fprintf(w, "never cached: %s\n", in.Reason)
		return
	}
	fmt.Fprintf(w, "key:    %s\n", in.Key)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LAYER\tSTATE\tSTATUS\tAGE\tTTL\tSWR\tSIE\tVARY\tTAGS")
	for _, l := range in.Layers {
		switch {
		case l.Error != "":
			fmt.Fprintf(tw, "%s\terror: %s\t\t\t\t\t\t\t\n", l.Layer, l.Error)
		case !l.Present:
			fmt.Fprintf(tw, "%s\tabsent\t\t\t\t\t\t%s\t\n", l.Layer, strings.Join(l.Vary, ","))
		default:
			fmt.Fprintf(tw, "%s\t%s\t%d\t%ds\t%ds\t%ds\t%ds\t%s\t%s\n", l.Layer, l.State, l.Status, l.AgeSeconds, l.TTLSeconds,
				l.SWRSeconds, l.SIESeconds, strings.Join(l.Vary, ","), strings.Join(l.Tags, " "))
		}
	}
	_ = tw.Flush()
}

// runKeys lists the keys of the instance's L1 that carry a tag, bounded:
//
//	cachegate keys --tenant T --tag T [--limit N]
func runKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("keys", stderr)
	client := adminFlags(fs)
	output := outputFlag(fs)
	tenant := fs.String("tenant", "", "tenant (required)")
	tag := fs.String("tag", "", "tag (required)")
	limit := fs.Int("limit", 100, fmt.Sprintf("at most this many keys (1 to %d)", web.MaxKeys))
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case *tenant == "" || *tag == "":
		return fmt.Errorf("%w: --tenant and --tag are required", errUsage)
	case *limit < 1 || *limit > web.MaxKeys:
		return fmt.Errorf("%w: --limit: 1 to %d", errUsage, web.MaxKeys)
	}
	c, err := connect(output, client)
	if err != nil {
		return err
	}
	var k web.KeysResponse
	q := url.Values{"tenant": {*tenant}, "tag": {*tag}, "limit": {fmt.Sprint(*limit)}}
	if _, err := c.get(ctx, "/api/v1/keys?"+q.Encode(), &k); err != nil {
		return err
	}
	return output.print(stdout, k, func(w io.Writer) {
		for _, key := range k.Keys {
			fmt.Fprintln(w, key)
		}
		if !k.Complete {
			fmt.Fprintf(w, "(first %d only; raise --limit for more)\n", len(k.Keys))
		}
	})
}
