package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestPublishAndPurgeCommands drives the operator commands against a
// running demo: an event published with --wait is applied when the command
// returns, a purge by tag reaches only its tenant, and mistakes are told
// apart: a bad command line exits 2 before any request, a refusal by the
// server exits 1 with the server's message.
func TestPublishAndPurgeCommands(t *testing.T) {
	t.Parallel()
	d := startDemo(t, "--traffic=false")
	admin := "http://" + d.admin
	// The token goes by flag (d.op); TestOperatorTokenFromEnvironment
	// covers the variable.
	op := d.op

	t.Run("publish --wait is applied on return", func(t *testing.T) {
		d.warm(t, "acme", "/")
		d.warm(t, "berg", "/")
		code, stdout, stderr := op(t, "publish", "--tenant", "acme", "--type", "company.updated", "--entity", "company", "--key", "acme", "--wait")
		if code != 0 {
			t.Fatalf("publish: exit %d: %s%s", code, stdout, stderr)
		}
		var out struct {
			ID      string `json:"id"`
			Applied bool   `json:"applied"`
		}
		if err := json.Unmarshal([]byte(stdout), &out); err != nil || out.ID == "" || !out.Applied {
			t.Fatalf("publish printed %q (%v), want {id, applied: true}", stdout, err)
		}
		if r := d.get(t, "acme", "/"); !strings.Contains(r.cacheStatus(), "fwd=miss") {
			t.Errorf("acme / after the event: %v, want a miss", r)
		}
		if r := d.get(t, "berg", "/"); !r.isHit() {
			t.Errorf("berg / after acme's event: %v, want a hit", r)
		}
	})

	t.Run("publish of explicit tags", func(t *testing.T) {
		d.warm(t, "acme", "/fragments/gallery")
		code, stdout, stderr := op(t, "publish", "--tenant", "acme", "--tag", "gallery:acme", "--data", `{"by":"test"}`, "--wait")
		if code != 0 || !strings.Contains(stdout, `"applied":true`) {
			t.Fatalf("publish --tag: exit %d: %s%s", code, stdout, stderr)
		}
		if r := d.get(t, "acme", "/fragments/gallery"); r.isHit() {
			t.Errorf("the gallery fragment after gallery:acme: %v, want a miss", r)
		}
	})

	t.Run("purge of a tag reaches only its tenant", func(t *testing.T) {
		d.warm(t, "acme", "/")
		d.warm(t, "berg", "/")
		code, stdout, stderr := op(t, "purge", "--tenant", "berg", "--tag", "company:berg")
		if code != 0 || !strings.Contains(stdout, `"id"`) {
			t.Fatalf("purge: exit %d: %s%s", code, stdout, stderr)
		}
		if r := d.get(t, "berg", "/"); !strings.Contains(r.cacheStatus(), "fwd=miss") {
			t.Errorf("berg / after the purge: %v, want a miss", r)
		}
		if r := d.get(t, "acme", "/"); !r.isHit() {
			t.Errorf("acme / after berg's purge: %v, want a hit", r)
		}
	})

	// The demo's routes have a stale-while-revalidate window: the page
	// softly purged is served stale, marked soft, while one refill runs
	// (TestDemoSoftPurge follows it to the refill).
	t.Run("purge --soft says what readers may see", func(t *testing.T) {
		d.warm(t, "acme", "/")
		code, stdout, stderr := op(t, "purge", "--tenant", "acme", "--tag", "company:acme", "--soft")
		if code != 0 || !strings.Contains(stderr, "may see the old content") {
			t.Fatalf("purge --soft: exit %d: %s%s; want it to say readers may see the old content", code, stdout, stderr)
		}
		if r := d.get(t, "acme", "/"); !strings.HasPrefix(r.cacheStatus(), "cachegate; fwd=stale") || !strings.Contains(r.cacheStatus(), "; soft") {
			t.Errorf("acme / after a soft purge: %v, want the old page served stale, marked soft", r)
		}
	})

	t.Run("purge of a URL", func(t *testing.T) {
		d.warm(t, "acme", "/companies")
		d.warm(t, "acme", "/")
		code, stdout, stderr := op(t, "purge", "--tenant", "acme", "--url", "/companies")
		if code != 0 {
			t.Fatalf("purge --url: exit %d: %s%s", code, stdout, stderr)
		}
		if r := d.get(t, "acme", "/companies"); r.isHit() {
			t.Errorf("/companies after its purge: %v, want a miss", r)
		}
		if r := d.get(t, "acme", "/"); !r.isHit() {
			t.Errorf("/ after the purge of /companies: %v, want a hit", r)
		}
	})

	t.Run("bad command lines exit 2", func(t *testing.T) {
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"publish", "--entity", "company", "--key", "acme"}, "--tenant is required"},
			{[]string{"publish", "--tenant", "acme"}, "--entity and --key, or at least one --tag"},
			{[]string{"publish", "--tenant", "acme", "--tag", "x", "--data", "[1"}, "--data is not a JSON object"},
			{[]string{"publish", "--tenant", "acme", "extra"}, `unexpected argument "extra"`},
			{[]string{"purge", "--tag", "company:acme"}, "--tenant is required"},
			{[]string{"purge", "--tenant", "acme"}, "name --tag, --url, --prefix or --everything"},
		} {
			code, stdout, stderr := op(t, c.args...)
			if code != 2 || !strings.Contains(stderr, c.want) || stdout != "" {
				t.Errorf("cachegate %q: exit %d, stdout %q, stderr %q; want exit 2 and %q", c.args, code, stdout, stderr, c.want)
			}
		}
	})

	t.Run("refusals by the server exit 1 with its message", func(t *testing.T) {
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{"purge", "--admin", admin, "--token", "not-the-admin-token", "--tenant", "acme", "--tag", "company:acme"}, "401 Unauthorized: wrong admin token"},
			{[]string{"publish", "--admin", admin, "--token", "not-the-admin-token", "--tenant", "acme", "--tag", "x"}, "401 Unauthorized: wrong admin token"},
			{[]string{"purge", "--admin", admin, "--token", d.token, "--tenant", "Not A Tenant!", "--tag", "x"}, "400 Bad Request"},
			{[]string{"publish", "--admin", admin, "--token", d.token, "--tenant", "acme", "--tag", "bad tag with spaces"}, "400 Bad Request"},
		} {
			code, stdout, stderr := runCmd(t, c.args...)
			if code != 1 || !strings.Contains(stderr, c.want) {
				t.Errorf("cachegate %q: exit %d, stdout %q, stderr %q; want exit 1 and %q", c.args, code, stdout, stderr, c.want)
			}
		}
		// The refused purge of company:acme did not happen.
		d.warm(t, "acme", "/")
		if r := d.get(t, "acme", "/"); !r.isHit() {
			t.Errorf("acme / after refused purges: %v, want a hit", r)
		}
	})

	t.Run("an unreachable admin API exits 1", func(t *testing.T) {
		code, _, stderr := runCmd(t, "purge", "--admin", "http://127.0.0.1:1", "--token", d.token, "--tenant", "acme", "--tag", "x")
		if code != 1 || !strings.Contains(stderr, "admin API at http://127.0.0.1:1") {
			t.Errorf("exit %d, stderr %q; want 1 naming the admin API", code, stderr)
		}
	})
}

