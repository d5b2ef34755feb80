package deploy_test

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/idemsum/idemsum/internal/testenv"
	promql "github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"
)

// TestAlertRules has promtool check deploy/prometheus/alerts.yml and run
// its unit tests, alerts_test.yml (docs/operations.md#alerts).
func TestAlertRules(t *testing.T) {
	t.Parallel()
	promtool := needTool(t, "promtool", "prometheus")
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = "prometheus"
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TestAlertsAndDashboardReadExportedMetrics parses every expression of
// the alerting rules and the dashboard with Prometheus's own parser and
// wants each metric it reads to be one sumd exports: those a running sumd
// shows on /metrics after an addition, a read and a refusal, with tokens
// on, plus every metric the source registers (some appear only after a
// first event, such as a Redis error).
func TestAlertsAndDashboardReadExportedMetrics(t *testing.T) {
	t.Parallel()
	exprs := append(ruleExprs(t), dashboardExprs(t)...)
	exported := sourceMetrics(t)
	for name := range scrapedMetrics(t) {
		exported[name] = true
	}
	exported["up"] = true // Prometheus's own, per scrape target
	p := promql.NewParser(promql.Options{})
	for _, e := range exprs {
		expr, err := p.ParseExpr(grafanaVars.Replace(e.expr))
		if err != nil {
			t.Errorf("%s: %v\n%s", e.where, err, e.expr)
			continue
		}
		read := 0
		promql.Inspect(expr, func(n promql.Node, _ []promql.Node) error {
			if vs, ok := n.(*promql.VectorSelector); ok {
				read++
				if !exported[vs.Name] {
					t.Errorf("%s reads %q, which sumd does not export", e.where, vs.Name)
				}
			}
			return nil
		})
		if read == 0 {
			t.Errorf("%s reads no metric: %s", e.where, e.expr)
		}
	}
}

// grafanaVars replaces Grafana's interval variables by a duration, so
// that a dashboard's expressions parse as PromQL.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h")

// expression is a PromQL expression and where it was found.
type expression struct{ where, expr string }

// ruleExprs returns the expression of every rule in alerts.yml.
func ruleExprs(t *testing.T) []expression {
	t.Helper()
	raw, err := os.ReadFile("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	var rules struct {
		Groups []struct {
			Rules []struct{ Alert, Record, Expr string }
		}
	}
	if err := yaml.Unmarshal(raw, &rules); err != nil {
		t.Fatalf("alerts.yml: %v", err)
	}
	var out []expression
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			out = append(out, expression{"alert " + r.Alert + r.Record, r.Expr})
		}
	}
	if len(out) == 0 {
		t.Fatal("alerts.yml holds no rule")
	}
	return out
}

// dashboardPanel is the part of a Grafana panel that holds queries.
type dashboardPanel struct {
	Title   string
	Targets []struct{ Expr string }
	Panels  []dashboardPanel // a collapsed row's
}

// dashboardExprs returns every query of dashboard.json: the panels'
// targets and the metric selector of each label_values() variable.
func dashboardExprs(t *testing.T) []expression {
	t.Helper()
	raw, err := os.ReadFile("prometheus/dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels     []dashboardPanel
		Templating struct {
			List []struct {
				Name       string
				Definition string
			}
		}
	}
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("dashboard.json: %v", err)
	}
	var out []expression
	var walk func([]dashboardPanel)
	walk = func(ps []dashboardPanel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				out = append(out, expression{"dashboard panel " + strconv.Quote(p.Title), tg.Expr})
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	labelValues := regexp.MustCompile(`^label_values\((.+),\s*\w+\)$`)
	for _, v := range d.Templating.List {
		if m := labelValues.FindStringSubmatch(v.Definition); m != nil {
			out = append(out, expression{"dashboard variable " + v.Name, m[1]})
		}
	}
	if len(out) == 0 {
		t.Fatal("dashboard.json holds no query")
	}
	return out
}

