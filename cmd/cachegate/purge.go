package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
)

func runPurge(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("purge", stderr)
	admin := fs.String("admin", envOr("CACHEGATE_ADMIN_URL", "http://127.0.0.1:9090"), "admin API base URL (CACHEGATE_ADMIN_URL)")
	token := fs.String("token", "", "admin token (default CACHEGATE_ADMIN_TOKEN)")
	tenant := fs.String("tenant", "", "tenant whose responses to purge (required)")
	var tags, urls, prefixes stringList
	fs.Var(&tags, "tag", "tag to purge (repeatable)")
	fs.Var(&urls, "url", "URL path to purge, e.g. /companies (repeatable)")
	fs.Var(&prefixes, "prefix", "path prefix to purge (repeatable)")
	everything := fs.Bool("everything", false, "purge everything of the tenant")
	wait := fs.Bool("wait", true, "return once applied in the gateway's layers")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *tenant == "" {
		return fmt.Errorf("%w: --tenant is required", errUsage)
	}
	if len(tags)+len(urls)+len(prefixes) == 0 && !*everything {
		return fmt.Errorf("%w: name --tag, --url, --prefix or --everything", errUsage)
	}
	if *token == "" {
		*token = envOr("CACHEGATE_ADMIN_TOKEN", "")
	}
	c, err := newAdminClient(*admin, *token)
	if err != nil {
		return err
	}
	body := map[string]any{"tenant": *tenant, "tags": nonNil(tags), "urls": nonNil(urls), "prefixes": nonNil(prefixes), "everything": *everything}
	path := "/api/v1/purge"
	if *wait {
		path += "?wait=1"
	}
	var out json.RawMessage
	if _, err := c.post(ctx, path, body, &out); err != nil {
		return err
	}
	fmt.Fprintln(stdout, string(out))
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
