//go:build e2e

package schemas_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debian/mailgw/internal/corpustest"
	"github.com/debian/mailgw/schemas"
)

// TestPythonVerdicts: Debian's python3-jsonschema loads the same schema
// files and gives the same verdict as the Go validator on every golden
// envelope and every changed one that keeps the contract (all valid) and
// on every broken one (all invalid).
func TestPythonVerdicts(t *testing.T) {
	type item struct {
		what, name string
		body       []byte
		valid      bool
	}
	var items []item
	for _, e := range corpustest.Envelopes(t, corpustest.Golden(t)) {
		items = append(items, item{e.Mail + " " + e.Env.Topic, "", e.Body, true})
	}
	for _, v := range Valid(t) {
		items = append(items, item{v.What, "", v.Body, true})
	}
	for _, b := range Broken(t) {
		items = append(items, item{b.What, "", b.Body, false})
	}
	var in bytes.Buffer
	for i := range items {
		var env struct{ Topic string }
		_ = json.Unmarshal(items[i].body, &env)
		name, ok := schemas.Name(env.Topic)
		if !ok {
			name = "-"
		}
		err := schemas.Validate(items[i].body)
		if errors.Is(err, schemas.ErrNoSchema) {
			err = nil
		}
		if (err == nil) != items[i].valid {
			t.Fatalf("%s: Go says %v", items[i].what, err)
		}
		in.WriteString(name + "\t" + strings.TrimSpace(string(items[i].body)) + "\n")
	}
	cmd := exec.Command("/usr/bin/python3", filepath.Join(corpustest.Root(), "test", "python", "schema_verdicts.py"), ".")
	cmd.Stdin = &in
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python3 (python3-jsonschema, test/install-deps.sh): %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(items) {
		t.Fatalf("%d verdicts for %d envelopes\n%s", len(lines), len(items), stderr.String())
	}
	valid, invalid := 0, 0
	for i, l := range lines {
		py := l == "valid"
		if py != items[i].valid {
			t.Errorf("%s: Go says valid=%v, python3-jsonschema says %s", items[i].what, items[i].valid, l)
		}
		if py {
			valid++
		} else {
			invalid++
		}
	}
	t.Logf("same verdicts on %d valid and %d broken envelopes", valid, invalid)
}
