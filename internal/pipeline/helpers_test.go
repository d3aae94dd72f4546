package pipeline

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/debian/mailgw/bus/bustest"
	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/journal"
	"github.com/debian/mailgw/internal/spool"
	"github.com/debian/mailgw/parsers"
	"github.com/debian/mailgw/parsers/dak"
	"github.com/debian/mailgw/parsers/debbugs"
	"github.com/debian/mailgw/parsers/pts"
)

// corpusDir holds the golden corpus: NNN-name.eml with NNN-name.json.
const corpusDir = "../../testdata/mails"

// golden is one expected event of a corpus mail.
// A mail with no event has one entry with None, the reason.
type golden struct {
	Topic string `json:"topic"`
	Rule  string `json:"rule"`
	None  string `json:"none"`
}

type corpusMail struct {
	name string
	raw  []byte
	want []golden
	none string // the quarantine reason when the mail yields no event
}

// loadCorpus reads every .eml of the corpus with its golden file.
func loadCorpus(t testing.TB) []corpusMail {
	t.Helper()
	emls, err := filepath.Glob(filepath.Join(corpusDir, "*.eml"))
	if err != nil || len(emls) == 0 {
		t.Fatalf("no corpus in %s: %v", corpusDir, err)
	}
	sort.Strings(emls)
	var out []corpusMail
	for _, f := range emls {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		gj, err := os.ReadFile(strings.TrimSuffix(f, ".eml") + ".json")
		if err != nil {
			t.Fatal(err)
		}
		var want []golden
		if err := json.Unmarshal(gj, &want); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		cm := corpusMail{name: filepath.Base(f), raw: raw, want: want}
		if len(want) == 1 && want[0].None != "" {
			cm.want, cm.none = nil, want[0].None
		}
		out = append(out, cm)
	}
	return out
}

func testConfig() *config.Config {
	c := config.Defaults()
	c.SignMessages = false
	c.Username = "mailgw-test"
	return c
}

func classifier() *parsers.Classifier {
	d := dak.New(dak.Options{Compat: true})
	b := debbugs.New(debbugs.Options{Compat: true})
	return parsers.NewClassifier(pts.New(d, b), d, b)
}

// syncBuffer is a goroutine-safe log sink.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// rig is a pipeline on a real journal and spool with a fake publisher.
type rig struct {
	p    *Pipeline
	j    *journal.Journal
	sp   *spool.Spool
	pub  *bustest.Publisher
	log  *syncBuffer
	opts Options
}

var fixedNow = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

func newRig(t testing.TB) *rig {
	t.Helper()
	dir := t.TempDir()
	j, err := journal.Open(filepath.Join(dir, "journal.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	if err := spool.Create(filepath.Join(dir, "spool")); err != nil {
		t.Fatal(err)
	}
	sp, err := spool.Open(filepath.Join(dir, "spool"), 0)
	if err != nil {
		t.Fatal(err)
	}
	sp.QuarantineDir = filepath.Join(dir, "quarantine")
	r := &rig{j: j, sp: sp, pub: &bustest.Publisher{}, log: &syncBuffer{}}
	r.opts = Options{
		Config: testConfig(), Classifier: classifier(), Journal: j,
		Publisher: r.pub, Spool: sp, Now: func() time.Time { return fixedNow },
		Logger: slog.New(slog.NewTextHandler(r.log, nil)),
	}
	r.p = New(r.opts)
	return r
}
