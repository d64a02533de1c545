package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/cachegate/cachegate/purge"
)

// handed is everything the file gives the packages, through the
// conversions the assembly uses, plus the few values the assembly reads
// itself (its listeners, the admin token).
func handed(f *File) []any {
	var targets []purge.Provider
	for _, p := range f.CDN.ProviderNames() {
		targets = append(targets, f.CDN.Target(p))
	}
	out := []any{
		f.Gateway(), f.L1.Store(), f.Redis.Store(), f.NATS.Conn(), f.NATS.Streams(), f.Regions(), f.Policy(),
		f.CDN.Dispatcher(), f.CDN.ProviderNames(), targets, f.Events.Mapper(), f.CDN.Analytics(),
		f.Listen, f.AdminListen, string(f.Admin.Token), f.Events.NoCoordinator,
	}
	ps := f.CDN.Purgers()
	for _, p := range []any{ps.Cloudflare, ps.Fastly, ps.Varnish} {
		if !reflect.ValueOf(p).IsNil() {
			out = append(out, reflect.ValueOf(p).Elem().Interface())
		}
	}
	if f.NATS.URL == "" { // the embedded server, the only user of data_dir
		out = append(out, f.Embedded(f.DataDir))
	}
	return out
}

// alternatives are other valid values for settings whose value the
// generic change (below) would make invalid. "" skips a setting that
// cannot change alone (a provider's name goes with its section, a tenant
// mode with its settings); TestProvidersFromConfig and the policy tests
// cover those.
var alternatives = map[string]string{
	"listen":                        "127.0.0.1:8088",
	"admin_listen":                  "127.0.0.1:9099",
	"origin":                        "http://127.0.0.1:8082",
	"redis.addrs[0]":                "127.0.0.1:26381",
	"redis.url":                     "redis://127.0.0.1:6380/2",
	"nats.url":                      "nats://127.0.0.1:4223",
	"nats.embedded_listen":          "127.0.0.1:4223",
	"cache.targeted_fields[0]":      "X-Cache-Control",
	"routes[0].match.path":          "/acc",
	"routes[1].match.path":          "/items/{id}",
	"routes[1].match.methods[0]":    "POST",
	"routes[1].origin":              "respect",
	"routes[1].browser":             "public, max-age=61",
	"routes[1].cdn":                 "max-age=86401",
	"routes[1].tags[0]":             "item:{id}",
	"routes[1].locales[1]":          "fr",
	"tenants.by":                    "",
	"tenants.domains[0]":            "example.org",
	"cdn.providers[0]":              "",
	"cdn.providers[1]":              "",
	"cdn.providers[2]":              "",
	"cdn.provider":                  "",
	"cdn.cloudflare.plan":           "pro",
	"cdn.cloudflare.zone":           "00000000000000000000000000000000",
	"cdn.cloudflare.zones.acme":     "11111111111111111111111111111111",
	"cdn.cloudflare.base_url":       "http://127.0.0.1:3/client/v4/",
	"cdn.fastly.base_url":           "http://127.0.0.1:3",
	"cdn.varnish.urls[0]":           "http://127.0.0.1:6082",
	"events.rules[0].tags[0]":       "shelf:{data.category_id}",
	"events.rules[0].type":          "product.deleted",
	"nats.nkey_seed":                "/etc/cachegate/other.nk",
	"nats.credentials":              "/etc/cachegate/other.creds",
	"cdn.header":                    "Surrogate-Control",
	"routes[1].cdn_header":          "CDN-Cache-Control",
	"routes[1].match.host[0]":       "store.example.com",
	"tenants.hosts.shop.acme.de":    "berg",
	"cdn.hosts.acme":                "shop.acme.example",
	"routes[1].staff_bypass.header": "X-Draft",
	"routes[1].match.header[0]":     "X-Other",
	"tenants.header":                "X-Site",
	"l2.admission":                  "always",
	"nats.region":                   "", // purge_region names it
	"cdn.purge_region":              "every",
}

// change returns another value for the scalar at path.
func change(path string, n *yaml.Node) (string, bool) {
	if v, ok := alternatives[path]; ok {
		return v, v != ""
	}
	switch n.Tag {
	case "!!bool":
		return strconv.FormatBool(n.Value != "true"), true
	case "!!int":
		i, _ := strconv.Atoi(n.Value)
		return strconv.Itoa(i + 1), true
	}
	// Durations and sizes: a larger number, same unit.
	if i := strings.IndexFunc(n.Value, func(r rune) bool { return r < '0' || r > '9' }); i > 0 {
		num, _ := strconv.Atoi(n.Value[:i])
		return strconv.Itoa(num+1) + n.Value[i:], true
	}
	return n.Value + "x", true
}

// leaves lists the scalar values of n by path.
func leaves(path string, n *yaml.Node, out map[string]*yaml.Node) {
	switch n.Kind {
	case yaml.DocumentNode:
		leaves(path, n.Content[0], out)
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := n.Content[i].Value
			if path != "" {
				p = path + "." + p
			}
			leaves(p, n.Content[i+1], out)
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			leaves(fmt.Sprintf("%s[%d]", path, i), c, out)
		}
	case yaml.ScalarNode:
		out[path] = n
	}
}

// TestEveryKeyReachesAPackage: no value is accepted and then ignored.
// Each value set in the example files is changed, one at a time, to
// another valid value; what the packages are given must change.
func TestEveryKeyReachesAPackage(t *testing.T) {
	files, _ := filepath.Glob("testdata/schema/*.yaml")
	if len(files) == 0 {
		t.Fatal("no example files")
	}
	covered := 0
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		f, err := Parse(file, data, env())
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		want := handed(f)
		var doc yaml.Node
		if err := yaml.Unmarshal(data, &doc); err != nil {
			t.Fatal(err)
		}
		all := map[string]*yaml.Node{}
		leaves("", &doc, all)
		for path, n := range all {
			v, ok := change(path, n)
			if !ok {
				continue
			}
			old := n.Value
			n.Value = v
			changed, err := yaml.Marshal(&doc)
			n.Value = old
			if err != nil {
				t.Fatal(err)
			}
			g, err := Parse(file, changed, env())
			if err != nil {
				t.Errorf("%s: %s: %q -> %q does not load (add a valid value to alternatives): %v", file, path, old, v, err)
				continue
			}
			covered++
			if reflect.DeepEqual(handed(g), want) {
				t.Errorf("%s: %s: %q -> %q changes nothing the packages are given: accepted and ignored", file, path, old, v)
			}
		}
	}
	t.Logf("%d settings changed", covered)
}
