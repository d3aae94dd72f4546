package events_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/debian/mailgw/events"
	"github.com/debian/mailgw/internal/corpustest"
	"github.com/debian/mailgw/schemas"
	"github.com/google/go-cmp/cmp"
)

// TestDecodeEveryEnvelope: every envelope of the golden mails, the .log
// records and the fuzz seeds decodes into its topic's struct, and that
// struct encodes back to the same msg: no field is lost or changed.
func TestDecodeEveryEnvelope(t *testing.T) {
	mails := append(corpustest.Golden(t), corpustest.Logs(t)...)
	mails = append(mails, corpustest.FuzzSeeds(t)...)
	types := map[string]bool{}
	envs := corpustest.Envelopes(t, mails)
	for _, e := range envs {
		var env struct {
			Topic string
			Msg   json.RawMessage
		}
		if err := json.Unmarshal(e.Body, &env); err != nil {
			t.Fatal(err)
		}
		ev, err := events.Decode(env.Topic, env.Msg)
		if err != nil {
			t.Errorf("%s: %v", e.Mail, err)
			continue
		}
		types[reflect.TypeOf(ev).Elem().Name()] = true
		if got, want := ev.Base().Mailgw.Summary, e.Env.Msg["mailgw"].(map[string]any)["summary"]; got != want || got == "" {
			t.Errorf("%s: summary %q, want %q", e.Mail, got, want)
		}
		again, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		var a, b any
		_ = json.Unmarshal(env.Msg, &a)
		_ = json.Unmarshal(again, &b)
		if d := cmp.Diff(prune(a), prune(b)); d != "" {
			t.Errorf("%s %s: decoded and encoded again differs (-msg +struct):\n%s", e.Mail, env.Topic, d)
		}
	}
	if len(types) < 17 || len(envs) < 250 {
		t.Errorf("%d envelopes of %d types", len(envs), len(types))
	}
}

// prune drops the members that hold nothing (null, "", [], {}) at every
// depth: an optional field the struct omits when empty.
func prune(v any) any {
	switch x := v.(type) {
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			e = prune(e)
			switch y := e.(type) {
			case nil:
				continue
			case string:
				if y == "" {
					continue
				}
			case []any:
				if len(y) == 0 {
					continue
				}
			case map[string]any:
				if len(y) == 0 {
					continue
				}
			}
			out[k] = e
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = prune(x[i])
		}
		return out
	}
	return v
}

// TestStructsMatchSchemas: the JSON names of each struct (embedded
// structs flattened), and of the structs of its object fields, are the
// members its schema declares: a field added to a schema needs one here.
func TestStructsMatchSchemas(t *testing.T) {
	for _, in := range schemas.All() {
		if in.Name == schemas.Envelope || in.Name == schemas.Common {
			continue
		}
		topic := strings.NewReplacer("KEYWORD", "bts", "TYPE", "report").Replace(in.Doc["title"].(string))
		ev, err := events.Decode(topic, []byte("{}"))
		if err == nil || ev != nil {
			t.Errorf("%s: {} decoded", topic)
		}
		typ := events.TypeOf(topic)
		if typ == nil {
			t.Errorf("%s: no struct", topic)
			continue
		}
		compare(t, in.Name, typ, schemas.Declared(in.Name))
	}
}

// compare checks typ's JSON names against f's members, recursing into
// struct-typed fields and slices of structs.
func compare(t *testing.T, where string, typ reflect.Type, f schemas.Fields) {
	t.Helper()
	fields := jsonFields(typ)
	if _, ok := f.Props["auth"]; !ok && typ == reflect.TypeFor[events.Mail]() {
		delete(fields, "auth") // debmessenger's mail has none: nil there
	}
	var names, props []string
	for k := range fields {
		names = append(names, k)
	}
	for k := range f.Props {
		props = append(props, k)
	}
	sort.Strings(names)
	sort.Strings(props)
	if d := cmp.Diff(props, names); d != "" {
		t.Errorf("%s: schema members (-) and struct fields (+) differ:\n%s", where, d)
	}
	for k, ft := range fields {
		p, ok := f.Props[k]
		if !ok {
			continue
		}
		for ft.Kind() == reflect.Pointer || ft.Kind() == reflect.Slice {
			ft = ft.Elem()
			if p.Items != nil {
				p = *p.Items
			}
		}
		if ft.Kind() == reflect.Struct && len(p.Props) > 0 {
			compare(t, where+"."+k, ft, p)
		}
	}
}

// jsonFields maps the JSON names of typ's fields to their types.
func jsonFields(typ reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := range typ.NumField() {
		sf := typ.Field(i)
		if sf.Anonymous {
			for k, v := range jsonFields(sf.Type) {
				out[k] = v
			}
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name != "-" {
			out[name] = sf.Type
		}
	}
	return out
}

// TestDecodeErrors: a foreign topic and a msg that breaks its schema are
// clear errors.
func TestDecodeErrors(t *testing.T) {
	if _, err := events.Decode("org.fedoraproject.prod.bodhi.update.comment", []byte(`{}`)); !errors.Is(err, events.ErrUnknownTopic) {
		t.Errorf("foreign topic: %v", err)
	}
	_, err := events.Decode("org.debian.prod.debbugs.bug.report", []byte(`{"bug":"12"}`))
	if err == nil || !strings.Contains(err.Error(), "debbugs.bug.report") || !strings.Contains(err.Error(), "/bug") {
		t.Errorf("bad msg: %v", err)
	}
	if _, err := events.Decode("org.debian.prod.dak.package.upload", []byte(`{"source":`)); err == nil {
		t.Error("truncated JSON decoded")
	}
}
