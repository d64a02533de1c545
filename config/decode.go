package config

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	suggestpkg "github.com/cachegate/cachegate/internal/suggest"

	"go.yaml.in/yaml/v3"
)

// maxNodes bounds the nodes one file may expand to through aliases, so a
// "billion laughs" document is an error, not an out-of-memory.
const maxNodes = 100000

// decoder walks yaml.v3 nodes by hand instead of yaml.Unmarshal into
// structs, because Unmarshal stops at the first type error and reports
// unknown keys (KnownFields) without a did-you-mean and only one at a time;
// walking nodes keeps every problem with its line.
type decoder struct {
	file string
	// key is the key node whose value a field function is decoding, so
	// that errors about a whole block can point at the key's line.
	key    *yaml.Node
	errs   Errors
	nodes  int
	getenv func(string) (string, bool)
	// hints explain unknown keys that are known elsewhere ("ttl" at the
	// top level belongs in a route), keyed by what and key.
	hints map[[2]string]string
	// at is the node of every key and list item decoded, by its path
	// ("redis.addrs[1]"), to place the problems packages report.
	written map[string]*yaml.Node
}

// remember records n as the node of path.
func (d *decoder) remember(path string, n *yaml.Node) {
	if d.written == nil {
		d.written = map[string]*yaml.Node{}
	}
	if _, ok := d.written[path]; !ok {
		d.written[path] = n
	}
}

func (d *decoder) errorf(n *yaml.Node, format string, a ...any) {
	line := 1
	if n != nil && n.Line > 0 {
		line = n.Line
	}
	d.errs = append(d.errs, Error{File: d.file, Line: line, Msg: fmt.Sprintf(format, a...)})
}

// resolve follows aliases and counts nodes against maxNodes.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	d.nodes++
	if d.nodes == maxNodes {
		d.errorf(n, "document too large or too deeply aliased (over %d nodes)", maxNodes)
	}
	if d.nodes >= maxNodes || n == nil || n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!int":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "nothing"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "a document"
}

// field is one key of a mapping with the function that decodes its value.
type field struct {
	key string
	fn  func(v *yaml.Node)
}

// mapping decodes n as a mapping of the given fields: duplicate keys,
// unknown keys (with a did-you-mean) and non-string keys are errors, and
// YAML merge keys ("<<: *defaults") are honored with explicit keys winning.
// A null n is an empty mapping.
func (d *decoder) mapping(n *yaml.Node, what string, fields []field) {
	n = d.resolve(n)
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping, got %s", what, kindName(n))
		return
	}
	type pair struct{ k, v *yaml.Node }
	var explicit, merged []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.Tag == "!!merge" {
			for _, m := range d.mergeSources(v) {
				for j := 0; j+1 < len(m.Content); j += 2 {
					merged = append(merged, pair{m.Content[j], m.Content[j+1]})
				}
			}
			continue
		}
		explicit = append(explicit, pair{k, v})
	}
	seen := map[string]bool{}
	keys := make([]string, len(fields))
	for i, f := range fields {
		keys[i] = f.key
	}
	for i, p := range append(explicit, merged...) {
		fromMerge := i >= len(explicit)
		k := d.resolve(p.k)
		if k == nil {
			continue
		}
		if k.Kind != yaml.ScalarNode || isNull(k) {
			d.errorf(k, "%s: keys must be names, got %s", what, kindName(k))
			continue
		}
		if seen[k.Value] {
			if !fromMerge {
				d.errorf(k, "%s: key %q appears twice", what, k.Value)
			}
			continue
		}
		seen[k.Value] = true
		j := slices.Index(keys, k.Value)
		if j < 0 {
			msg := fmt.Sprintf("%s: unknown key %q", what, k.Value)
			if h := d.hints[[2]string{what, k.Value}]; h != "" {
				msg += " (" + h + ")"
			} else if s := suggest(k.Value, keys); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			d.errorf(k, "%s", msg)
			continue
		}
		outer := d.key
		d.key = k
		d.remember(what+"."+k.Value, k)
		fields[j].fn(p.v)
		d.key = outer
	}
}

