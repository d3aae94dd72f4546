// Package schemas holds the JSON Schemas (draft 2020-12) of mailgw's
// events: one for the fedmsg envelope, one for the msg of each topic
// (several topics share one where their payloads have one shape:
// pts.package.KEYWORD, tracker.package.KEYWORD, debmessenger.bug.TYPE),
// and common.json with what they share. The JSON files in this
// directory are the contract; docs/topics.md is generated from them.
//
// Every schema's $id ends in its version, MAJOR.MINOR: MINOR grows when
// a change keeps every valid msg valid (a new optional field), MAJOR
// when it does not. EntryPoint names a topic's schema the way
// fedora-messaging names its message schemas (mailgw.dak.package.upload.v2),
// and the major version is part of that name.
//
// Validation uses github.com/santhosh-tekuri/jsonschema/v6 with every
// schema loaded from this package: nothing is fetched.
package schemas

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed *.json
var files embed.FS

// Files returns the schema files, NAME.json each.
func Files() fs.FS { return files }

// IDBase is the start of every schema's $id: IDBase + NAME + "/" + VERSION.
const IDBase = "https://schemas.debian.org/mailgw/"

// Envelope and Common are the names of the envelope's schema and of the
// shared definitions.
const (
	Envelope = "envelope"
	Common   = "common"
)

// families are the topic schemas that cover every last word: NAME.WORD.
var families = []string{"pts.package", "tracker.package", "debmessenger.bug"}

// Name returns the name of the schema of the msg of topic (a full topic,
// PREFIX.ENV.SERVICE.OBJECT.EVENT, or SERVICE.OBJECT.EVENT), and false
// when mailgw has no schema for it (a foreign fedmsg topic).
func Name(topic string) (string, bool) {
	parts := strings.Split(topic, ".")
	if len(parts) < 3 {
		return "", false
	}
	short := strings.Join(parts[len(parts)-3:], ".")
	set := load()
	if _, ok := set.byName[short]; ok && !isFamily(short) {
		return short, true
	}
	fam := strings.Join(parts[len(parts)-3:len(parts)-1], ".")
	if isFamily(fam) {
		return fam, true
	}
	return "", false
}

func isFamily(name string) bool {
	for _, f := range families {
		if f == name {
			return true
		}
	}
	return false
}

// Short returns SERVICE.OBJECT.EVENT, the last three words of topic.
func Short(topic string) string {
	parts := strings.Split(topic, ".")
	if len(parts) < 3 {
		return topic
	}
	return strings.Join(parts[len(parts)-3:], ".")
}

// EntryPoint returns the fedora-messaging-style schema name of topic's
// msg: "mailgw." + SERVICE.OBJECT.EVENT + ".v" + the major version of
// its schema (mailgw.dak.package.upload.v2,
// mailgw.pts.package.upload-source.v2); "" when mailgw has no schema
// for topic.
func EntryPoint(topic string) string {
	name, ok := Name(topic)
	if !ok {
		return ""
	}
	major, _, _ := strings.Cut(load().byName[name].version, ".")
	return "mailgw." + Short(topic) + ".v" + major
}

// Info describes one schema file.
type Info struct {
	// Name is the file name without .json.
	Name string
	// ID is its $id, Version the version at its end (MAJOR.MINOR).
	ID, Version string
	// Doc is the decoded file.
	Doc map[string]any
}