// TestOperatorTokenFromEnvironment: publish and purge take the token and
// the admin URL from CACHEGATE_ADMIN_TOKEN and CACHEGATE_ADMIN_URL, and
// without any token they refuse before sending anything.
func TestOperatorTokenFromEnvironment(t *testing.T) {
	t.Setenv("CACHEGATE_ADMIN_TOKEN", "operator-env-admin-token")
	d := startDemo(t, "--traffic=false")
	t.Setenv("CACHEGATE_ADMIN_URL", "http://"+d.admin)

	d.warm(t, "acme", "/")
	code, stdout, stderr := runCmd(t, "publish", "--tenant", "acme", "--entity", "company", "--key", "acme", "--wait")
	if code != 0 || !strings.Contains(stdout, `"applied":true`) {
		t.Fatalf("publish: exit %d: %s%s", code, stdout, stderr)
	}
	if r := d.get(t, "acme", "/"); r.isHit() {
		t.Errorf("acme / after the event: %v, want a miss", r)
	}
	d.warm(t, "berg", "/")
	if code, stdout, stderr := runCmd(t, "purge", "--tenant", "berg", "--tag", "company:berg"); code != 0 {
		t.Fatalf("purge: exit %d: %s%s", code, stdout, stderr)
	}
	if r := d.get(t, "berg", "/"); r.isHit() {
		t.Errorf("berg / after the purge: %v, want a miss", r)
	}

	t.Setenv("CACHEGATE_ADMIN_TOKEN", "")
	code, _, stderr = runCmd(t, "purge", "--tenant", "berg", "--tag", "company:berg")
	if code != 2 || !strings.Contains(stderr, "no admin token: set CACHEGATE_ADMIN_TOKEN or --token") {
		t.Errorf("purge without a token: exit %d, stderr %q; want 2 saying how to give one", code, stderr)
	}
}
