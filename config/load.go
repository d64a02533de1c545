package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"

	goccy "github.com/goccy/go-yaml"
	goccyparser "github.com/goccy/go-yaml/parser"
	"go.yaml.in/yaml/v3"

	"github.com/cachegate/cachegate/gateway"
	"github.com/cachegate/cachegate/policy"
)

// MaxFileSize bounds a config file.
const MaxFileSize = 4 << 20

// Load reads and checks the config file at path. On any problem it returns
// Errors listing every problem found as "FILE:LINE: message"; the File is
// then nil. Secrets may be written as ${NAME}, read from the environment.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, Errors{{File: path, Msg: fmt.Sprintf("cannot read config: %v", err)}}
	}
	return Parse(path, data, os.LookupEnv)
}

// Parse is Load on data already read; name labels the messages and getenv
// resolves ${NAME} in secrets (nil: the process environment).
func Parse(name string, data []byte, getenv func(string) (string, bool)) (*File, error) {
	if getenv == nil {
		getenv = lookupEnv
	}
	d := &decoder{file: name, getenv: getenv}
	f := &File{Path: name}
	if len(data) > MaxFileSize {
		return nil, Errors{{File: name, Line: 1, Msg: fmt.Sprintf("config is larger than %d bytes", MaxFileSize)}}
	}
	doc, extra, err := parseYAML(data)
	if err != nil {
		return nil, yamlErrors(name, data, err)
	}
	if extra != nil {
		d.errorf(extra, "only one YAML document is allowed (remove the ---)")
	}
	if len(doc.Content) > 0 {
		r := &rootDecoder{decoder: d, f: f, rules: map[int]*ruleNodes{}}
		r.decode(doc.Content[0])
		r.checkPackages()
		r.checkPolicy()
		r.checkFile()
	}
	if len(d.errs) > 0 {
		sort.SliceStable(d.errs, func(i, j int) bool { return d.errs[i].Line < d.errs[j].Line })
		return nil, d.errs
	}
	return f, nil
}

// parseYAML parses the first document and reports a second one. yaml.v3
// has panicked on hostile input in the past; a config file must never take
// the process down, so a panic there is an error (only there: a panic in
// our own decoding is a bug the fuzz test must see).
func parseYAML(data []byte) (doc yaml.Node, extra *yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("cannot parse YAML: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return doc, nil, err
	}
	var next yaml.Node
	if dec.Decode(&next) == nil {
		extra = &next
	}
	return doc, extra, nil
}

var yamlLine = regexp.MustCompile(`line (\d+): (.*)`)

