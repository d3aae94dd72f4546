package debbugs

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debian/mailgw/parsers"
)

var updateGolden = flag.Bool("update-debbugs", false, "rewrite testdata/mails/1NN-*.json from the parser's output")

// mailsDir is the shared golden corpus; this package owns 100–199.
const mailsDir = "../../testdata/mails"

// goldenEntry is one element of a golden file: an event, or why none.
type goldenEntry struct {
	Topic   string         `json:"topic,omitempty"`
	Rule    string         `json:"rule,omitempty"`
	Key     string         `json:"key,omitempty"`
	Payload map[string]any `json:"payload,omitempty"`
	None    string         `json:"none,omitempty"`
}

// readMail decodes a mail file with the shared decoder.
func readMail(t testing.TB, path string) *parsers.Message {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := parsers.ReadMessage(raw)
	if err != nil {
		t.Fatalf("%s: ReadMessage: %v", path, err)
	}
	return m
}

// goldenJSON renders what the parser makes of m in the golden format.
func goldenJSON(p *Parser, m *parsers.Message) []byte {
	evs, claimed, reason := p.Parse(m)
	var out []goldenEntry
	for _, e := range evs {
		out = append(out, goldenEntry{Topic: e.Name(), Rule: e.Rule, Key: e.Key, Payload: e.Payload})
	}
	if len(evs) == 0 {
		if !claimed {
			reason = "not claimed by debbugs: " + reason
		}
		out = append(out, goldenEntry{None: reason})
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// goldenFiles lists this package's golden mails.
func goldenFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(mailsDir, "1[0-9][0-9]-*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden mails in %s: %v", mailsDir, err)
	}
	return files
}

// TestGoldenDebbugs checks every 1NN mail against its reviewed .json.
func TestGoldenDebbugs(t *testing.T) {
	p := New(Options{Compat: true})
	for _, f := range goldenFiles(t) {
		name := strings.TrimSuffix(filepath.Base(f), ".eml")
		t.Run(name, func(t *testing.T) {
			got := goldenJSON(p, readMail(t, f))
			want := strings.TrimSuffix(f, ".eml") + ".json"
			if *updateGolden {
				if err := os.WriteFile(want, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			exp, err := os.ReadFile(want)
			if err != nil {
				t.Fatalf("missing golden file: %v", err)
			}
			if !jsonEqual(t, exp, got) {
				_ = os.WriteFile(want+".got", got, 0o644)
				t.Errorf("%s differs from the parser's output (see %s.got)", want, want)
			}
			src, err := os.ReadFile(strings.TrimSuffix(f, ".eml") + ".source")
			if err != nil || len(bytes.TrimSpace(src)) == 0 {
				t.Errorf("missing .source for %s", f)
			}
		})
	}
}

// jsonEqual compares two JSON documents by value.
func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("bad golden JSON: %v", err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("bad output JSON: %v", err)
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}
