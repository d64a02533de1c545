package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestOpsCommands drives the operator's inspection and token commands
// against a running demo, in both output formats.
func TestOpsCommands(t *testing.T) {
	t.Parallel()
	d := startDemo(t, "--traffic=false")
	admin := "http://" + d.admin
	op := d.op
	must := func(t testing.TB, args ...string) string {
		t.Helper()
		code, stdout, stderr := op(t, args...)
		if code != 0 {
			t.Fatalf("cachegate %q: exit %d: %s%s", args, code, stdout, stderr)
		}
		return stdout
	}

	t.Run("tokens: create, publish with it, refused elsewhere, revoke", func(t *testing.T) {
		var created struct{ ID, Tenant, Token string }
		if err := json.Unmarshal([]byte(must(t, "tokens", "create", "--tenant", "acme", "--name", "shop")), &created); err != nil || !strings.HasPrefix(created.Token, "cgt_") || created.Tenant != "acme" {
			t.Fatalf("tokens create: %+v %v", created, err)
		}
		if out := must(t, "tokens", "list", "--output", "table"); !strings.Contains(out, created.ID) || !strings.Contains(out, "shop") || strings.Contains(out, created.Token) {
			t.Errorf("tokens list: %q; want the id and name and never the secret", out)
		}
		// The app's token publishes its tenant's events with the same
		// publish command, and nothing else.
		code, stdout, stderr := runCmd(t, "publish", "--admin", admin, "--token", created.Token, "--tenant", "acme", "--tag", "company:acme", "--wait")
		if code != 0 || !strings.Contains(stdout, `"applied":true`) {
			t.Errorf("publish with the tenant token: exit %d %s%s", code, stdout, stderr)
		}
		for _, args := range [][]string{
			{"publish", "--tenant", "berg", "--tag", "company:berg"},
			{"purge", "--tenant", "acme", "--tag", "company:acme"},
			{"stats"},
			{"tokens", "list"},
		} {
			code, _, stderr := runCmd(t, append(args, "--admin", admin, "--token", created.Token)...)
			if code != 1 || !strings.Contains(stderr, "403 Forbidden") {
				t.Errorf("cachegate %q with the tenant token: exit %d %q; want 1 and 403", args, code, stderr)
			}
		}
		must(t, "tokens", "revoke", created.ID)
		code, _, stderr = runCmd(t, "publish", "--admin", admin, "--token", created.Token, "--tenant", "acme", "--tag", "x")
		if code != 1 || !strings.Contains(stderr, "401") {
			t.Errorf("publish with a revoked token: exit %d %q", code, stderr)
		}
		if code, _, stderr := op(t, "tokens", "create"); code != 2 || !strings.Contains(stderr, "--tenant is required") {
			t.Errorf("tokens create without a tenant: exit %d %q", code, stderr)
		}
		if code, _, stderr := op(t, "tokens", "revoke"); code != 2 || !strings.Contains(stderr, "needs a token id") {
			t.Errorf("tokens revoke without an id: exit %d %q", code, stderr)
		}
	})

	t.Run("inspect and keys", func(t *testing.T) {
		d.warm(t, "acme", "/")
		url := "http://" + d.host("acme") + "/"
		var in struct {
			Tenant, Key string
			Layers      []struct {
				Layer, State string
				Present      bool
				Tags         []string
				TTLSeconds   int64 `json:"ttl_seconds"`
			}
		}
		if err := json.Unmarshal([]byte(must(t, "inspect", url)), &in); err != nil || in.Tenant != "acme" || len(in.Layers) == 0 {
			t.Fatalf("inspect: %+v %v", in, err)
		}
		l1 := in.Layers[0]
		if l1.Layer != "l1" || !l1.Present || l1.State != "fresh" || l1.TTLSeconds <= 0 || !strings.Contains(strings.Join(l1.Tags, " "), "company:acme") {
			t.Errorf("inspect: L1 %+v, want fresh with company:acme", l1)
		}
		if out := must(t, "inspect", url, "--output", "table"); !strings.Contains(out, "fresh") || !strings.Contains(out, in.Key) {
			t.Errorf("inspect table: %q", out)
		}
		if out := must(t, "keys", "--tenant", "acme", "--tag", "company:acme", "--output", "table"); !strings.Contains(out, in.Key) {
			t.Errorf("keys: %q, want %q", out, in.Key)
		}
		must(t, "purge", "--tenant", "acme", "--tag", "company:acme")
		if out := must(t, "inspect", url, "--output", "table"); !strings.Contains(out, "absent") {
			t.Errorf("inspect after the purge: %q, want absent", out)
		}
		if code, _, stderr := op(t, "keys", "--tenant", "acme"); code != 2 || !strings.Contains(stderr, "--tag are required") {
			t.Errorf("keys without a tag: exit %d %q", code, stderr)
		}
	})

	t.Run("stats", func(t *testing.T) {
		d.warm(t, "acme", "/companies")
		if out := must(t, "stats", "--output", "table"); !strings.Contains(out, "tenant acme") || !strings.Contains(out, "REQUESTS") {
			t.Errorf("stats: %q", out)
		}
		var snap struct{ Requests uint64 }
		if err := json.Unmarshal([]byte(must(t, "stats")), &snap); err != nil || snap.Requests == 0 {
			t.Errorf("stats json: %+v %v", snap, err)
		}
	})

	t.Run("tail follows events and purges", func(t *testing.T) {
		r := start(t, "tail", "--admin", admin, "--token", d.token, "--last", "0", "--interval", "100ms", "--output", "table")
		// "following" alone is printed after the first read: a purge made
		// before it would be among what --last 0 skips.
		r.stderr.await(t, regexp.MustCompile(`(?m) following$`), r.done, startTimeout)
		code, stdout, _ := op(t, "purge", "--tenant", "berg", "--tag", "tail-marker")
		var p struct{ ID string }
		if code != 0 || json.Unmarshal([]byte(stdout), &p) != nil {
			t.Fatalf("purge: %d %s", code, stdout)
		}
		r.line(t, `(id=`+regexp.QuoteMeta(p.ID)+`.*tail-marker)`)
	})

	t.Run("dead letters", func(t *testing.T) {
		if out := must(t, "deadletters", "list", "--output", "table"); !strings.Contains(out, "no dead letters") && !strings.Contains(out, "SEQ") {
			t.Errorf("deadletters list: %q", out)
		}
		if code, _, stderr := op(t, "deadletters", "discard", "999999"); code != 1 || !strings.Contains(stderr, "404") {
			t.Errorf("discard of an unknown dead letter: exit %d %q", code, stderr)
		}
		if code, _, stderr := op(t, "deadletters", "edit", "3", "--body", "{not json"); code != 2 || !strings.Contains(stderr, "not a JSON object") {
			t.Errorf("edit with a bad body: exit %d %q", code, stderr)
		}
		if code, _, stderr := op(t, "deadletters", "retry", "x"); code != 2 {
			t.Errorf("retry of a bad seq: exit %d %q", code, stderr)
		}
	})

	t.Run("version", func(t *testing.T) {
		var v struct{ Client, Server struct{ Version, Go string } }
		if err := json.Unmarshal([]byte(must(t, "version", "--server")), &v); err != nil || v.Client.Go == "" || v.Server.Go == "" || v.Server.Version == "" {
			t.Errorf("version --server: %+v %v", v, err)
		}
	})
}

