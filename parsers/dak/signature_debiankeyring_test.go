//go:build e2e

package dak

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/debian/mailgw/parsers"
)

// debianKeyring is Debian's keyring of uploaders (package debian-keyring,
// installed by test/install-deps.sh).
const debianKeyring = "/usr/share/keyrings/debian-keyring.gpg"

var updateKeyring = flag.Bool("update-keyring", false, "rewrite testdata/debian-keyring.golden")

// TestDebianKeyring checks every upload of the golden corpus against
// Debian's real keyring and compares which verify, and why the others do
// not, with testdata/debian-keyring.golden (-update-keyring rewrites it;
// a new debian-keyring release may change it: read the diff). A changed
// byte in the .changes of one that verifies makes it invalid. It logs how
// long loading the keyring takes.
func TestDebianKeyring(t *testing.T) {
	start := time.Now()
	kr, err := LoadKeyrings(debianKeyring)
	if err != nil {
		t.Fatalf("%v (install debian-keyring: test/install-deps.sh)", err)
	}
	t.Logf("loaded %s: %d keys in %v", debianKeyring, kr.Len(), time.Since(start))
	if kr.Len() < 500 {
		t.Fatalf("only %d keys in %s", kr.Len(), debianKeyring)
	}
	p := New(Options{Keyring: kr, KeyringName: "debian-keyring"})
	files, _ := filepath.Glob(filepath.Join(mailsDir, "*.eml"))
	var b strings.Builder
	var valid []string
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		sig := uploadSignature(p, raw)
		if sig == nil || sig["present"] != true {
			continue
		}
		line := fmt.Sprintf("%s valid=%v", filepath.Base(f), sig["valid"])
		if sig["valid"] == true {
			line += fmt.Sprintf(" primary=%v", sig["primary_fingerprint"])
			valid = append(valid, f)
		} else {
			line += fmt.Sprintf(" key=%v error=%q", or(sig["fingerprint"], sig["key_id"]), sig["error"])
		}
		if w, ok := sig["warning"]; ok {
			line += fmt.Sprintf(" warning=%q", w)
		}
		b.WriteString(line + "\n")
	}
	golden := "testdata/debian-keyring.golden"
	if *updateKeyring {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update-keyring)", err)
	}
	if string(want) != b.String() {
		t.Errorf("uploads checked against %s differ from %s:\n%s", debianKeyring, golden, b.String())
	}
	if len(valid) == 0 {
		t.Fatal("no corpus upload verifies against debian-keyring")
	}
	// One changed byte in the signed text: invalid.
	raw, _ := os.ReadFile(valid[0])
	i := bytes.Index(raw, []byte("\nChanges:"))
	if i < 0 {
		t.Fatalf("%s: no Changes field", valid[0])
	}
	changed := bytes.Clone(raw)
	changed[i+1] = 'c' // "changes:"
	if sig := uploadSignature(p, changed); sig == nil || sig["valid"] != false || sig["error"] == nil {
		t.Errorf("%s with a changed byte: signature %v", filepath.Base(valid[0]), sig)
	}
}

// uploadSignature is the signature object of the upload event raw yields
// (nil when it yields none).
func uploadSignature(p *Parser, raw []byte) map[string]any {
	m, err := parsers.ReadMessage(raw)
	if err != nil {
		return nil
	}
	evs, _, _ := p.Parse(m)
	for _, ev := range evs {
		if ev.Name() == "dak.package.upload" {
			s, _ := ev.Payload["signature"].(map[string]any)
			return s
		}
	}
	return nil
}

func or(a, b any) any {
	if a != nil {
		return a
	}
	return b
}