// yamlErrors turns a YAML syntax or type error into Errors with lines.
//
// yaml.v3 (and its maintained successor, which has the same parser) place
// a syntax error on the line where the parser's context began counted from
// 0, so an unclosed "[" on line 3 is reported at line 2, and a problem in
// the first construct at no line at all. goccy/go-yaml's parser names the
// token it stopped at, but for a plain scalar that runs onto the next line
// that is the scalar's first line. Each is at or before the fault, so the
// later of the two is its line (TestSyntaxErrorLines holds the cases). The
// tree itself comes from yaml.v3 alone: goccy is only asked about a file
// yaml.v3 already rejected, so a file they disagree on is never rejected
// because of goccy.
func yamlErrors(name string, data []byte, err error) Errors {
	var msgs []string
	if te, ok := err.(*yaml.TypeError); ok {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	var out Errors
	for _, m := range msgs {
		line := 1
		if sm := yamlLine.FindStringSubmatch(m); sm != nil {
			if n, err := strconv.Atoi(sm[1]); err == nil && n > 0 {
				line, m = n, sm[2]
			}
		}
		out = append(out, Error{File: name, Line: line, Msg: "YAML: " + trimYAMLPrefix(m)})
	}
	if len(out) == 1 {
		if line, msg, ok := syntaxError(data); ok && line >= out[0].Line {
			out[0] = Error{File: name, Line: line, Msg: "YAML: " + msg}
		}
	}
	return out
}

// syntaxError locates a syntax error with goccy/go-yaml's parser: its line
// (from 1) and message. ok is false when that parser finds none (or
// panics: a config file must never take the process down).
func syntaxError(data []byte) (line int, msg string, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	_, err := goccyparser.ParseBytes(data, 0)
	var se *goccy.SyntaxError
	if !errors.As(err, &se) || se.Token == nil || se.Token.Position == nil || se.Token.Position.Line < 1 {
		return 0, "", false
	}
	return se.Token.Position.Line, se.Message, true
}

func trimYAMLPrefix(m string) string {
	if len(m) > 6 && m[:6] == "yaml: " {
		return m[6:]
	}
	return m
}

// ruleNodes remembers where a rule's fields were, to place policy problems.
type ruleNodes struct {
	// badMatch: the rule's match did not decode, so it may look broader
	// than written; shadowing checks involving it are not reported.
	badMatch bool
	self     *yaml.Node
	fields   map[string]*yaml.Node
	items    map[string][]*yaml.Node
}

type rootDecoder struct {
	*decoder
	f        *File
	top      map[string]*yaml.Node
	rules    map[int]*ruleNodes // by index; policy.ProblemDefaultRule for default
	tenants  map[string]*yaml.Node
	cookies  []*yaml.Node
	sections map[string]*yaml.Node
	// sectionSet says which CDN provider sections are non-empty.
	sectionSet map[string]bool
	// providerAt is the node naming each selected CDN provider.
	providerAt map[string]*yaml.Node
}

func (r *rootDecoder) at(key string, fn func(v *yaml.Node)) field {
	return field{key, func(v *yaml.Node) {
		if r.top == nil {
			r.top = map[string]*yaml.Node{}
		}
		r.top[key] = r.key
		fn(v)
	}}
}

func (r *rootDecoder) decode(root *yaml.Node) {
	f := r.f
	r.hints = map[[2]string]string{}
	for _, k := range []string{"match", "private", "ttl", "browser", "cdn_header", "stale_while_revalidate",
		"stale_if_error", "early_refresh_beta", "tags", "locales", "staff_bypass", "path"} {
		r.hints[[2]string{"config", k}] = k + " belongs in a rule: under routes: - or default:"
	}
	for _, k := range []string{"cloudflare", "fastly", "varnish", "provider", "providers"} {
		r.hints[[2]string{"config", k}] = k + " belongs under cdn:"
	}
	r.hints[[2]string{"config", "token"}] = "token belongs under admin:"
	r.hints[[2]string{"config", "rules"}] = "event rules belong under events:; route rules under routes:"
	r.hints[[2]string{"config", "max_bytes"}] = "max_bytes belongs under l1:"
	r.hints[[2]string{"config", "route"}] = `the key is "routes", a list`
	r.mapping(root, "config", []field{
		r.at("listen", func(v *yaml.Node) { r.str(v, "listen", &f.Listen) }),
		r.at("admin_listen", func(v *yaml.Node) { r.str(v, "admin_listen", &f.AdminListen) }),
		r.at("origin", func(v *yaml.Node) { r.str(v, "origin", &f.Origin) }),
		r.at("cache_name", func(v *yaml.Node) { r.str(v, "cache_name", &f.CacheName) }),
		r.at("data_dir", func(v *yaml.Node) { r.str(v, "data_dir", &f.DataDir) }),
		r.at("session_cookies", func(v *yaml.Node) { r.cookies = r.list(v, "session_cookies", &f.SessionCookies) }),
		r.at("server_header", func(v *yaml.Node) { r.serverHeader(v) }),
		r.at("via", func(v *yaml.Node) { r.boolPtr(v, "via", &f.Via) }),
		r.at("metrics_listen", func(v *yaml.Node) { r.str(v, "metrics_listen", &f.MetricsListen) }),
		r.at("log", func(v *yaml.Node) {
			r.mapping(v, "log", []field{
				{"format", func(v *yaml.Node) {
					if r.str(v, "log.format", &f.Log.Format); f.Log.Format != LogFormatText && f.Log.Format != LogFormatJSON {
						r.errorf(v, "log.format %q: text or json", f.Log.Format)
					}
				}},
				{"access", func(v *yaml.Node) { r.boolean(v, "log.access", &f.Log.Access) }},
				{"access_sample", func(v *yaml.Node) { r.number(v, "log.access_sample", &f.Log.AccessSample) }},
			})
		}),
		r.at("l1", func(v *yaml.Node) {
			r.mapping(v, "l1", []field{{"max_bytes", func(v *yaml.Node) { r.size(v, "l1.max_bytes", &f.L1.MaxBytes) }}})
		}),
		r.at("esi", func(v *yaml.Node) {
			r.mapping(v, "esi", []field{
				{"timeout", func(v *yaml.Node) { r.duration(v, "esi.timeout", &f.ESI.Timeout) }},
				{"max_depth", func(v *yaml.Node) { r.integer(v, "esi.max_depth", 0, math.MaxInt32, &f.ESI.MaxDepth) }},
			})
		}),
		r.at("l2", func(v *yaml.Node) {
			r.mapping(v, "l2", []field{{"admission", func(v *yaml.Node) { r.str(v, "l2.admission", &f.L2.Admission) }}})
		}),
		r.at("limits", func(v *yaml.Node) { r.limits(v) }),
		r.at("cache", func(v *yaml.Node) { r.cache(v) }),
		r.at("warm", func(v *yaml.Node) { r.warm(v) }),
		r.at("redis", func(v *yaml.Node) { r.redis(v) }),
		r.at("nats", func(v *yaml.Node) { r.nats(v) }),
		r.at("admin", func(v *yaml.Node) {
			r.mapping(v, "admin", []field{{"token", func(v *yaml.Node) { r.secret(v, "admin.token", &f.Admin.Token) }}})
		}),
		r.at("tenants", func(v *yaml.Node) { r.tenantsSection(v) }),
		r.at("routes", func(v *yaml.Node) { r.routes(v) }),
		r.at("default", func(v *yaml.Node) {
			r.rule(v, "default", policy.ProblemDefaultRule, &f.Default)
		}),
		r.at("cdn", func(v *yaml.Node) { r.cdn(v) }),
		r.at("events", func(v *yaml.Node) { r.events(v) }),
	})
}

func (r *rootDecoder) serverHeader(v *yaml.Node) {
	n := r.resolve(v)
	if n != nil && n.Kind == yaml.ScalarNode && n.Tag == "!!bool" && n.Value == "false" {
		empty := ""
		r.f.ServerHeader = &empty
		return
	}
	r.strPtr(v, "server_header", &r.f.ServerHeader)
}

func (r *rootDecoder) limits(v *yaml.Node) {
	l := &r.f.Limits
	r.mapping(v, "limits", []field{
		{"max_object_size", func(v *yaml.Node) { r.size(v, "limits.max_object_size", &l.MaxObjectSize) }},
		{"origin_timeout", func(v *yaml.Node) { r.duration(v, "limits.origin_timeout", &l.OriginTimeout) }},
		{"max_header_bytes", func(v *yaml.Node) { r.size(v, "limits.max_header_bytes", &l.MaxHeaderBytes) }},
	})
}

func (r *rootDecoder) cache(v *yaml.Node) {
	c := &r.f.Cache
	r.mapping(v, "cache", []field{
		{"heuristic_freshness", func(v *yaml.Node) { r.boolean(v, "cache.heuristic_freshness", &c.HeuristicFreshness) }},
		{"keep", func(v *yaml.Node) { r.duration(v, "cache.keep", &c.Keep) }},
		{"early_refresh_beta", func(v *yaml.Node) { r.number(v, "cache.early_refresh_beta", &c.EarlyRefreshBeta) }},
		{"targeted_fields", func(v *yaml.Node) { r.list(v, "cache.targeted_fields", &c.TargetedFields) }},
	})
}

// warm decodes warming's section; gateway.WarmConfig checks it.
func (r *rootDecoder) warm(v *yaml.Node) {
	w := &r.f.Warm
	r.mapping(v, "warm", []field{
		{"enabled", func(v *yaml.Node) { r.boolean(v, "warm.enabled", &w.Enabled) }},
		{"top_k", func(v *yaml.Node) { r.integer(v, "warm.top_k", 0, math.MaxInt32, &w.TopK) }},
		{"rate", func(v *yaml.Node) { r.number(v, "warm.rate", &w.Rate) }},
		{"origin_rate", func(v *yaml.Node) { r.number(v, "warm.origin_rate", &w.OriginRate) }},
		{"burst", func(v *yaml.Node) { r.integer(v, "warm.burst", 0, math.MaxInt32, &w.Burst) }},
		{"max_tenants", func(v *yaml.Node) { r.integer(v, "warm.max_tenants", 0, math.MaxInt32, &w.MaxTenants) }},
	})
}

// redis decodes the L2's section; redisstore.Config.Validate checks it.
func (r *rootDecoder) redis(v *yaml.Node) {
	rd := &r.f.Redis
	r.mapping(v, "redis", []field{
		{"url", func(v *yaml.Node) { r.secret(v, "redis.url", &rd.URL) }},
		{"addrs", func(v *yaml.Node) { r.list(v, "redis.addrs", &rd.Addrs) }},
		{"master_name", func(v *yaml.Node) { r.str(v, "redis.master_name", &rd.MasterName) }},
		{"username", func(v *yaml.Node) { r.str(v, "redis.username", &rd.Username) }},
		{"password", func(v *yaml.Node) { r.secret(v, "redis.password", &rd.Password) }},
		{"db", func(v *yaml.Node) { r.integer(v, "redis.db", math.MinInt32, math.MaxInt32, &rd.DB) }},
		{"tls", func(v *yaml.Node) { r.boolean(v, "redis.tls", &rd.TLS) }},
		{"key_prefix", func(v *yaml.Node) { r.str(v, "redis.key_prefix", &rd.KeyPrefix) }},
	})
}

func (r *rootDecoder) nats(v *yaml.Node) {
	n := &r.f.NATS
	var embedded *yaml.Node
	r.mapping(v, "nats", []field{
		{"url", func(v *yaml.Node) { r.str(v, "nats.url", &n.URL) }},
		{"credentials", func(v *yaml.Node) { r.str(v, "nats.credentials", &n.Credentials) }},
		{"token", func(v *yaml.Node) { r.secret(v, "nats.token", &n.Token) }},
		{"user", func(v *yaml.Node) { r.str(v, "nats.user", &n.User) }},
		{"password", func(v *yaml.Node) { r.secret(v, "nats.password", &n.Password) }},
		{"nkey_seed", func(v *yaml.Node) { r.str(v, "nats.nkey_seed", &n.NkeySeed) }},
		{"embedded_listen", func(v *yaml.Node) { embedded = v; r.str(v, "nats.embedded_listen", &n.EmbeddedListen) }},
		{"replicas", func(v *yaml.Node) { r.integer(v, "nats.replicas", math.MinInt32, math.MaxInt32, &n.Replicas) }},
		{"partitions", func(v *yaml.Node) { r.integer(v, "nats.partitions", math.MinInt32, math.MaxInt32, &n.Partitions) }},
		{"region", func(v *yaml.Node) { r.str(v, "nats.region", &n.Region) }},
		{"sources", func(v *yaml.Node) { r.list(v, "nats.sources", &n.Sources) }},
	})
	if embedded != nil && n.URL != "" && n.EmbeddedListen != "" {
		r.errorf(embedded, "nats.embedded_listen configures the embedded server, which is not started when nats.url is set")
	}
}

func (r *rootDecoder) tenantsSection(v *yaml.Node) {
	t := &r.f.Tenants
	r.tenants = map[string]*yaml.Node{}
	keep := func(key string, fn func(v *yaml.Node)) field {
		return field{key, func(v *yaml.Node) { r.tenants[key] = r.key; fn(v) }}
	}
	var hostLines map[string]*yaml.Node
	r.mapping(v, "tenants", []field{
		keep("by", func(v *yaml.Node) { r.str(v, "tenants.by", &t.By) }),
		keep("header", func(v *yaml.Node) { r.str(v, "tenants.header", &t.Header) }),
		keep("domains", func(v *yaml.Node) { r.list(v, "tenants.domains", &t.Domains) }),
		keep("hosts", func(v *yaml.Node) { hostLines = r.strMap(v, "tenants.hosts", &t.Hosts) }),
		keep("fallback", func(v *yaml.Node) { r.str(v, "tenants.fallback", &t.Fallback) }),
	})
	for h, n := range hostLines {
		r.tenants["hosts:"+h] = n
	}
}

func (r *rootDecoder) routes(v *yaml.Node) {
	n := r.resolve(v)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		r.errorf(n, "routes must be a list of rules (- name: ...), got %s", kindName(n))
		return
	}
	r.f.Routes = make([]policy.RuleConfig, len(n.Content))
	for i, c := range n.Content {
		r.rule(c, fmt.Sprintf("routes[%d]", i), i, &r.f.Routes[i])
	}
}

