//go:build e2e

package backfill

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/debian/mailgw/bus"
)

// TestMboxMatchesMails replays an mbox of every test mail, plain and
// compressed, and a Maildir of them, and expects exactly the msg_ids that classifying each .eml
// on its own gives.
func TestMboxMatchesMails(t *testing.T) {
	_, mails := testMails(t)
	cfg := testConfig(t)
	want := expectedMsgIDs(t, cfg, mails)
	if len(want) < 100 {
		t.Fatalf("only %d events from the test mails", len(want))
	}
	dir := t.TempDir()
	plain := writeArchive(t, dir, "all.mbox", mails, len(mails))
	data, _ := os.ReadFile(plain)
	files := []string{plain}
	for _, kind := range []string{"gzip", "bzip2", "xz"} {
		p := filepath.Join(dir, "all.mbox."+kind)
		if err := os.WriteFile(p, compress(t, kind, data), 0o644); err != nil {
			t.Fatal(err)
		}
		files = append(files, p)
	}
	md := filepath.Join(dir, "Maildir")
	for _, sub := range []string{"cur", "new", "tmp"} {
		os.MkdirAll(filepath.Join(md, sub), 0o755)
	}
	for i, m := range mails {
		os.WriteFile(filepath.Join(md, "cur", fmt.Sprintf("%05d.mboxgen:2,S", i)), m, 0o644)
	}
	files = append(files, md)
	for _, f := range files {
		var got []string
		replayed := true
		s := run(t, Options{Mode: ModeDryRun, Config: cfg, Classifier: newClassifier(cfg), Logger: slog.New(slog.DiscardHandler),
			Observe: func(env *bus.Envelope, added bool) {
				got = append(got, env.MsgID)
				replayed = replayed && env.Msg["mailgw"].(map[string]any)["replayed"] == true
			}}, f)
		if !slices.Equal(got, want) {
			t.Errorf("%s: %d msg_ids, want the %d of the .eml files", filepath.Base(f), len(got), len(want))
		}
		if !replayed {
			t.Errorf("%s: an envelope without msg.mailgw.replayed = true", f)
		}
		if s.Mails != len(mails) || s.Events != len(want) || s.Errors != 0 {
			t.Errorf("%s: summary %v", f, s.String())
		}
	}
}
