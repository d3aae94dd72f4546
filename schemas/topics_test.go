package schemas_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"text/template"
	"unicode/utf8"

	"github.com/debian/mailgw/internal/corpustest"
	"github.com/debian/mailgw/schemas"
)

var update = flag.Bool("update", false, "rewrite docs/topics.md from the schemas and the golden mails")

// TestTopicsDoc: docs/topics.md is what the schemas, topics.md.tmpl and
// the golden mails make of it (-update rewrites it), and it has a section
// with a field table and a real example for every topic schema.
func TestTopicsDoc(t *testing.T) {
	got := topicsDoc(t)
	path := filepath.Join(corpustest.Root(), "docs", "topics.md")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Fatalf("docs/topics.md is stale at line %d:\n got %s\nwant %s\n(go test ./schemas -run TestTopicsDoc -update)", i+1, gl[i], wl[i])
			}
		}
		t.Fatalf("docs/topics.md is stale: %d lines, want %d (go test ./schemas -run TestTopicsDoc -update)", len(gl), len(wl))
	}
	for _, in := range schemas.All() {
		if in.Name == schemas.Envelope || in.Name == schemas.Common {
			continue
		}
		title, _ := in.Doc["title"].(string)
		if !strings.Contains(string(got), "## `"+title+"`\n") {
			t.Errorf("no section for %s", title)
		}
	}
	if n := strings.Count(string(got), "\n```json\n"); n != len(schemas.All())-2 {
		t.Errorf("%d examples for %d topic schemas", n, len(schemas.All())-2)
	}
}

// topicDoc is one topic's section.
type topicDoc struct {
	Name, Pattern, Anchor, Version, EntryPoint, Description, Table, Example, ExampleFrom string
}

func topicsDoc(t *testing.T) []byte {
	tmpl, err := template.ParseFiles("topics.md.tmpl")
	if err != nil {
		t.Fatal(err)
	}
	examples := map[string]corpustest.Envelope{}
	for _, e := range corpustest.Envelopes(t, corpustest.Golden(t)) {
		name, _ := schemas.Name(e.Env.Topic)
		if _, ok := examples[name]; !ok {
			examples[name] = e
		}
	}
	data := struct {
		IDBase                      string
		Envelope, Common            schemas.Info
		Topics                      []topicDoc
		Mail, Mailgw, EnvelopeTable string
	}{IDBase: schemas.IDBase}
	for _, in := range schemas.All() {
		switch in.Name {
		case schemas.Envelope:
			data.Envelope = in
			data.EnvelopeTable = table(schemas.Declared(in.Name), nil)
			continue
		case schemas.Common:
			data.Common = in
			continue
		}
		pattern, _ := in.Doc["title"].(string)
		desc, _ := in.Doc["description"].(string)
		fields := schemas.Declared(in.Name)
		data.Mail = table(fields.Props["mail"], nil)
		data.Mailgw = table(fields.Props["mailgw"], nil)
		td := topicDoc{
			Name: in.Name, Pattern: pattern, Anchor: anchor(pattern), Version: in.Version,
			EntryPoint:  schemas.EntryPoint(strings.NewReplacer("KEYWORD", "upload-source", "TYPE", "report").Replace(pattern)),
			Description: desc, Table: table(fields, map[string]bool{"mail": true, "mailgw": true}),
		}
		if strings.Contains(pattern, "KEYWORD") || strings.Contains(pattern, "TYPE") {
			td.EntryPoint = "mailgw." + strings.ToLower(pattern) + ".v" + strings.Split(in.Version, ".")[0]
			td.EntryPoint = strings.NewReplacer(".keyword.", ".KEYWORD.", ".type.", ".TYPE.").Replace(td.EntryPoint)
		}
		if e, ok := examples[in.Name]; ok {
			td.ExampleFrom = "`testdata/mails/" + e.Mail + "`, topic `" + e.Env.Topic + "`"
			td.Example = example(t, e.Body)
		}
		data.Topics = append(data.Topics, td)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, data); err != nil {
		t.Fatal(err)
	}
	return bytes.ReplaceAll(b.Bytes(), []byte("\n\n\n"), []byte("\n\n"))
}

// table is the Markdown field table of f's members, nested objects and
// arrays of objects as NAME.MEMBER and NAME[].MEMBER rows.
func table(f schemas.Fields, skip map[string]bool) string {
	var b strings.Builder
	b.WriteString("| field | type | | meaning |\n|---|---|---|---|\n")
	var rows func(f schemas.Fields, prefix string)
	rows = func(f schemas.Fields, prefix string) {
		for _, k := range f.Names() {
			if skip[k] && prefix == "" {
				continue
			}
			p := f.Props[k]
			req := "optional"
			switch with := f.RequiredWith[k]; {
			case f.Always(k):
				req = "always"
			case len(with) > 0:
				req = "with `" + strings.Join(slices.Sorted(slices.Values(with)), "`, `") + "`"
			}
			desc := p.Description
			if len(p.Enum) > 0 {
				desc += " (one of `" + strings.Join(p.Enum, "`, `") + "`)"
			}
			fmt.Fprintf(&b, "| `%s%s` | %s | %s | %s |\n", prefix, k, p.Type, req, strings.ReplaceAll(desc, "|", "\\|"))
			switch {
			case len(p.Props) > 0:
				rows(p, prefix+k+".")
			case p.Items != nil && len(p.Items.Props) > 0:
				rows(*p.Items, prefix+k+"[].")
			}
		}
	}
	rows(f, "")
	return b.String()
}

// example is the msg of an envelope as indented JSON, long strings and
// lists shortened.
func example(t *testing.T, body []byte) string {
	var env struct{ Msg any }
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(shorten(env.Msg)); err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(b.String())
}

func shorten(v any) any {
	switch x := v.(type) {
	case string:
		if utf8.RuneCountInString(x) > 120 {
			return string([]rune(x)[:120]) + "…"
		}
	case []any:
		if len(x) > 3 {
			x = x[:3]
		}
		out := make([]any, len(x))
		for i := range x {
			out[i] = shorten(x[i])
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = shorten(e)
		}
		return out
	}
	return v
}

// anchor is the anchor GitHub and most Markdown renderers give a heading.
func anchor(heading string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}