// rule decodes one route (or the default rule, idx ProblemDefaultRule).
func (r *rootDecoder) rule(v *yaml.Node, what string, idx int, rc *policy.RuleConfig) {
	rn := &ruleNodes{self: r.resolve(v), fields: map[string]*yaml.Node{}, items: map[string][]*yaml.Node{}}
	if rn.self == nil {
		rn.self = v
	}
	r.rules[idx] = rn
	if rn.self != nil && rn.self.Kind == yaml.MappingNode {
		// Name the rule in every message, even those about keys before
		// its name.
		for i := 0; i+1 < len(rn.self.Content); i += 2 {
			if k, v := rn.self.Content[i], rn.self.Content[i+1]; k.Value == "name" && v.Kind == yaml.ScalarNode && v.Value != "" {
				what = fmt.Sprintf("route %q", v.Value)
			}
		}
	}
	// keepAs decodes YAML key key and remembers its node as id, the
	// field name policy.Problem uses.
	keepAs := func(key, id string, fn func(v *yaml.Node)) field {
		return field{key, func(v *yaml.Node) { rn.fields[id] = r.key; fn(v) }}
	}
	keep := func(key string, fn func(v *yaml.Node)) field { return keepAs(key, key, fn) }
	items := func(key string, v *yaml.Node, dst *[]string) {
		rn.items[key] = r.list(v, what+"."+key, dst)
	}
	r.mapping(v, what, []field{
		keep("name", func(v *yaml.Node) { r.str(v, what+".name", &rc.Name) }),
		keep("match", func(v *yaml.Node) {
			before := len(r.errs)
			defer func() { rn.badMatch = len(r.errs) > before }()
			m := &rc.Match
			r.mapping(v, what+".match", []field{
				keepAs("host", "match.host", func(v *yaml.Node) { items("match.host", v, &m.Hosts) }),
				keepAs("tenant", "match.tenant", func(v *yaml.Node) { items("match.tenant", v, &m.Tenants) }),
				keepAs("path", "match.path", func(v *yaml.Node) { r.str(v, what+".match.path", &m.Path) }),
				keepAs("methods", "match.methods", func(v *yaml.Node) { items("match.methods", v, &m.Methods) }),
				keepAs("cookie", "match.cookie", func(v *yaml.Node) { items("match.cookie", v, &m.Cookies) }),
				keepAs("header", "match.header", func(v *yaml.Node) { items("match.header", v, &m.Headers) }),
			})
		}),
		keep("private", func(v *yaml.Node) { r.boolean(v, what+".private", &rc.Private) }),
		keep("ttl", func(v *yaml.Node) {
			if s := r.resolve(v); s != nil && s.Kind == yaml.ScalarNode && s.Value == "origin" {
				rc.TTL = nil // respect the origin, the default
				return
			}
			if s := r.resolve(v); s != nil && s.Kind == yaml.ScalarNode && s.Value == "auto" {
				rc.TTL = nil
				if rc.AutoTTL == nil {
					rc.AutoTTL = &policy.AutoTTL{}
				}
				return
			}
			r.durationPtr(v, what+".ttl (a duration, \"origin\" or \"auto\")", &rc.TTL)
		}),
		keep("origin", func(v *yaml.Node) { r.str(v, what+".origin", &rc.Origin) }),
		keep("esi", func(v *yaml.Node) { r.str(v, what+".esi", &rc.ESI) }),
		keep("browser", func(v *yaml.Node) { r.str(v, what+".browser", &rc.Browser) }),
		keep("cdn", func(v *yaml.Node) { r.str(v, what+".cdn", &rc.CDN) }),
		keep("cdn_header", func(v *yaml.Node) { r.str(v, what+".cdn_header", &rc.CDNHeader) }),
		keep("stale_while_revalidate", func(v *yaml.Node) {
			r.durationPtr(v, what+".stale_while_revalidate", &rc.StaleWhileRevalidate)
		}),
		keep("stale_if_error", func(v *yaml.Node) { r.durationPtr(v, what+".stale_if_error", &rc.StaleIfError) }),
		keep("auto_ttl", func(v *yaml.Node) {
			if rc.AutoTTL == nil {
				rc.AutoTTL = &policy.AutoTTL{}
			}
			a := rc.AutoTTL
			r.mapping(v, what+".auto_ttl", []field{
				keepAs("min", "auto_ttl.min", func(v *yaml.Node) { r.duration(v, what+".auto_ttl.min", &a.Min) }),
				keepAs("max", "auto_ttl.max", func(v *yaml.Node) { r.duration(v, what+".auto_ttl.max", &a.Max) }),
				keepAs("fraction", "auto_ttl.fraction", func(v *yaml.Node) { r.number(v, what+".auto_ttl.fraction", &a.Fraction) }),
			})
		}),
		keep("early_refresh_beta", func(v *yaml.Node) { r.numberPtr(v, what+".early_refresh_beta", &rc.EarlyRefreshBeta) }),
		keep("tags", func(v *yaml.Node) { items("tags", v, &rc.Tags) }),
		keep("locales", func(v *yaml.Node) { items("locales", v, &rc.Locales) }),
		keep("staff_bypass", func(v *yaml.Node) {
			r.mapping(v, what+".staff_bypass", []field{
				keepAs("cookie", "staff_bypass.cookie", func(v *yaml.Node) { r.str(v, what+".staff_bypass.cookie", &rc.StaffBypass.Cookie) }),
				keepAs("header", "staff_bypass.header", func(v *yaml.Node) { r.str(v, what+".staff_bypass.header", &rc.StaffBypass.Header) }),
			})
		}),
	})
}

