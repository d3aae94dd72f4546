package schemas

import (
	"sort"
	"strings"
)

// Fields is what a schema declares of a value: its type, description,
// the members of an object and the items of an array, with every $ref
// and allOf resolved.
type Fields struct {
	// Type is the JSON type, "string or null" style; "" when the
	// schema does not say.
	Type string
	// Description is the schema's description.
	Description string
	// Props are the declared members of an object; Required the names
	// of those that must be present.
	Props    map[string]Fields
	Required map[string]bool
	// RequiredWith maps a member to the members whose presence makes it
	// required (the schema's dependentRequired, turned round): an
	// address field's X_email is required with X.
	RequiredWith map[string][]string
	// Items describes the elements of an array; nil when not declared.
	Items *Fields
	// Open is true for an object whose members the schema does not
	// declare (a payload of another topic, say).
	Open bool
	// Enum lists the allowed values, when the schema lists them.
	Enum []string
}

// Declared returns what the schema named name declares of the msg.
func Declared(name string) Fields {
	e, ok := load().byName[name]
	if !ok {
		return Fields{Open: true}
	}
	return resolve(e.doc, e.doc, 0)
}

// Always reports whether member k is in every valid object: required,
// or required with a member that is.
func (f Fields) Always(k string) bool {
	if f.Required[k] {
		return true
	}
	for _, w := range f.RequiredWith[k] {
		if f.Required[w] {
			return true
		}
	}
	return false
}

// Names returns the members of f in order: those always present first,
// each group sorted.
func (f Fields) Names() []string {
	out := make([]string, 0, len(f.Props))
	for k := range f.Props {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		ri, rj := f.Always(out[i]), f.Always(out[j])
		if ri != rj {
			return ri
		}
		return out[i] < out[j]
	})
	return out
}

// resolve reads schema s, found in the document doc.
func resolve(doc, s map[string]any, depth int) Fields {
	f := Fields{Props: map[string]Fields{}, Required: map[string]bool{}, RequiredWith: map[string][]string{}}
	if depth > 20 {
		f.Open = true
		return f
	}
	if ref, ok := s["$ref"].(string); ok {
		target, tdoc := lookup(doc, ref)
		if target != nil {
			f = merge(f, resolve(tdoc, target, depth+1))
		}
	}
	for _, sub := range list(s["allOf"]) {
		if m, ok := sub.(map[string]any); ok {
			f = merge(f, resolve(doc, m, depth+1))
		}
	}
	if d, ok := s["description"].(string); ok {
		f.Description = d
	}
	switch t := s["type"].(type) {
	case string:
		f.Type = t
	case []any:
		var ts []string
		for _, x := range t {
			if x, ok := x.(string); ok {
				ts = append(ts, x)
			}
		}
		f.Type = strings.Join(ts, " or ")
	}
	for _, v := range list(s["enum"]) {
		if v, ok := v.(string); ok {
			f.Enum = append(f.Enum, v)
		}
	}
	if props, ok := s["properties"].(map[string]any); ok {
		for k, v := range props {
			if m, ok := v.(map[string]any); ok {
				f.Props[k] = resolve(doc, m, depth+1)
			}
		}
	}
	for _, r := range list(s["required"]) {
		if r, ok := r.(string); ok {
			f.Required[r] = true
		}
	}
	if dep, ok := s["dependentRequired"].(map[string]any); ok {
		for w, ks := range dep {
			for _, k := range list(ks) {
				if k, ok := k.(string); ok {
					f.RequiredWith[k] = append(f.RequiredWith[k], w)
				}
			}
		}
	}
	if it, ok := s["items"].(map[string]any); ok {
		items := resolve(doc, it, depth+1)
		f.Items = &items
	}
	if f.Type == "object" && len(f.Props) == 0 {
		f.Open = true
	}
	if f.Type == "array" && f.Items != nil && f.Items.Type != "" {
		f.Type = "array of " + f.Items.Type
	}
	return f
}

// merge adds what b declares to a; b's type and description win when a
// has none.
func merge(a, b Fields) Fields {
	for k, v := range b.Props {
		a.Props[k] = v
	}
	for k := range b.Required {
		a.Required[k] = true
	}
	for k, ws := range b.RequiredWith {
		a.RequiredWith[k] = append(a.RequiredWith[k], ws...)
	}
	if a.Type == "" {
		a.Type = b.Type
	}
	if a.Description == "" {
		a.Description = b.Description
	}
	if a.Items == nil {
		a.Items = b.Items
	}
	if a.Enum == nil {
		a.Enum = b.Enum
	}
	a.Open = a.Open || b.Open && len(a.Props) == 0
	return a
}

// lookup finds a $ref: "#/$defs/NAME" in doc, or "ID#/$defs/NAME" in
// the schema whose $id is ID.
func lookup(doc map[string]any, ref string) (map[string]any, map[string]any) {
	id, ptr, _ := strings.Cut(ref, "#")
	if id != "" {
		doc = nil
		for _, e := range load().byName {
			if e.id == id {
				doc = e.doc
			}
		}
		if doc == nil {
			return nil, nil
		}
	}
	cur := doc
	for _, part := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		if part == "" {
			continue
		}
		next, ok := cur[part].(map[string]any)
		if !ok {
			return nil, nil
		}
		cur = next
	}
	return cur, doc
}

func list(v any) []any {
	l, _ := v.([]any)
	return l
}
