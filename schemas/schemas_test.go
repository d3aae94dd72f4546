package schemas_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/debian/mailgw/internal/corpustest"
	"github.com/debian/mailgw/schemas"
)

// TestEnvelopesValidate: every envelope of every golden mail, of every
// record of the debbugs .log files replay reads, and of every parser
// fuzz seed that yields events validates against the envelope's schema
// and its topic's schema, and every topic has a schema.
func TestEnvelopesValidate(t *testing.T) {
	for _, set := range []struct {
		name  string
		mails []corpustest.Mail
		min   int
	}{
		{"golden", corpustest.Golden(t), 150},
		{"logs", corpustest.Logs(t), 10},
		{"fuzz seeds", corpustest.FuzzSeeds(t), 1},
	} {
		envs := corpustest.Envelopes(t, set.mails)
		for _, e := range envs {
			if err := schemas.Validate(e.Body); err != nil {
				t.Errorf("%s: %s: %v", e.Mail, e.Env.Topic, err)
			}
		}
		if len(envs) < set.min {
			t.Errorf("%s: %d envelopes, want at least %d", set.name, len(envs), set.min)
		}
		t.Logf("%s: %d mails, %d envelopes", set.name, len(set.mails), len(envs))
	}
}

// TestFieldsDeclared: every member of every golden envelope's msg, at
// every depth the schemas describe, is declared in its schema, so that
// a golden change that adds a field fails until the schema (and its
// version) says what the field is.
func TestFieldsDeclared(t *testing.T) {
	for _, e := range corpustest.Envelopes(t, corpustest.Golden(t)) {
		name, ok := schemas.Name(e.Env.Topic)
		if !ok {
			t.Fatalf("%s: no schema for %s", e.Mail, e.Env.Topic)
		}
		var msg map[string]any
		if err := json.Unmarshal(e.Body, &struct{ Msg *map[string]any }{&msg}); err != nil {
			t.Fatal(err)
		}
		for _, p := range undeclared(schemas.Declared(name), msg, "msg") {
			t.Errorf("%s %s: %s is not declared in schema %s", e.Mail, schemas.Short(e.Env.Topic), p, name)
		}
	}
}

// undeclared returns the paths of the members of v that decl does not
// declare.
func undeclared(decl schemas.Fields, v any, path string) []string {
	var out []string
	switch x := v.(type) {
	case map[string]any:
		if decl.Open {
			return nil
		}
		for k, sub := range x {
			d, ok := decl.Props[k]
			if !ok {
				out = append(out, path+"."+k)
				continue
			}
			out = append(out, undeclared(d, sub, path+"."+k)...)
		}
	case []any:
		if decl.Items == nil {
			return nil
		}
		for _, sub := range x {
			out = append(out, undeclared(*decl.Items, sub, path+"[]")...)
		}
	}
	return out
}

// TestBroken: envelopes that break the contract are refused, each with
// the place it breaks; changed ones that keep it are accepted.
func TestBroken(t *testing.T) {
	for _, v := range Valid(t) {
		if err := schemas.Validate(v.Body); err != nil {
			t.Errorf("%s: %v", v.What, err)
		}
	}
	for _, b := range Broken(t) {
		err := schemas.Validate(b.Body)
		if err == nil || errors.Is(err, schemas.ErrNoSchema) {
			t.Errorf("%s: accepted (%v)", b.What, err)
		}
	}
}

// TestNames: topic to schema and entry-point names.
func TestNames(t *testing.T) {
	for topic, want := range map[string]string{
		"org.debian.prod.dak.package.upload":             "mailgw.dak.package.upload.v2",
		"org.debian.dev.pts.package.upload-source":       "mailgw.pts.package.upload-source.v2",
		"org.debian.dev.debmessenger.bug.report":         "mailgw.debmessenger.bug.report.v2",
		"debbugs.bug.submitter-changed":                  "mailgw.debbugs.bug.submitter-changed.v2",
		"org.fedoraproject.prod.bodhi.update.comment":    "",
		"org.debian.prod.pts.package":                    "",
		"org.debian.prod.dak.package.no-such-thing-here": "",
	} {
		if got := schemas.EntryPoint(topic); got != want {
			t.Errorf("EntryPoint(%q) = %q, want %q", topic, got, want)
		}
	}
	if _, ok := schemas.Name("envelope.x.y"); ok {
		t.Error("a topic named the envelope")
	}
	body := `{"topic":"org.fedoraproject.prod.bodhi.update.comment","msg":{},"timestamp":1,"msg_id":"2013-0d5ffcd8-0c4a-4a0e-9a6c-0b4ec4c0b8a3","username":"x"}`
	if err := schemas.Validate([]byte(body)); !errors.Is(err, schemas.ErrNoSchema) || !strings.Contains(err.Error(), "bodhi") {
		t.Errorf("foreign topic: %v", err)
	}
}