// checkPolicy runs policy.Check and places each problem on the line
// of the field it names.
func (r *rootDecoder) checkPolicy() {
	for _, p := range policy.Check(r.f.Policy()) {
		if p.Field == "match" && p.Rule >= 0 && r.anyBadMatch(p.Rule) {
			continue
		}
		r.errorf(r.problemNode(p), "%s", r.problemText(p))
	}
	for _, p := range policy.Warnings(r.f.Policy(), gateway.DefaultMaxTTL) {
		line := 1
		if n := r.problemNode(p); n != nil && n.Line > 0 {
			line = n.Line
		}
		r.f.Warnings = append(r.f.Warnings, Error{File: r.file, Line: line, Msg: "warning: " + r.problemText(p)})
	}
}

func (r *rootDecoder) anyBadMatch(upTo int) bool {
	for i := 0; i <= upTo; i++ {
		if rn := r.rules[i]; rn != nil && rn.badMatch {
			return true
		}
	}
	return false
}

func (r *rootDecoder) problemText(p policy.Problem) string {
	switch {
	case p.Rule >= 0:
		name := p.Field
		if p.Index >= 0 {
			name = fmt.Sprintf("%s[%d]", p.Field, p.Index)
		}
		label := fmt.Sprintf("routes[%d]", p.Rule)
		if n := r.f.Routes[p.Rule].Name; n != "" {
			label = fmt.Sprintf("route %q", n)
		}
		return fmt.Sprintf("%s %s: %s", label, name, p.Msg)
	case p.Rule == policy.ProblemDefaultRule:
		name := p.Field
		if p.Index >= 0 {
			name = fmt.Sprintf("%s[%d]", p.Field, p.Index)
		}
		return fmt.Sprintf("default %s: %s", name, p.Msg)
	}
	if p.Field == "cdn_header" {
		return "cdn.header: " + p.Msg
	}
	return p.Field + ": " + p.Msg
}

