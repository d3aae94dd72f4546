package bus

import (
	"bytes"
	"encoding/json"
	"os"
	"testing"
)

// TestCanonicalPythonTable compares Canonical with the committed outputs
// of Python's json.dumps(v, sort_keys=True, separators=(',', ':')), made
// by test/python/canonical_table.py.
func TestCanonicalPythonTable(t *testing.T) {
	data, err := os.ReadFile("testdata/canonical_table.json")
	if err != nil {
		t.Fatal(err)
	}
	var table struct {
		Rows []struct {
			Input  json.RawMessage `json:"input"`
			Output string          `json:"output"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(data, &table); err != nil {
		t.Fatal(err)
	}
	if len(table.Rows) < 300 {
		t.Fatalf("only %d rows", len(table.Rows))
	}
	for i, row := range table.Rows {
		dec := json.NewDecoder(bytes.NewReader(row.Input))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		got, err := Canonical(v)
		if err != nil {
			t.Errorf("row %d: %v", i, err)
		} else if string(got) != row.Output {
			t.Errorf("row %d:\n got %s\nwant %s", i, got, row.Output)
		}
	}
}
