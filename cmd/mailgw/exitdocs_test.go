package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// exitCodes returns the exit codes exit.go defines, read from its source
// so that a new constant is covered without touching this test.
func exitCodes(t *testing.T) map[int]string {
	f, err := parser.ParseFile(token.NewFileSet(), "exit.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	codes := map[int]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range vs.Names {
			lit, ok := vs.Values[i].(*ast.BasicLit)
			if !ok || lit.Kind != token.INT {
				t.Fatalf("exit.go: %s is not an integer literal", name.Name)
			}
			v, _ := strconv.Atoi(lit.Value)
			codes[v] = name.Name
		}
		return true
	})
	if len(codes) < 5 {
		t.Fatalf("exit.go defines %d codes", len(codes))
	}
	return codes
}

// helpCodes returns the codes a command's "Exit status:" paragraph names.
func helpCodes(c *cobra.Command) []int {
	_, text, ok := strings.Cut(c.Long, "Exit status:")
	if !ok {
		return nil
	}
	var out []int
	for _, m := range regexp.MustCompile(`(?:^|;)\s*(\d+)\b`).FindAllStringSubmatch(text, -1) {
		n, _ := strconv.Atoi(m[1])
		out = append(out, n)
	}
	return out
}

// TestExitCodesDocumented: every code of exit.go is in the EXIT STATUS of
// docs/man/mailgw.8.in and in the table of docs/errors.md; every
// command's help (its man page) ends with an "Exit status:" paragraph
// that names only codes of exit.go; and the table's "used by" column
// names each command for exactly the codes its help names ("all" and
// "every command" count for every command, "every command but X" for
// every other one).
func TestExitCodesDocumented(t *testing.T) {
	codes := exitCodes(t)
	man, err := os.ReadFile("../../docs/man/mailgw.8.in")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := os.ReadFile("../../docs/errors.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(doc), "## Exit codes of every command")
	usedBy := map[int]string{}
	for _, m := range regexp.MustCompile(`(?m)^\| (\d+) \| [^|]+ \| ([^\n]+) \|$`).FindAllStringSubmatch(section, -1) {
		n, _ := strconv.Atoi(m[1])
		usedBy[n] = m[2]
	}
	for code, name := range codes {
		if !strings.Contains(string(man), ".B "+strconv.Itoa(code)+"\n") {
			t.Errorf("docs/man/mailgw.8.in EXIT STATUS lacks %d (%s)", code, name)
		}
		if _, ok := usedBy[code]; !ok {
			t.Errorf("docs/errors.md's exit code table lacks %d (%s)", code, name)
		}
	}
	for code := range usedBy {
		if _, ok := codes[code]; !ok {
			t.Errorf("docs/errors.md documents exit code %d, which exit.go does not define", code)
		}
	}

	// names reports whether the "used by" text of a row covers command
	// word w: "all", "every command" (but X), or an entry "w (…)" of its
	// comma-separated list.
	everyRe := regexp.MustCompile(`^(?:all\b|every command\b)`)
	names := func(row, w string) bool {
		if everyRe.MatchString(row) {
			if m := regexp.MustCompile(`^every command but (\w+)`).FindStringSubmatch(row); m != nil {
				return m[1] != w
			}
			return true
		}
		for _, e := range topLevelList(row) {
			if first, _, _ := strings.Cut(e, " "); first == w {
				return true
			}
		}
		return false
	}
	root := newRootCmd()
	claimed := map[string][]int{} // top-level command word -> codes
	for _, path := range allCommands() {
		if len(path) == 0 || path[0] == "completion" {
			continue // the root only dispatches; completion is cobra's
		}
		c, _, err := root.Find(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Commands()) > 0 {
			continue // a group: its subcommands run
		}
		got := helpCodes(c)
		if len(got) == 0 {
			t.Errorf("mailgw %s: its help has no \"Exit status:\" paragraph with codes", strings.Join(path, " "))
		}
		for _, code := range got {
			if _, ok := codes[code]; !ok {
				t.Errorf("mailgw %s: its help names exit code %d, which exit.go does not define", strings.Join(path, " "), code)
			}
			if !slices.Contains(claimed[path[0]], code) {
				claimed[path[0]] = append(claimed[path[0]], code)
			}
		}
	}
	for w, cs := range claimed {
		for code, row := range usedBy {
			switch claims, listed := slices.Contains(cs, code), names(row, w); {
			case claims && !listed:
				t.Errorf("docs/errors.md: exit code %d is not listed for %s, whose help names it", code, w)
			case listed && !claims && !everyRe.MatchString(row):
				t.Errorf("docs/errors.md: exit code %d lists %s, whose help does not name it", code, w)
			}
		}
	}
	t.Logf("%d exit codes, %d commands", len(codes), len(claimed))
}

// topLevelList splits s at the commas outside parentheses, each part
// trimmed.
func topLevelList(s string) []string {
	var out []string
	depth, start := 0, 0
	for i, r := range s {
		switch r {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, strings.TrimSpace(s[start:i]))
				start = i + 1
			}
		}
	}
	return append(out, strings.TrimSpace(s[start:]))
}
