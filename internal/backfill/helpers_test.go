package backfill

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/bus/bustest"
	"github.com/debian/mailgw/internal/archive/archivetest"
	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/journal"
	"github.com/debian/mailgw/internal/pipeline"
	"github.com/debian/mailgw/parsers"
	"github.com/debian/mailgw/parsers/dak"
	"github.com/debian/mailgw/parsers/debbugs"
	"github.com/debian/mailgw/parsers/pts"
)

// newClassifier wires the parsers the way cmd/mailgw does.
func newClassifier(cfg *config.Config) *parsers.Classifier {
	d := dak.New(dak.Options{Compat: cfg.CompatDebmessenger, MaxBody: cfg.MaxBodyBytes})
	b := debbugs.New(debbugs.Options{Compat: cfg.CompatDebmessenger, MaxBody: cfg.MaxBodyBytes})
	return parsers.NewClassifier(pts.New(d, b), d, b)
}

// testConfig is the default config with its state in a temp dir and
// signing off (the signing test turns it on).
func testConfig(t testing.TB) *config.Config {
	cfg := config.Defaults()
	cfg.StateDir = t.TempDir()
	cfg.SpoolDir = filepath.Join(cfg.StateDir, "spool")
	cfg.QuarantineDir = filepath.Join(cfg.StateDir, "quarantine")
	cfg.Journal = filepath.Join(cfg.StateDir, "journal.sqlite")
	cfg.SignMessages = false
	return cfg
}

// testMails returns the golden corpus mails, in name order.
func testMails(t testing.TB) (names []string, mails [][]byte) {
	names, err := filepath.Glob("../../testdata/mails/*.eml")
	if err != nil || len(names) == 0 {
		t.Fatalf("no test mails: %v", err)
	}
	sort.Strings(names)
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		mails = append(mails, b)
	}
	return names, mails
}

// writeArchive generates an n-mail mbox from mails into dir/name.
func writeArchive(t testing.TB, dir, name string, mails [][]byte, n int) string {
	var b bytes.Buffer
	if err := archivetest.Generate(&b, mails, n, 1); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// expectedMsgIDs classifies each mail on its own, as mailgw parse does,
// and returns the msg_ids of its events in order.
func expectedMsgIDs(t testing.TB, cfg *config.Config, mails [][]byte) []string {
	var ids []string
	for _, env := range buildAll(cfg, mails) {
		ids = append(ids, env.MsgID)
	}
	return ids
}

// buildAll classifies each mail on its own and returns the envelopes of
// its events, in order, unsigned.
func buildAll(cfg *config.Config, mails [][]byte) []*bus.Envelope {
	c := newClassifier(cfg)
	var envs []*bus.Envelope
	for _, raw := range mails {
		m, err := parsers.ReadMessage(raw)
		if err != nil {
			continue
		}
		evs, _ := c.Classify(m)
		envs = append(envs, pipeline.Build(cfg, m, evs, time.Now(), true, nil)...)
	}
	return envs
}

// publishSetup is a journal and an in-memory publisher for ModePublish.
type publishSetup struct {
	cfg *config.Config
	j   *journal.Journal
	pub *bustest.Publisher
}

func newPublishSetup(t testing.TB) *publishSetup {
	cfg := testConfig(t)
	j, err := journal.Open(cfg.Journal)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	return &publishSetup{cfg: cfg, j: j, pub: &bustest.Publisher{}}
}

func (p *publishSetup) options() Options {
	return Options{
		Mode: ModePublish, Config: p.cfg, Classifier: newClassifier(p.cfg),
		Journal: p.j, Publisher: p.pub,
		CheckpointDir: filepath.Join(p.cfg.StateDir, "replay"), CheckpointEvery: 10,
		BatchSize: 16, Logger: slog.New(slog.DiscardHandler),
	}
}

// run replays files and fails the test on error.
func run(t testing.TB, o Options, files ...string) Summary {
	t.Helper()
	s, err := Run(context.Background(), o, files)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return s
}

// msgIDs returns the msg_ids of envs.
func msgIDs(envs []*bus.Envelope) []string {
	ids := make([]string, len(envs))
	for i, e := range envs {
		ids[i] = e.MsgID
	}
	return ids
}

// testSigner makes an Ed25519 signing key.
func testSigner(t testing.TB) bus.Signer {
	sec, _, _, err := bus.GenerateKey("replay test", "replay@example.org", 0)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "key.asc")
	os.WriteFile(p, sec, 0o600)
	s, err := bus.LoadSigner(p, "")
	if err != nil {
		t.Fatal(err)
	}
	return s
}