func (r *rootDecoder) problemNode(p policy.Problem) *yaml.Node {
	if rn, ok := r.rules[p.Rule]; ok {
		if items := rn.items[p.Field]; p.Index >= 0 && p.Index < len(items) {
			return items[p.Index]
		}
		if n := rn.fields[p.Field]; n != nil {
			return n
		}
		if n := rn.fields["match"]; n != nil && len(p.Field) > 6 && p.Field[:6] == "match." {
			return n
		}
		return rn.self
	}
	switch p.Field {
	case "session_cookies":
		if p.Index >= 0 && p.Index < len(r.cookies) {
			return r.cookies[p.Index]
		}
		return r.top["session_cookies"]
	case "cdn_header":
		return r.sections["cdn.header"]
	}
	if len(p.Field) > 8 && p.Field[:8] == "tenants." {
		if p.Field == "tenants.hosts" {
			// The message names the host; find its line.
			for k, n := range r.tenants {
				if len(k) > 6 && k[:6] == "hosts:" && bytes.Contains([]byte(p.Msg), []byte(strconv.Quote(k[6:]))) {
					return n
				}
			}
		}
		if n := r.tenants[p.Field[8:]]; n != nil {
			return n
		}
		if n := r.tenants["by"]; n != nil {
			return n // a setting missing for the mode chosen there
		}
		return r.top["tenants"]
	}
	return nil
}