func (d *decoder) mergeSources(v *yaml.Node) []*yaml.Node {
	v = d.resolve(v)
	if v == nil {
		return nil
	}
	switch v.Kind {
	case yaml.MappingNode:
		return []*yaml.Node{v}
	case yaml.SequenceNode:
		var out []*yaml.Node
		for _, c := range v.Content {
			if c = d.resolve(c); c != nil && c.Kind == yaml.MappingNode {
				out = append(out, c)
			} else if c != nil {
				d.errorf(c, "<< merges mappings, got %s", kindName(c))
			}
		}
		return out
	}
	d.errorf(v, "<< merges mappings, got %s", kindName(v))
	return nil
}

// scalar returns n as a non-null scalar, or reports what.
func (d *decoder) scalar(n *yaml.Node, what string) (*yaml.Node, bool) {
	n = d.resolve(n)
	if n == nil {
		return nil, false
	}
	if n.Kind != yaml.ScalarNode {
		d.errorf(n, "%s must be a single value, got %s", what, kindName(n))
		return nil, false
	}
	if isNull(n) {
		d.errorf(n, "%s has no value", what)
		return nil, false
	}
	return n, true
}

func (d *decoder) str(n *yaml.Node, what string, dst *string) {
	if s, ok := d.scalar(n, what); ok {
		*dst = s.Value
	}
}

func (d *decoder) strPtr(n *yaml.Node, what string, dst **string) {
	if s, ok := d.scalar(n, what); ok {
		v := s.Value
		*dst = &v
	}
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// secret is a string in which ${NAME} is replaced by the environment
// variable NAME (which must be set), so that secrets need not be written in
// the file.
func (d *decoder) secret(n *yaml.Node, what string, dst *Secret) {
	s, ok := d.scalar(n, what)
	if !ok {
		return
	}
	var missing []string
	v := envRef.ReplaceAllStringFunc(s.Value, func(m string) string {
		name := m[2 : len(m)-1]
		val, ok := d.getenv(name)
		if !ok {
			missing = append(missing, name)
		}
		return val
	})
	for _, m := range missing {
		d.errorf(s, "%s: environment variable %s is not set", what, m)
	}
	*dst = Secret(v)
}

func (d *decoder) boolean(n *yaml.Node, what string, dst *bool) {
	s, ok := d.scalar(n, what)
	if !ok {
		return
	}
	if s.Tag != "!!bool" {
		d.errorf(s, "%s must be true or false, got %s", what, kindName(s))
		return
	}
	*dst = s.Value == "true" || s.Value == "True" || s.Value == "TRUE"
}

func (d *decoder) boolPtr(n *yaml.Node, what string, dst **bool) {
	var b bool
	before := len(d.errs)
	d.boolean(n, what, &b)
	if len(d.errs) == before && !isNull(d.resolve(n)) {
		*dst = &b
	}
}

func (d *decoder) integer(n *yaml.Node, what string, min, max int64, dst *int) {
	s, ok := d.scalar(n, what)
	if !ok {
		return
	}
	v, err := strconv.ParseInt(s.Value, 0, 64)
	if s.Tag != "!!int" || err != nil {
		d.errorf(s, "%s must be a whole number, got %s", what, kindName(s))
		return
	}
	if v < min || v > max {
		d.errorf(s, "%s must be between %d and %d, got %d", what, min, max, v)
		return
	}
	*dst = int(v)
}

// number reads a number; its range is the rule of the package that uses
// it.
func (d *decoder) number(n *yaml.Node, what string, dst *float64) {
	s, ok := d.scalar(n, what)
	if !ok {
		return
	}
	v, err := strconv.ParseFloat(s.Value, 64)
	if (s.Tag != "!!float" && s.Tag != "!!int") || err != nil {
		d.errorf(s, "%s must be a number, got %s", what, s.Value)
		return
	}
	*dst = v
}

func (d *decoder) numberPtr(n *yaml.Node, what string, dst **float64) {
	var v float64
	before := len(d.errs)
	d.number(n, what, &v)
	if len(d.errs) == before && !isNull(d.resolve(n)) {
		*dst = &v
	}
}

func (d *decoder) duration(n *yaml.Node, what string, dst *time.Duration) {
	s, ok := d.scalar(n, what)
	if !ok {
		return
	}
	v, err := ParseDuration(s.Value)
	if err != nil {
		d.errorf(s, "%s: %v", what, err)
		return
	}
	*dst = v
}

func (d *decoder) durationPtr(n *yaml.Node, what string, dst **time.Duration) {
	var v time.Duration
	before := len(d.errs)
	d.duration(n, what, &v)
	if len(d.errs) == before && !isNull(d.resolve(n)) {
		*dst = &v
	}
}

func (d *decoder) size(n *yaml.Node, what string, dst *int64) {
	s, ok := d.scalar(n, what)
	if !ok {
		return
	}
	v, err := ParseSize(s.Value)
	if err != nil {
		d.errorf(s, "%s: %v", what, err)
		return
	}
	*dst = v
}

// list decodes a list of scalars; a single scalar is a list of one, so
// "methods: GET" and "methods: [GET, HEAD]" both work. It returns the item
// nodes for callers that place later errors on an item's line.
func (d *decoder) list(n *yaml.Node, what string, dst *[]string) []*yaml.Node {
	n = d.resolve(n)
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode {
		if s, ok := d.scalar(n, what); ok {
			*dst = []string{s.Value}
			return []*yaml.Node{s}
		}
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		d.errorf(n, "%s must be a list, got %s", what, kindName(n))
		return nil
	}
	out := []string{}
	var nodes []*yaml.Node
	for _, c := range n.Content {
		if s, ok := d.scalar(c, what+" item"); ok {
			d.remember(fmt.Sprintf("%s[%d]", what, len(out)), s)
			out = append(out, s.Value)
			nodes = append(nodes, s)
		}
	}
	*dst = out
	return nodes
}

// strMap decodes a mapping of names to scalars, returning each key's node.
func (d *decoder) strMap(n *yaml.Node, what string, dst *map[string]string) map[string]*yaml.Node {
	n = d.resolve(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.errorf(n, "%s must be a mapping, got %s", what, kindName(n))
		return nil
	}
	out := map[string]string{}
	lines := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, ok := d.scalar(n.Content[i], what+" key")
		if !ok {
			continue
		}
		if _, dup := out[k.Value]; dup {
			d.errorf(k, "%s: key %q appears twice", what, k.Value)
			continue
		}
		if v, ok := d.scalar(n.Content[i+1], fmt.Sprintf("%s %q", what, k.Value)); ok {
			d.remember(what+"."+k.Value, k)
			out[k.Value] = v.Value
			lines[k.Value] = k
		}
	}
	*dst = out
	return lines
}