// sourceMetrics returns the name of every metric the main module's
// non-test code registers: each prometheus.*Opts literal's Name (with the
// series names a histogram or summary adds).
func sourceMetrics(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	root := repoRoot(t)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || path == filepath.Join(root, "deploy")) {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		ast.Inspect(f, func(n ast.Node) bool {
			if name, kind := metricOpts(n); name != "" {
				for _, s := range seriesSuffixes[kind] {
					names[name+s] = true
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !names["idemsum_requests_total"] {
		t.Fatalf("found no idemsum_requests_total in the source: the scan is broken (found %v)", names)
	}
	return names
}

// seriesSuffixes are the series names each kind of metric exports.
var seriesSuffixes = map[string][]string{
	"CounterOpts":   {""},
	"GaugeOpts":     {""},
	"UntypedOpts":   {""},
	"HistogramOpts": {"_bucket", "_sum", "_count"},
	"SummaryOpts":   {"", "_sum", "_count"},
}

// metricOpts returns the Name and kind of a prometheus.*Opts literal
// whose Name is a string literal; "" otherwise.
func metricOpts(n ast.Node) (name, kind string) {
	lit, ok := n.(*ast.CompositeLit)
	if !ok {
		return "", ""
	}
	sel, ok := lit.Type.(*ast.SelectorExpr)
	if !ok {
		return "", ""
	}
	if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "prometheus" || seriesSuffixes[sel.Sel.Name] == nil {
		return "", ""
	}
	for _, el := range lit.Elts {
		kv, ok := el.(*ast.KeyValueExpr)
		if !ok {
			continue
		}
		if key, ok := kv.Key.(*ast.Ident); !ok || key.Name != "Name" {
			continue
		}
		if s, ok := kv.Value.(*ast.BasicLit); ok && s.Kind == token.STRING {
			v, _ := strconv.Unquote(s.Value)
			return v, sel.Sel.Name
		}
	}
	return "", ""
}

// scrapedMetrics starts the sumd built from this tree with tokens on,
// adds, reads and is refused once, and returns every series name its
// /metrics shows.
func scrapedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	settings := services(t)
	bin := sumdBinary(t)
	out, err := exec.Command(bin, "token", "dashboard").Output()
	lines := strings.Split(string(out), "\n")
	if err != nil || len(lines) < 2 {
		t.Fatalf("sumd token: %v\n%s", err, out)
	}
	file := filepath.Join(t.TempDir(), "tokens.txt")
	if err := os.WriteFile(file, []byte(lines[1]+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	settings["SUM_AUTH_TOKENS"] = file
	cmd := exec.Command(bin)
	cmd.Env = envList(settings)
	in := start(t, cmd, settings["SUM_HTTP_ADDR"])
	for _, r := range []struct{ method, path, token string }{
		{http.MethodPost, "/sum?number=1&key=k-" + testenv.Unique(), lines[0]},
		{http.MethodGet, "/sum", lines[0]},
		{http.MethodPost, "/sum?number=1", ""},
		{http.MethodGet, "/readyz", ""},
	} {
		req, _ := http.NewRequest(r.method, in.URL+r.path, nil)
		if r.token != "" {
			req.Header.Set("Authorization", "Bearer "+r.token)
		}
		if _, _, err := do(req); err != nil {
			t.Fatalf("%s %s: %v", r.method, r.path, err)
		}
	}
	status, body, err := get(in.URL + "/metrics")
	if err != nil || status != http.StatusOK {
		t.Fatalf("GET /metrics: %d %v\n%s", status, err, body)
	}
	names := map[string]bool{}
	typeLine := regexp.MustCompile(`(?m)^# TYPE (\S+) (\S+)$`)
	for _, m := range typeLine.FindAllStringSubmatch(body, -1) {
		kind := map[string]string{"histogram": "HistogramOpts", "summary": "SummaryOpts"}[m[2]]
		if kind == "" {
			kind = "CounterOpts"
		}
		for _, s := range seriesSuffixes[kind] {
			names[m[1]+s] = true
		}
	}
	if !names["idemsum_client_requests_total"] || !names["go_goroutines"] {
		t.Fatalf("/metrics lacks idemsum_client_requests_total or go_goroutines:\n%s", body)
	}
	return names
}
