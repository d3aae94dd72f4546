package metrics

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// promPath is the import path of the Prometheus client.
const promPath = "github.com/prometheus/client_golang/prometheus"

// metricName is what a metric of mailgw is called.
var metricName = regexp.MustCompile(`^mailgw_[a-z0-9_]+$`)

// sourceMetrics finds, in every non-test Go file of the repository that
// imports the Prometheus client, the names of the metrics it makes: the
// Name of a prometheus.*Opts literal (with its Namespace and Subsystem),
// the first argument of prometheus.NewDesc, and a "mailgw_…" literal
// given first to any other call (a helper that calls NewDesc). It fails
// the test for an Opts or NewDesc name that is not a literal or not
// mailgw_….
func sourceMetrics(t *testing.T, root string) map[string]string {
	found := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "vendor", "testdata", "node_modules", "out":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		prom := ""
		for _, im := range f.Imports {
			if p, _ := strconv.Unquote(im.Path.Value); p == promPath {
				prom = "prometheus"
				if im.Name != nil {
					prom = im.Name.Name
				}
			}
		}
		if prom == "" {
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		add := func(n ast.Node, name string, strict bool) {
			where := rel + ":" + strconv.Itoa(fset.Position(n.Pos()).Line)
			if !metricName.MatchString(name) {
				if strict {
					t.Errorf("%s: metric %q is not named mailgw_…", where, name)
				}
				return
			}
			found[name] = where
		}
		literal := func(e ast.Expr) (string, bool) {
			lit, ok := e.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return "", false
			}
			s, err := strconv.Unquote(lit.Value)
			return s, err == nil
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.CompositeLit:
				sel, ok := x.Type.(*ast.SelectorExpr)
				if !ok || !isPkg(sel.X, prom) || !strings.HasSuffix(sel.Sel.Name, "Opts") {
					return true
				}
				parts := map[string]string{}
				for _, el := range x.Elts {
					kv, ok := el.(*ast.KeyValueExpr)
					if !ok {
						continue
					}
					k, _ := kv.Key.(*ast.Ident)
					if k == nil || k.Name != "Name" && k.Name != "Namespace" && k.Name != "Subsystem" {
						continue
					}
					s, ok := literal(kv.Value)
					if !ok {
						t.Errorf("%s:%d: %s.%s's %s is not a string literal", rel, fset.Position(kv.Pos()).Line, prom, sel.Sel.Name, k.Name)
					}
					parts[k.Name] = s
				}
				if parts["Name"] == "" {
					return true // an Opts that names no metric (ProcessCollectorOpts, …)
				}
				var name []string
				for _, k := range []string{"Namespace", "Subsystem", "Name"} {
					if parts[k] != "" {
						name = append(name, parts[k])
					}
				}
				add(x, strings.Join(name, "_"), true)
			case *ast.CallExpr:
				if len(x.Args) == 0 {
					return true
				}
				s, ok := literal(x.Args[0])
				if sel, isSel := x.Fun.(*ast.SelectorExpr); isSel && isPkg(sel.X, prom) && sel.Sel.Name == "NewDesc" {
					if !ok {
						// a helper's parameter: its callers' literals count
						return true
					}
					add(x, s, true)
				} else if ok && strings.HasPrefix(s, "mailgw_") {
					add(x, s, false)
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func isPkg(e ast.Expr, name string) bool {
	id, ok := e.(*ast.Ident)
	return ok && id.Name == name
}

// TestEveryMetricDocumented: every metric the code makes, found in the
// source (sourceMetrics; checked against what a fully probed /metrics
// registry gathers, so the search cannot miss a kind of declaration
// this package uses), is in docs/monitoring.md's tables, and every
// metric the tables name exists.
func TestEveryMetricDocumented(t *testing.T) {
	found := sourceMetrics(t, "../..")

	m := New()
	m.SetSpoolProbe(func() (int, time.Time, error) { return 1, time.Now(), nil })
	m.SetJournalProbe(func() (int64, int64, error) { return 1, 1, nil })
	m.SetBusDropProbe(func() uint64 { return 1 })
	m.SetBusSubscribersProbe(func() int { return 1 })
	m.SetSpoolRefusedProbe(func() uint64 { return 1 })
	m.SetJournalDamageProbe(func() uint64 { return 1 })
	m.SetBusRefusedProbe(func() uint64 { return 1 })
	m.SetReplayProbe(func() (int, uint64, uint64) { return 1, 1, 1 })
	m.SetControlProbe(func() (int, int64, int64) { return 1, 1, 1 })
	m.SetDiskProbe(func() (DiskUsage, error) { return DiskUsage{Journal: map[string]int64{"database": 1}}, nil })
	m.SetAMQPProbe(func() AMQPStatus { return AMQPStatus{Connected: true} })
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	gathered := 0
	for _, f := range fams {
		if !strings.HasPrefix(f.GetName(), "mailgw_") {
			continue
		}
		gathered++
		if _, ok := found[f.GetName()]; !ok {
			t.Errorf("/metrics has %s, which the source search did not find", f.GetName())
		}
	}
	if gathered < 30 {
		t.Errorf("only %d mailgw_ metrics gathered", gathered)
	}

	doc, err := os.ReadFile("../../docs/monitoring.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `(mailgw_[a-z0-9_]+)` \\|").FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = true
	}
	var names []string
	for name := range found {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if !documented[name] {
			t.Errorf("%s (%s) has no row in docs/monitoring.md's tables", name, found[name])
		}
	}
	for name := range documented {
		if _, ok := found[name]; !ok {
			t.Errorf("docs/monitoring.md documents %s, which no code makes", name)
		}
	}
	t.Logf("%d metrics in the source (%d gathered from a probed registry), %d documented", len(found), gathered, len(documented))
}