// TestCompletion: each shell's script names every command and the
// subcommands, and bash reads the bash and zsh scripts without a syntax
// error; the bash script completes a subcommand and a flag when run.
func TestCompletion(t *testing.T) {
	t.Parallel()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatal("bash is needed to check the completion script: apt-get install bash")
	}
	for _, shell := range shells {
		code, stdout, stderr := runCmd(t, "completion", shell)
		if code != 0 {
			t.Fatalf("completion %s: exit %d %s", shell, code, stderr)
		}
		for _, c := range commands() {
			if !strings.Contains(stdout, c.name) {
				t.Errorf("completion %s does not name %s", shell, c.name)
			}
		}
		if !strings.Contains(stdout, "revoke") || !strings.Contains(stdout, "discard") {
			t.Errorf("completion %s lacks subcommands", shell)
		}
	}
	if code, _, _ := runCmd(t, "completion", "tcsh"); code != 2 {
		t.Errorf("completion tcsh: exit %d, want 2", code)
	}

	// Run the bash script with a stand-in cachegate on PATH that answers
	// -h as the real one does.
	dir := t.TempDir()
	_, script, _ := runCmd(t, "completion", "bash")
	if err := os.WriteFile(filepath.Join(dir, "c.bash"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, help := runCmd(t, "tokens", "create", "-h")
	if err := os.WriteFile(filepath.Join(dir, "help"), []byte(help), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cachegate"), []byte("#!/bin/sh\ncat \""+filepath.Join(dir, "help")+"\" >&2\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	check := `source c.bash
COMP_WORDS=(cachegate tok); COMP_CWORD=1; _cachegate; echo "1:${COMPREPLY[*]}"
COMP_WORDS=(cachegate tokens re); COMP_CWORD=2; _cachegate; echo "2:${COMPREPLY[*]}"
COMP_WORDS=(cachegate tokens create --te); COMP_CWORD=3; _cachegate; echo "3:${COMPREPLY[*]}"
`
	cmd := exec.Command(bash, "-c", check)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "1:tokens") || !strings.Contains(string(out), "2:revoke") || !strings.Contains(string(out), "3:--tenant") {
		t.Errorf("bash completion: %v\n%s", err, out)
	}
}