// ParseDuration parses a Go duration ("90s", "5m", "1h30m") or a number of
// days ("7d"); it refuses negative values and bare numbers other than 0,
// whose unit would be a guess.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "0" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.ParseUint(days, 10, 16)
		if err != nil {
			return 0, fmt.Errorf("invalid duration %q (e.g. 90s, 5m, 1h, 7d)", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return 0, fmt.Errorf("duration %q needs a unit (e.g. %ss)", s, s)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (e.g. 90s, 5m, 1h, 7d)", s)
	}
	if v < 0 {
		return 0, fmt.Errorf("duration %q must not be negative", s)
	}
	return v, nil
}

var sizeUnits = map[string]int64{
	"": 1, "b": 1,
	"kb": 1000, "mb": 1000 * 1000, "gb": 1000 * 1000 * 1000, "tb": 1000 * 1000 * 1000 * 1000,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
	"k": 1 << 10, "m": 1 << 20, "g": 1 << 30,
}

// ParseSize parses a byte size: a whole number with an optional unit, B,
// KB/MB/GB/TB (powers of 1000) or KiB/MiB/GiB/TiB and K/M/G (powers of
// 1024): "256MiB", "1GB", "65536".
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '_') {
		i++
	}
	num, unit := strings.ReplaceAll(t[:i], "_", ""), strings.ToLower(strings.TrimSpace(t[i:]))
	mult, ok := sizeUnits[unit]
	if num == "" || !ok {
		return 0, fmt.Errorf("invalid size %q (e.g. 65536, 512KiB, 256MiB, 1GB)", s)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > (1<<62)/mult {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n * mult, nil
}

// suggest returns the candidate closest to s, when close enough to be a
// likely typo (fewer edits for short words).
func suggest(s string, candidates []string) string {
	return suggestpkg.Closest(s, candidates, min(len(s)/3+2, 3))
}

func lookupEnv(name string) (string, bool) { return os.LookupEnv(name) }
