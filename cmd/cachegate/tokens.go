package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"text/tabwriter"
	"time"

	"github.com/cachegate/cachegate/web"
)

// runTokens manages the publish-only tenant tokens through the admin API:
//
//	cachegate tokens create --tenant T [--name N]
//	cachegate tokens list
//	cachegate tokens revoke <id>
func runTokens(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	sub, args, err := splitSub("tokens", args, "list", tokenSubs...)
	if err != nil {
		return err
	}
	fs := newFlagSet("tokens "+sub, stderr)
	client := adminFlags(fs)
	output := outputFlag(fs)
	var tenant, name *string
	if sub == "create" {
		tenant = fs.String("tenant", "", "the tenant the token may publish events for (required)")
		name = fs.String("name", "", "what the token is for, shown in listings")
	}
	var id string
	if sub == "revoke" {
		if id, args, err = positional("tokens revoke", "a token id (see cachegate tokens list)", args); err != nil {
			return err
		}
	}
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if sub == "create" && *tenant == "" {
		return fmt.Errorf("%w: --tenant is required", errUsage)
	}
	c, err := connect(output, client)
	if err != nil {
		return err
	}
	switch sub {
	case "create":
		var t web.CreatedToken
		if _, err := c.post(ctx, "/api/v1/tokens", web.CreateTokenRequest{Tenant: *tenant, Name: *name}, &t); err != nil {
			return err
		}
		return output.print(stdout, t, func(w io.Writer) {
			fmt.Fprintf(w, "token %s for tenant %s created; it is shown only now:\n%s\n", t.ID, t.Tenant, t.Secret)
		})
	case "revoke":
		var out map[string]any
		if _, err := c.post(ctx, "/api/v1/tokens/"+url.PathEscape(id)+"/revoke", struct{}{}, &out); err != nil {
			return err
		}
		return output.print(stdout, out, func(w io.Writer) { fmt.Fprintf(w, "token %s revoked on every instance\n", id) })
	}
	var list web.TokensResponse
	if _, err := c.get(ctx, "/api/v1/tokens", &list); err != nil {
		return err
	}
	return output.print(stdout, list, func(w io.Writer) {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tTENANT\tNAME\tCREATED")
		for _, t := range list.Tokens {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.Tenant, t.Name, t.Created.Format(time.RFC3339))
		}
		_ = tw.Flush()
	})
}
