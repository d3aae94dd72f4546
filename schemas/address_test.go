package schemas_test

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/debian/mailgw/internal/corpustest"
	"github.com/debian/mailgw/schemas"
)

// TestAddressSiblings: in every schema, every member declared as an
// address (common's $defs/address) has a sibling X_email declared next
// to it and required with it (dependentRequired), and every X_email
// member has its X; so the promise of docs/topics.md ("each has a sibling
// <field>_email") is checked by every validator. TestEnvelopesValidate
// then holds the parsers to it on every golden mail, .log record and
// fuzz seed.
func TestAddressSiblings(t *testing.T) {
	var pairs []string
	for _, in := range schemas.All() {
		walkObjects(in.Doc, in.Name, func(where string, props map[string]any, dep map[string]any) {
			for k, v := range props {
				ref, _ := v.(map[string]any)["$ref"].(string)
				if base, ok := strings.CutSuffix(k, "_email"); ok {
					if _, has := props[base]; !has {
						t.Errorf("%s: %s without %s", where, k, base)
					}
					continue
				}
				if !strings.HasSuffix(ref, "#/$defs/address") {
					continue
				}
				pairs = append(pairs, where+"."+k)
				if _, has := props[k+"_email"]; !has {
					t.Errorf("%s: address %s has no %s_email", where, k, k)
				}
				if !slices.Contains(list(dep[k]), any(k+"_email")) {
					t.Errorf("%s: %s_email is not required with %s (dependentRequired)", where, k, k)
				}
			}
		})
	}
	sort.Strings(pairs)
	// mail.from, the tracker forward's from, changed_by and maintainer
	// (upload, policy), to (ack, control), closed_by, from (followup),
	// submitter, old_ and new_submitter.
	if len(pairs) < 13 {
		t.Errorf("%d address members, want at least 13: %v", len(pairs), pairs)
	}
	t.Logf("%d address members: %s", len(pairs), strings.Join(pairs, " "))
}

// walkObjects calls f for every object schema in s that declares
// properties, with its dependentRequired (nil when none).
func walkObjects(s any, where string, f func(where string, props, dep map[string]any)) {
	switch x := s.(type) {
	case map[string]any:
		if props, ok := x["properties"].(map[string]any); ok {
			dep, _ := x["dependentRequired"].(map[string]any)
			f(where, props, dep)
		}
		for k, v := range x {
			walkObjects(v, where+"/"+k, f)
		}
	case []any:
		for _, v := range x {
			walkObjects(v, where, f)
		}
	}
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}

// TestNestedAddressSiblings: the dak and debbugs events that tracker
// forwards carry inside msg.event.payload (which their schema leaves
// open) have every X_email their own topic's schema requires with X.
func TestNestedAddressSiblings(t *testing.T) {
	n := 0
	for _, e := range corpustest.Envelopes(t, corpustest.Golden(t)) {
		var env struct {
			Msg struct {
				Event *struct {
					Topic   string
					Payload map[string]any
				}
			}
		}
		if err := json.Unmarshal(e.Body, &env); err != nil {
			t.Fatal(err)
		}
		ev := env.Msg.Event
		if ev == nil {
			continue
		}
		name, ok := schemas.Name(ev.Topic)
		if !ok {
			t.Errorf("%s: nested topic %s has no schema", e.Mail, ev.Topic)
			continue
		}
		decl := schemas.Declared(name)
		for k, with := range decl.RequiredWith {
			for _, w := range with {
				if _, has := ev.Payload[w]; !has {
					continue
				}
				n++
				if _, has := ev.Payload[k]; !has {
					t.Errorf("%s: %s in msg.event.payload has %s without %s", e.Mail, ev.Topic, w, k)
				}
			}
		}
	}
	if n == 0 {
		t.Error("no nested event with an address field")
	}
	t.Logf("%d nested address fields", n)
}
