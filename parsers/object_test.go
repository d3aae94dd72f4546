package parsers_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/parsers"
)

// TestObjectEncodesAsMap: an Object and Objects encode, canonically and
// with encoding/json, exactly as the maps with the same members; Get
// finds members; keys out of order are a *bus.CanonicalError (which
// quarantines the mail), not a wrong encoding.
func TestObjectEncodesAsMap(t *testing.T) {
	o := parsers.Object{{Key: "args", Value: []string{"<a&b>", "é"}}, {Key: "bugs", Value: []int{1, 2}}, {Key: "command", Value: "tags"}, {Key: "error", Value: nil}}
	m := map[string]any{"args": []string{"<a&b>", "é"}, "bugs": []int{1, 2}, "command": "tags", "error": nil}
	for _, c := range []struct {
		obj, want any
	}{
		{o, m},
		{parsers.Objects{o, {}}, []map[string]any{m, {}}},
		{parsers.Objects(nil), []map[string]any(nil)},
		{map[string]any{"x": parsers.Objects{o}}, map[string]any{"x": []map[string]any{m}}},
	} {
		for _, enc := range []struct {
			name string
			f    func(any) ([]byte, error)
		}{{"canonical", bus.Canonical}, {"encoding/json", json.Marshal}} {
			got, err := enc.f(c.obj)
			if err != nil {
				t.Fatal(err)
			}
			if want, _ := enc.f(c.want); !bytes.Equal(got, want) {
				t.Errorf("%s:\n got %s\nwant %s", enc.name, got, want)
			}
		}
	}
	if o.Get("command") != "tags" || o.Get("nope") != nil {
		t.Errorf("Get: %v, %v", o.Get("command"), o.Get("nope"))
	}
	var ce *bus.CanonicalError
	for _, bad := range []any{
		parsers.Object{{Key: "b", Value: 1}, {Key: "a", Value: 2}},
		parsers.Objects{{{Key: "a", Value: 1}, {Key: "a", Value: 2}}},
		parsers.Object{{Key: "a", Value: math.NaN()}},
	} {
		if _, err := bus.Canonical(bad); !errors.As(err, &ce) {
			t.Errorf("%v: error %v, want a *bus.CanonicalError", bad, err)
		}
	}
}