// All returns every schema, sorted by name.
func All() []Info {
	set := load()
	out := make([]Info, 0, len(set.byName))
	for _, in := range set.byName {
		out = append(out, Info{Name: in.name, ID: in.id, Version: in.version, Doc: in.doc})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// entry is one loaded schema.
type entry struct {
	name, id, version string
	doc               map[string]any
	compiled          *jsonschema.Schema
}

type set struct {
	byName map[string]*entry
}

var (
	loaded   *set
	loadOnce sync.Once
)

// load compiles every schema once; the embedded files are part of the
// build and tested, so a failure is a bug of this package.
func load() *set {
	loadOnce.Do(func() {
		s, err := compileAll(files)
		if err != nil {
			panic("schemas: " + err.Error())
		}
		loaded = s
	})
	return loaded
}

// compileAll reads and compiles every NAME.json of fsys.
func compileAll(fsys fs.FS) (*set, error) {
	names, err := fs.Glob(fsys, "*.json")
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(noLoader{})
	s := &set{byName: map[string]*entry{}}
	for _, f := range names {
		raw, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, err
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		m, _ := doc.(map[string]any)
		id, _ := m["$id"].(string)
		name := strings.TrimSuffix(path.Base(f), ".json")
		version, ok := strings.CutPrefix(id, IDBase+name+"/")
		if !ok || !validVersion(version) {
			return nil, fmt.Errorf("%s: $id %q is not %sNAME/MAJOR.MINOR", f, id, IDBase)
		}
		if err := c.AddResource(id, doc); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		s.byName[name] = &entry{name: name, id: id, version: version, doc: m}
	}
	for _, e := range s.byName {
		if e.compiled, err = c.Compile(e.id); err != nil {
			return nil, fmt.Errorf("%s.json: %w", e.name, err)
		}
	}
	return s, nil
}

func validVersion(v string) bool {
	major, minor, ok := strings.Cut(v, ".")
	return ok && digits(major) && digits(minor) && major != "0"
}

func digits(s string) bool {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// noLoader refuses every URL that is not one of the schemas: validating
// never reaches the network.
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("%s is not one of mailgw's schemas", url)
}

// ErrNoSchema is returned by Validate for a topic mailgw has no schema
// for; its envelope was still checked.
var ErrNoSchema = errors.New("no schema for this topic")

// Validate checks a wire body (one envelope as JSON) against the
// envelope's schema and its msg against the schema of its topic. It
// returns nil when both hold, ErrNoSchema (wrapped) when the envelope
// holds and mailgw has no schema for the topic, and otherwise an error
// that names the schema and each failing place.
func Validate(body []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return ValidateValue(inst)
}

// ValidateValue is Validate for an envelope already decoded (numbers as
// json.Number or float64, objects as map[string]any).
func ValidateValue(env any) error {
	set := load()
	if err := set.byName[Envelope].validate(env); err != nil {
		return err
	}
	topic, _ := env.(map[string]any)["topic"].(string)
	name, ok := Name(topic)
	if !ok {
		return fmt.Errorf("%s: %w", topic, ErrNoSchema)
	}
	return set.byName[name].validate(env.(map[string]any)["msg"])
}

// ValidateMsg checks msg (a json.RawMessage, decoded JSON, or any value
// encoding/json encodes) against the schema of topic.
func ValidateMsg(topic string, msg any) error {
	name, ok := Name(topic)
	if !ok {
		return fmt.Errorf("%s: %w", topic, ErrNoSchema)
	}
	if raw, ok := msg.(json.RawMessage); ok {
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			return fmt.Errorf("not JSON: %w", err)
		}
		msg = v
	} else if _, plain := msg.(map[string]any); !plain || hasTyped(msg) {
		b, err := json.Marshal(msg)
		if err != nil {
			return err
		}
		if msg, err = jsonschema.UnmarshalJSON(bytes.NewReader(b)); err != nil {
			return err
		}
	}
	return load().byName[name].validate(msg)
}

// hasTyped reports whether v holds values other than the ones JSON
// decoding makes (Go slices of strings, ints, parsers' objects, …).
func hasTyped(v any) bool {
	switch x := v.(type) {
	case nil, string, bool, json.Number, float64:
		return false
	case map[string]any:
		for _, e := range x {
			if hasTyped(e) {
				return true
			}
		}
		return false
	case []any:
		for _, e := range x {
			if hasTyped(e) {
				return true
			}
		}
		return false
	}
	return true
}

func (e *entry) validate(v any) error {
	if err := e.compiled.Validate(v); err != nil {
		return fmt.Errorf("schema %s %s: %w", e.name, e.version, err)
	}
	return nil
}
