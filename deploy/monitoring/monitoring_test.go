package monitoring_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"

	"github.com/cachegate/cachegate/internal/nodetest"
	"github.com/cachegate/cachegate/purge/cloudflare/cloudflarefake"
)

const (
	alertsFile    = "../prometheus/alerts.yml"
	dashboardFile = "../grafana/cachegate.json"
	schemaFile    = "../grafana/dashboard.schema.json"
)

// TestAlertRulesPassPromtool: promtool, Prometheus' own checker, accepts the
// rules file.
func TestAlertRulesPassPromtool(t *testing.T) {
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not installed: install the Debian package prometheus (make deps does)")
	}
	out, err := exec.Command(bin, "check", "rules", alertsFile).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
	// promtool passes an empty file too: the alerts the operators rely on
	// must be there.
	rules := loadRules(t)
	for _, want := range []string{"CachegateEventBacklogStale", "CachegatePurgeFailed", "CachegatePurgeStuck",
		"CachegateHitRatioDrop", "CachegateL2Down", "CachegateInstanceMissingAcks"} {
		if _, ok := rules.alerts[want]; !ok {
			t.Errorf("alert %s is missing", want)
		}
	}
}

type ruleFile struct {
	alerts  map[string]string // alert name -> expr
	records map[string]string
}

func loadRules(t *testing.T) ruleFile {
	t.Helper()
	b, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct{ Alert, Record, Expr string }
		}
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	r := ruleFile{alerts: map[string]string{}, records: map[string]string{}}
	for _, g := range f.Groups {
		for _, rule := range g.Rules {
			if rule.Alert != "" {
				r.alerts[rule.Alert] = rule.Expr
			} else {
				r.records[rule.Record] = rule.Expr
			}
		}
	}
	return r
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("dashboard.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("dashboard.schema.json")
	if err != nil {
		t.Fatalf("the dashboard schema does not compile: %v", err)
	}
	return s
}

