package auth

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/debian/mailgw/schemas"
)

// TestResultsDocumented: the DKIM results this package declares (the
// Result constants of auth.go) are exactly the values the schema allows
// for msg.mail.auth.dkim[].result, and docs/trust.md names each of them.
func TestResultsDocumented(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "auth.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var consts []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || len(vs.Values) != 1 || !strings.HasPrefix(vs.Names[0].Name, "Result") {
			return true
		}
		lit, ok := vs.Values[0].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			t.Fatalf("%s is not a string literal", vs.Names[0].Name)
		}
		v, _ := strconv.Unquote(lit.Value)
		consts = append(consts, v)
		return true
	})
	if len(consts) < 5 {
		t.Fatalf("found %d Result constants in auth.go: %v", len(consts), consts)
	}

	mail := schemas.Declared("debbugs.bug.report").Props["mail"]
	dkim := mail.Props["auth"].Props["dkim"]
	if dkim.Items == nil {
		t.Fatal("the schema declares no msg.mail.auth.dkim[] items")
	}
	enum := dkim.Items.Props["result"].Enum
	a, b := slices.Sorted(slices.Values(consts)), slices.Sorted(slices.Values(enum))
	if !slices.Equal(a, b) {
		t.Errorf("auth.go's results %v, the schema's enum %v", a, b)
	}

	trust, err := os.ReadFile("../../docs/trust.md")
	if err != nil {
		t.Fatal(err)
	}
	_, after, _ := strings.Cut(string(trust), "`dkim`: every DKIM-Signature")
	para, _, _ := strings.Cut(after, "\n\n")
	for _, r := range consts {
		if !strings.Contains(para, "`"+r+"`") {
			t.Errorf("docs/trust.md's paragraph on msg.mail.auth.dkim does not name the result `%s`", r)
		}
	}
}
