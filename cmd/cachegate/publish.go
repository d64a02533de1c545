package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

func runPublish(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("publish", stderr)
	client := adminFlags(fs)
	id := fs.String("id", "", "event id (default: generated); re-publishing an id is processed once")
	tenant := fs.String("tenant", "", "tenant (required)")
	typ := fs.String("type", "", "event type, e.g. company.updated")
	entity := fs.String("entity", "", "entity, e.g. company")
	key := fs.String("key", "", "entity key, e.g. acme")
	data := fs.String("data", "", "event data as a JSON object")
	var tags stringList
	fs.Var(&tags, "tag", "extra tag to invalidate (repeatable)")
	wait := fs.Bool("wait", false, "return only once the invalidation is applied")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	ev := map[string]any{"tenant": *tenant, "occurred_at": time.Now().UTC().Format(time.RFC3339Nano)}
	for k, v := range map[string]string{"id": *id, "type": *typ, "entity": *entity, "key": *key} {
		if v != "" {
			ev[k] = v
		}
	}
	if len(tags) > 0 {
		ev["tags"] = []string(tags)
	}
	if *data != "" {
		var d map[string]any
		if err := json.Unmarshal([]byte(*data), &d); err != nil {
			return fmt.Errorf("%w: --data is not a JSON object: %v", errUsage, err)
		}
		ev["data"] = d
	}
	if *tenant == "" {
		return fmt.Errorf("%w: --tenant is required", errUsage)
	}
	if (*entity == "" || *key == "") && len(tags) == 0 {
		return fmt.Errorf("%w: name --entity and --key, or at least one --tag", errUsage)
	}
	c, err := client()
	if err != nil {
		return err
	}
	path := "/api/v1/events"
	if *wait {
		path += "?wait=1"
	}
	var out json.RawMessage
	if _, err := c.post(ctx, path, ev, &out); err != nil {
		return err
	}
	fmt.Fprintln(stdout, string(out))
	return nil
}
