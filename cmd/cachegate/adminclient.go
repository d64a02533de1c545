package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// adminClient calls the admin API for the operator commands.
type adminClient struct {
	base  string
	token string
	http  *http.Client
}

// adminFlags adds --admin and --token to fs; the function it returns makes
// the client once the flags are parsed.
func adminFlags(fs *flag.FlagSet) func() (*adminClient, error) {
	admin := fs.String("admin", envOr("CACHEGATE_ADMIN_URL", "http://127.0.0.1:9090"), "admin API base URL (CACHEGATE_ADMIN_URL)")
	token := fs.String("token", "", "admin token (default CACHEGATE_ADMIN_TOKEN)")
	return func() (*adminClient, error) {
		if *token == "" {
			*token = envOr("CACHEGATE_ADMIN_TOKEN", "")
		}
		return newAdminClient(*admin, *token)
	}
}

func newAdminClient(base, token string) (*adminClient, error) {
	if token == "" {
		return nil, fmt.Errorf("%w: no admin token: set CACHEGATE_ADMIN_TOKEN or --token", errUsage)
	}
	if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
		base = "http://" + base
	}
	return &adminClient{base: strings.TrimRight(base, "/"), token: token, http: &http.Client{Timeout: 60 * time.Second}}, nil
}

// post sends body as JSON and decodes the JSON answer into out; a non-2xx
// answer is an error carrying the server's message.
func (c *adminClient) post(ctx context.Context, path string, body, out any) (int, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, err
	}
	return c.do(ctx, http.MethodPost, path, bytes.NewReader(b), out)
}

// get decodes the JSON answer to GET path into out, as post does.
func (c *adminClient) get(ctx context.Context, path string, out any) (int, error) {
	return c.do(ctx, http.MethodGet, path, nil, out)
}

func (c *adminClient) do(ctx context.Context, method, path string, body io.Reader, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return 0, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("admin API at %s: %w", c.base, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			return resp.StatusCode, fmt.Errorf("admin API: %s: %s", resp.Status, e.Error)
		}
		return resp.StatusCode, fmt.Errorf("admin API: %s: %s", resp.Status, strings.TrimSpace(string(raw)))
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return resp.StatusCode, fmt.Errorf("admin API: decode answer: %w", err)
		}
	}
	return resp.StatusCode, nil
}

// connect checks the --output flag and makes the client: the last step of
// an operator command's flags, before its first request.
func connect(output outputFormat, client func() (*adminClient, error)) (*adminClient, error) {
	if err := output.check(); err != nil {
		return nil, err
	}
	return client()
}