func loadJSON(t *testing.T, b []byte) any {
	t.Helper()
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// dashboard is what the structure checks read.
type dashboard struct {
	Panels []struct {
		ID      int
		Type    string
		Title   string
		GridPos struct{ H, W, X, Y int }
		Targets []struct{ RefID, Expr string }
	}
}

// checkLayout reports what the schema cannot: ids unique, panels inside
// the 24-column grid and not overlapping.
func checkLayout(d dashboard) []string {
	var problems []string
	ids := map[int]bool{}
	type cell struct{ x, y int }
	taken := map[cell]string{}
	for _, p := range d.Panels {
		if ids[p.ID] {
			problems = append(problems, fmt.Sprintf("panel id %d twice", p.ID))
		}
		ids[p.ID] = true
		if p.GridPos.X+p.GridPos.W > 24 {
			problems = append(problems, fmt.Sprintf("panel %q is wider than the grid", p.Title))
		}
		for x := p.GridPos.X; x < p.GridPos.X+p.GridPos.W; x++ {
			for y := p.GridPos.Y; y < p.GridPos.Y+p.GridPos.H; y++ {
				if other, ok := taken[cell{x, y}]; ok {
					problems = append(problems, fmt.Sprintf("panels %q and %q overlap", other, p.Title))
					x, y = 1<<30, 1<<30 // one report per pair is enough
					continue
				}
				taken[cell{x, y}] = p.Title
			}
		}
	}
	return problems
}

// TestDashboardIsValid: the dashboard is valid against the schema, and the
// schema and layout checks catch a broken one.
func TestDashboardIsValid(t *testing.T) {
	s := compileSchema(t)
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Validate(loadJSON(t, b)); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	if p := checkLayout(d); len(p) > 0 {
		t.Errorf("%s: %s", dashboardFile, strings.Join(p, "; "))
	}

	broken := []struct{ name, doc string }{
		{"no title", `{"uid":"x","schemaVersion":39,"time":{"from":"now-1h","to":"now"},"templating":{"list":[]},"panels":[{"id":1,"type":"row","title":"r","gridPos":{"h":1,"w":24,"x":0,"y":0},"panels":[],"collapsed":false}]}`},
		{"panel without a query", `{"title":"t","uid":"x","schemaVersion":39,"time":{"from":"now-1h","to":"now"},"templating":{"list":[]},"panels":[{"id":1,"type":"timeseries","title":"p","gridPos":{"h":8,"w":8,"x":0,"y":0},"datasource":{"type":"prometheus","uid":"x"},"targets":[]}]}`},
		{"too wide", `{"title":"t","uid":"x","schemaVersion":39,"time":{"from":"now-1h","to":"now"},"templating":{"list":[]},"panels":[{"id":1,"type":"row","title":"r","gridPos":{"h":1,"w":25,"x":0,"y":0},"panels":[],"collapsed":false}]}`},
		{"unknown panel type", `{"title":"t","uid":"x","schemaVersion":39,"time":{"from":"now-1h","to":"now"},"templating":{"list":[]},"panels":[{"id":1,"type":"graph2","title":"p","gridPos":{"h":8,"w":8,"x":0,"y":0}}]}`},
	}
	for _, c := range broken {
		if err := s.Validate(loadJSON(t, []byte(c.doc))); err == nil {
			t.Errorf("the schema accepts a dashboard with %s", c.name)
		}
	}
	overlap := dashboard{Panels: d.Panels[:2:2]}
	overlap.Panels = append(overlap.Panels, d.Panels[1])
	overlap.Panels[2].ID = 99
	if len(checkLayout(overlap)) == 0 {
		t.Error("the layout check accepts two panels in one place")
	}
}

// metricRE finds metric names in PromQL; recording rules (with a colon)
// and label values in quotes do not match.
var metricRE = regexp.MustCompile(`\bcachegate_[a-z0-9_]+\b`)

// referencedMetrics are the metric families the rules and the dashboard
// query, a histogram's _bucket, _sum and _count as the histogram.
func referencedMetrics(t *testing.T) map[string][]string {
	t.Helper()
	refs := map[string][]string{}
	add := func(where, expr string) {
		for _, m := range metricRE.FindAllString(expr, -1) {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				if strings.HasSuffix(m, "_seconds"+suffix) {
					m = strings.TrimSuffix(m, suffix)
				}
			}
			refs[m] = append(refs[m], where)
		}
	}
	rules := loadRules(t)
	for name, expr := range rules.alerts {
		add("alert "+name, expr)
	}
	for name, expr := range rules.records {
		add("record "+name, expr)
	}
	b, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			add("panel "+p.Title, tg.Expr)
		}
	}
	return refs
}

// TestMonitoringNamesServedMetrics: every metric the alert rules and the
// dashboard query is on a node's /metrics right after it started (with a
// CDN configured: the purge metrics exist only with one), so no panel stays
// empty and no alert silently never fires because of a typo or a rename.
func TestMonitoringNamesServedMetrics(t *testing.T) {
	refs := referencedMetrics(t)
	if len(refs) < 15 {
		t.Fatalf("only %d metrics found in the rules and dashboard: is the parsing broken?", len(refs))
	}
	fake := cloudflarefake.New("cf-monitoring-test-token")
	t.Cleanup(fake.Close)
	f := nodetest.CloudflareFile(t, fake.URL(), "cf-monitoring-test-token")
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	t.Cleanup(origin.Close)
	n := nodetest.Start(t, nodetest.Options{Origin: origin.URL, File: f})

	req, _ := http.NewRequest(http.MethodGet, n.AdminURL+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+nodetest.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	served := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (\S+) `).FindAllStringSubmatch(string(body), -1) {
		served[m[1]] = true
	}
	var missing []string
	for name, where := range refs {
		if !served[name] {
			missing = append(missing, fmt.Sprintf("%s (%s)", name, strings.Join(where, ", ")))
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("named by the monitoring but not served by a node:\n  %s", strings.Join(missing, "\n  "))
	}
}
