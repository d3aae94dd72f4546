package parsers_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/debian/mailgw/parsers"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/mails/*.json from what the parsers yield now")

// mailsDir is the golden corpus at the repository root.
const mailsDir = "../testdata/mails"

// goldenFiles lists the golden mails; the suite fails without any.
func goldenFiles(t testing.TB) []string {
	files, err := filepath.Glob(filepath.Join(mailsDir, "*.eml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden mails in %s (%v)", mailsDir, err)
	}
	return files
}

// goldenEntry is one element of a golden file: an event, or why none.
// The field order is the order in the files.
type goldenEntry struct {
	Topic   string         `json:"topic,omitempty"`
	Rule    string         `json:"rule,omitempty"`
	Key     string         `json:"key,omitempty"`
	Payload map[string]any `json:"payload,omitempty"`
	None    string         `json:"none,omitempty"`
}

// goldenResult is what a golden .json holds for one mail: a list of
// {topic, rule, key (omitted when empty), payload}, or the one-element
// list [{"none": reason}] for a mail that yields no event (an unreadable
// mail included).
func goldenResult(c *parsers.Classifier, raw []byte) []goldenEntry {
	m, err := parsers.ReadMessage(raw)
	if err != nil {
		return []goldenEntry{{None: "unreadable mail: " + err.Error()}}
	}
	evs, reason := c.Classify(m)
	if len(evs) == 0 {
		return []goldenEntry{{None: reason.Reason}}
	}
	out := make([]goldenEntry, 0, len(evs))
	for _, e := range evs {
		out = append(out, goldenEntry{Topic: e.Name(), Rule: e.Rule, Key: e.Key, Payload: e.Payload})
	}
	return out
}

// encode writes v as indented JSON without HTML escaping.
func encode(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	err := enc.Encode(v)
	return buf.Bytes(), err
}

// decode reads JSON into plain values, numbers kept as json.Number.
func decode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// TestGolden classifies every testdata/mails/*.eml with the full wiring
// and compares the events with NNN-name.json. On a mismatch it writes
// NNN-name.json.got; -update rewrites the .json files instead.
func TestGolden(t *testing.T) {
	c := goldenClassifier()
	for _, f := range goldenFiles(t) {
		name := strings.TrimSuffix(filepath.Base(f), ".eml")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			res := goldenResult(c, raw)
			if err := checkPayloadTypes(res); err != nil {
				t.Errorf("payload not JSON-ready for the canonical encoder: %v", err)
			}
			got, err := encode(res)
			if err != nil {
				t.Fatalf("encoding events: %v", err)
			}
			// The same mail must give the same events twice over.
			if again, _ := encode(goldenResult(c, raw)); !bytes.Equal(got, again) {
				t.Errorf("classifying twice gave different results (map order or clock in a payload?)")
			}
			jsonPath := strings.TrimSuffix(f, ".eml") + ".json"
			gotPath := jsonPath + ".got"
			if *update {
				if err := os.WriteFile(jsonPath, got, 0o644); err != nil {
					t.Fatal(err)
				}
				os.Remove(gotPath)
				return
			}
			wantRaw, err := os.ReadFile(jsonPath)
			if errors.Is(err, os.ErrNotExist) {
				os.WriteFile(gotPath, got, 0o644)
				t.Fatalf("no golden file %s; review %s and run go test ./parsers -run TestGolden -update", jsonPath, gotPath)
			} else if err != nil {
				t.Fatal(err)
			}
			want, err := decode(wantRaw)
			if err != nil {
				t.Fatalf("golden file %s: %v", jsonPath, err)
			}
			have, err := decode(got)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, have); diff != "" {
				os.WriteFile(gotPath, got, 0o644)
				t.Errorf("%s: events differ (-want +got), got written to %s:\n%s", name, gotPath, diff)
				return
			}
			os.Remove(gotPath)
		})
	}
}

// TestGoldenSources checks that each golden mail says where it comes from:
// NNN-name.source naming a corpus file, or a public archive ("archive:"
// with the repository, file and commit), or starting with "written:".
func TestGoldenSources(t *testing.T) {
	for _, f := range goldenFiles(t) {
		src, err := os.ReadFile(strings.TrimSuffix(f, ".eml") + ".source")
		if err != nil {
			t.Errorf("%s: no .source file: %v", filepath.Base(f), err)
			continue
		}
		s := strings.TrimSpace(string(src))
		if s == "" {
			t.Errorf("%s: empty .source file", filepath.Base(f))
			continue
		}
		if strings.HasPrefix(s, "archive:") && !regexp.MustCompile(`@ commit [0-9a-f]{40}\b`).MatchString(s) {
			t.Errorf("%s: .source %q names an archive without the commit", filepath.Base(f), s)
		}
		if !strings.HasPrefix(s, "written:") && !strings.HasPrefix(s, "archive:") && !strings.Contains(s, "corpus/") {
			t.Errorf("%s: .source %q neither starts with written: or archive: nor names a corpus file", filepath.Base(f), s)
		}
	}
}

// checkPayloadTypes walks a golden result and refuses floats anywhere in
// a payload (docs/wire.md: no floats) and values JSON cannot carry.
func checkPayloadTypes(v any) error {
	return walkTypes(reflect.ValueOf(v), "$")
}

func walkTypes(v reflect.Value, path string) error {
	if !v.IsValid() {
		return nil
	}
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		return fmt.Errorf("%s: float %v", path, v)
	case reflect.Complex64, reflect.Complex128, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return fmt.Errorf("%s: %s cannot be JSON", path, v.Kind())
	case reflect.Interface, reflect.Pointer:
		return walkTypes(v.Elem(), path)
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return fmt.Errorf("%s: []byte would be base64 in JSON; use a string", path)
		}
		for i := 0; i < v.Len(); i++ {
			if err := walkTypes(v.Index(i), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			if err := walkTypes(v.MapIndex(k), path+"."+fmt.Sprint(k)); err != nil {
				return err
			}
		}
	case reflect.Struct: // the members of a parsers.Object
		for i := 0; i < v.NumField(); i++ {
			if err := walkTypes(v.Field(i), path+"."+v.Type().Field(i).Name); err != nil {
				return err
			}
		}
	case reflect.String:
		if !utf8.ValidString(v.String()) {
			return fmt.Errorf("%s: invalid UTF-8", path)
		}
	}
	return nil
}
