package backfill

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/debian/mailgw/parsers"
)

// TestPacerCancel: a pacer that has to wait gives up when ctx ends.
func TestPacerCancel(t *testing.T) {
	p := pacer{rate: 0.001} // one mail per 1000 s
	ctx, cancel := context.WithCancel(context.Background())
	if err := p.wait(ctx); err != nil {
		t.Fatalf("first mail waited: %v", err)
	}
	cancel()
	if err := p.wait(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("second mail: %v, want context.Canceled", err)
	}
	if err := (&pacer{}).wait(ctx); err != nil {
		t.Errorf("unlimited pacer: %v", err)
	}
}

// TestProgressOutput: plain lines without a terminal, a bar with one, and
// the summary at the end in both cases.
func TestProgressOutput(t *testing.T) {
	_, mails := testMails(t)
	cfg := testConfig(t)
	f := writeArchive(t, t.TempDir(), "p.mbox", mails, 600)
	for _, term := range []bool{false, true} {
		var out bytes.Buffer
		run(t, Options{Mode: ModeDryRun, Config: cfg, Classifier: newClassifier(cfg), Logger: slog.New(slog.DiscardHandler),
			Progress: &out, Terminal: term, ProgressEvery: time.Nanosecond}, f)
		s := out.String()
		if !strings.Contains(s, "replay: 1 files, 600 mails") {
			t.Errorf("terminal=%v: no summary in %q", term, s)
		}
		if !term && !strings.Contains(s, "replay: p.mbox: 1 mails, ") {
			t.Errorf("no progress line in %q", s)
		}
		if term && (!strings.Contains(s, "100%") || !strings.Contains(s, "p.mbox: 600 mails")) {
			t.Errorf("no progress bar in %q", s)
		}
	}
}

// TestCheckpointKey: the checkpoint follows the file's path, size and
// modification time; a rewritten archive starts over.
func TestCheckpointKey(t *testing.T) {
	dir := t.TempDir()
	p := dir + "/a.mbox"
	os.WriteFile(p, []byte("From x\nA: b\n"), 0o644)
	k1, err := CheckpointFile(dir, p)
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := CheckpointFile(dir, p)
	os.WriteFile(p, []byte("From x\nA: b\n\nFrom y\nC: d\n"), 0o644)
	k3, _ := CheckpointFile(dir, p)
	if k1 != k2 || k1 == k3 {
		t.Errorf("keys %s %s %s: want the same for the same file, another after a rewrite", k1, k2, k3)
	}
}

type panicParser struct{}

func (panicParser) Name() string { return "panic" }
func (panicParser) Parse(*parsers.Message) ([]parsers.Event, bool, string) {
	panic("boom")
}

// TestParserPanic: a parser panic quarantines the mail and the replay goes
// on.
func TestParserPanic(t *testing.T) {
	_, mails := testMails(t)
	cfg := testConfig(t)
	f := writeArchive(t, t.TempDir(), "a.mbox", mails[:5], 5)
	s := run(t, Options{Mode: ModeDryRun, Config: cfg, Classifier: parsers.NewClassifier(panicParser{}), Logger: slog.New(slog.DiscardHandler)}, f)
	if s.Mails != 5 || s.Quarantined == 0 || s.Reasons["parser panic"] == 0 {
		t.Errorf("summary %s, reasons %v", s.String(), s.Reasons)
	}
}
