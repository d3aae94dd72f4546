// Package corpustest gives tests the envelopes of the project's test
// mails, built the way serve builds them: every golden mail of
// testdata/mails, every record of the debbugs .log files of
// internal/archive/testdata (as replay reads them), and every fuzz seed
// of the parsers. Tests of the schemas, of the typed events package and
// of the generated docs use it; production code never does.
package corpustest

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/archive"
	"github.com/debian/mailgw/internal/auth"
	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/pipeline"
	"github.com/debian/mailgw/parsers"
	"github.com/debian/mailgw/parsers/dak"
	"github.com/debian/mailgw/parsers/debbugs"
	"github.com/debian/mailgw/parsers/pts"
)

// Now is the time the envelopes are built at.
var Now = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

// Mail is one test mail.
type Mail struct {
	// Name says where it comes from: the golden file's name
	// (NNN-name.eml), FILE.log#INDEX or a fuzz seed's path.
	Name string
	Raw  []byte
}

// Envelope is one envelope built from a test mail.
type Envelope struct {
	// Mail is the name of its mail.
	Mail string
	Env  *bus.Envelope
	// Body is its canonical wire body.
	Body []byte
}

// Root returns the repository's root directory.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// Golden returns the golden mails, testdata/mails/*.eml, by name.
func Golden(tb testing.TB) []Mail {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(Root(), "testdata", "mails", "*.eml"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no golden mails (%v)", err)
	}
	return readAll(tb, files)
}

// Logs returns every record of the debbugs .log files of
// internal/archive/testdata.
func Logs(tb testing.TB) []Mail {
	tb.Helper()
	files, err := filepath.Glob(filepath.Join(Root(), "internal", "archive", "testdata", "*.log"))
	if err != nil || len(files) == 0 {
		tb.Fatalf("no .log files (%v)", err)
	}
	var out []Mail
	for _, f := range files {
		r, err := archive.Open(f, archive.Options{})
		if err != nil {
			tb.Fatal(err)
		}
		for {
			m, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				tb.Fatalf("%s: %v", f, err)
			}
			out = append(out, Mail{Name: filepath.Base(f) + "#" + strconv.Itoa(m.Index), Raw: m.Data})
		}
		r.Close()
	}
	return out
}

// FuzzSeeds returns the []byte and string seeds of the parsers' fuzz
// corpora (parsers/**/testdata/fuzz/*/*) that hold one value.
func FuzzSeeds(tb testing.TB) []Mail {
	tb.Helper()
	var files []string
	for _, pat := range []string{"parsers/testdata/fuzz/*/*", "parsers/*/testdata/fuzz/*/*"} {
		m, err := filepath.Glob(filepath.Join(Root(), pat))
		if err != nil {
			tb.Fatal(err)
		}
		files = append(files, m...)
	}
	sort.Strings(files)
	var out []Mail
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
		if len(lines) != 2 || lines[0] != "go test fuzz v1" {
			continue
		}
		lit := lines[1]
		if s, ok := strings.CutPrefix(lit, "[]byte("); ok {
			lit = strings.TrimSuffix(s, ")")
		} else if s, ok := strings.CutPrefix(lit, "string("); ok {
			lit = strings.TrimSuffix(s, ")")
		} else {
			continue
		}
		v, err := strconv.Unquote(lit)
		if err != nil {
			continue // not one quoted value
		}
		rel, _ := filepath.Rel(Root(), f)
		out = append(out, Mail{Name: rel, Raw: []byte(v)})
	}
	if len(out) == 0 {
		tb.Fatal("no fuzz seeds")
	}
	return out
}

func readAll(tb testing.TB, files []string) []Mail {
	sort.Strings(files)
	out := make([]Mail, 0, len(files))
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, Mail{Name: filepath.Base(f), Raw: raw})
	}
	return out
}

// Config is the configuration the envelopes are built with: the
// defaults, with compat_debmessenger on.
func Config() *config.Config {
	c := config.Defaults()
	c.CompatDebmessenger = true
	c.Username = "mailgw"
	return c
}

// Classifier is cmd/mailgw's wiring of the parsers, with the
// debmessenger compatibility events on.
func Classifier() *parsers.Classifier {
	d := dak.New(dak.Options{Compat: true})
	b := debbugs.New(debbugs.Options{Compat: true})
	return parsers.NewClassifier(pts.New(d, b), d, b)
}

// Envelopes builds the envelopes of mails as serve does, judged by the
// default trust policy without DNS (mail.auth) and made by
// pipeline.Build (unsigned; i and seq_id numbered from 1), and encodes
// them. A mail that is unreadable, yields no event or that the policy
// holds back contributes nothing; the .log records of Logs come in as
// from an archive, the others as from a pipe.
func Envelopes(tb testing.TB, mails []Mail) []Envelope {
	tb.Helper()
	cfg, c := Config(), Classifier()
	v, err := auth.NewOffline(cfg.Trust)
	if err != nil {
		tb.Fatal(err)
	}
	var out []Envelope
	for _, m := range mails {
		msg, err := parsers.ReadMessage(m.Raw)
		if err != nil {
			continue
		}
		evs, _ := c.Classify(msg)
		if len(evs) == 0 {
			continue
		}
		dec := v.Check(msg, auth.Intake{Archive: strings.Contains(m.Name, ".log#")}, evs)
		if dec.Retry != "" || dec.Quarantine != "" {
			continue
		}
		for _, env := range pipeline.Build(cfg, msg, evs, Now, false, dec.Object()) {
			env.I = int64(len(out) + 1)
			env.SeqID = int64(len(out) + 1)
			body, err := env.Marshal()
			if err != nil {
				tb.Fatalf("%s: %v", m.Name, err)
			}
			out = append(out, Envelope{Mail: m.Name, Env: env, Body: body})
		}
	}
	return out
}
