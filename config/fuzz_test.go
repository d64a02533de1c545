package config

import (
	"errors"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/cachegate/cachegate/policy"
)

var errLine = regexp.MustCompile(`^fuzz\.yaml:(\d+): .+`)

// FuzzParse: the loader never panics; every error names a line of the
// input; an accepted file always compiles to a policy.
func FuzzParse(f *testing.F) {
	if demo, err := os.ReadFile("testdata/demo.yaml"); err == nil {
		f.Add(string(demo))
	}
	for _, s := range []string{
		"",
		"listen: :80\n",
		"routes:\n  - name: a\n    match: {path: \"/p/{id}\", methods: [GET]}\n    tags: [\"p:{id}\"]\n",
		"routes:\n  - match: {path: /a}\n  - match: {path: /a/b}\n",
		"default: &d {browser: \"public, max-age=5\"}\nroutes: [{<<: *d, match: {path: /x}}]\n",
		"a: &a [x, x]\nb: &b [*a, *a]\nsession_cookies: *b\n",
		"cdn: {provider: cloudflare, cloudflare: {zone: 0123456789abcdef0123456789abcdef}}\n",
		"cdn: {providers: [cloudflare, varnish, varnish, none], cloudflare: {api_token: x, zone: 0123456789abcdef0123456789abcdef}, varnish: {urls: [\"http://v:1\"]}}\n",
		"tenants: {by: header, header: X-Tenant, hosts: {a.com: a}}\n",
		"events: {rules: [{type: x, tags: [\"{data.y}\"]}]}\n",
		"admin: {token: ${X}}\n",
		"l1: {max_bytes: 1GiB}\nlimits: {origin_timeout: 7d}\n",
		"? [a]\n: b\n",
		"--- !!map\n? a\n",
		"\t",
		"routes: *x\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		file, err := Parse("fuzz.yaml", []byte(src), env("X", "v"))
		nlines := strings.Count(src, "\n") + strings.Count(src, "\r") + 2 // YAML also breaks lines at CR
		if err != nil {
			if file != nil {
				t.Fatal("a File returned with an error")
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			for _, l := range strings.Split(err.Error(), "\n") {
				m := errLine.FindStringSubmatch(l)
				if m == nil {
					t.Fatalf("error line without FILE:LINE: %q", l)
				}
				if n, _ := strconv.Atoi(m[1]); n < 1 || n > nlines {
					t.Fatalf("line %d outside the input's %d lines: %q", n, nlines, l)
				}
			}
			return
		}
		if _, err := policy.Compile(file.Policy()); err != nil {
			t.Fatalf("accepted config does not compile: %v", err)
		}
	})
}
