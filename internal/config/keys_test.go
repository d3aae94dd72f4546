package config

import (
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// key is one key of the configuration: its table ("" at the top, "smtp",
// "trust.dak") and its name. A table of its own (a struct, or a map such
// as endpoints) has table set to the table it is in and isTable set.
type key struct {
	table, name string
	isTable     bool
}

func (k key) full() string {
	if k.table == "" {
		return k.name
	}
	return k.table + "." + k.name
}

// configKeys walks typ's toml tags: every key Load accepts.
func configKeys(typ reflect.Type, table string) []key {
	var out []key
	for i := range typ.NumField() {
		f := typ.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "" || name == "-" {
			continue
		}
		ft := f.Type
		switch {
		case ft.Kind() == reflect.Struct && ft != reflect.TypeFor[Duration]():
			k := key{table, name, true}
			out = append(out, k)
			out = append(out, configKeys(ft, k.full())...)
		case ft.Kind() == reflect.Map:
			out = append(out, key{table, name, true})
		default:
			out = append(out, key{table, name, false})
		}
	}
	return out
}

// TestKeysDocumented: every key of Config (its toml tags, tables
// included) is in etc/mailgw.toml, as a "key = …" line (commented out
// where its default is computed) under its own [table] header, and is
// named in docs/config.md: as `table.key`, as `[table] key`, or as `key`
// in a paragraph or list item that names `[table]` (or `[table] key2`). A new key without
// its documentation fails here.
func TestKeysDocumented(t *testing.T) {
	keys := configKeys(reflect.TypeFor[Config](), "")
	if len(keys) < 70 {
		t.Fatalf("found %d keys in Config", len(keys))
	}

	example, err := os.ReadFile("../../etc/mailgw.toml")
	if err != nil {
		t.Fatal(err)
	}
	header := regexp.MustCompile(`^\[([a-z0-9_.]+)\]`)
	assign := regexp.MustCompile(`^(?:#\s*)?([a-z0-9_]+)\s*=`)
	inExample := map[string]bool{}
	table := ""
	for _, line := range strings.Split(string(example), "\n") {
		if m := header.FindStringSubmatch(line); m != nil {
			table = m[1]
			inExample["["+table+"]"] = true
			continue
		}
		if m := assign.FindStringSubmatch(line); m != nil {
			inExample[key{table, m[1], false}.full()] = true
		}
	}

	doc, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	// Paragraphs and list items.
	blocks := regexp.MustCompile(`\n\s*\n|\n- `).Split(string(doc), -1)
	named := func(k key) bool {
		if k.isTable {
			return strings.Contains(string(doc), "`["+k.full()+"]") || strings.Contains(string(doc), "`"+k.full()+"`")
		}
		if strings.Contains(string(doc), "`"+k.full()+"`") || k.table != "" && strings.Contains(string(doc), "`["+k.table+"] "+k.name+"`") {
			return true
		}
		for _, b := range blocks {
			if strings.Contains(b, "`"+k.name+"`") && (k.table == "" || strings.Contains(b, "`["+k.table+"]")) {
				return true
			}
		}
		return false
	}

	for _, k := range keys {
		where := k.full()
		if k.isTable {
			where = "[" + k.full() + "]"
		}
		if !inExample[where] {
			t.Errorf("etc/mailgw.toml has no %s", map[bool]string{true: "table " + where, false: "line for " + where}[k.isTable])
		}
		if !named(k) {
			t.Errorf("docs/config.md does not name %s", where)
		}
	}
	t.Logf("%d keys and tables checked", len(keys))
}
