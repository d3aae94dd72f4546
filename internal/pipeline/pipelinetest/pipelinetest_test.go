package pipelinetest_test

import (
	"bytes"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debian/mailgw/bus/bustest"
	"github.com/debian/mailgw/internal/corpustest"
	"github.com/debian/mailgw/internal/journal"
	"github.com/debian/mailgw/internal/pipeline"
	"github.com/debian/mailgw/internal/pipeline/pipelinetest"
	"github.com/debian/mailgw/internal/spool"
)

// TestWait: Wait returns once the delivered mails have their final
// outcome (one published, one quarantined, both gone from new/), and
// after Stop a mail Run never took is an error, not a hang.
func TestWait(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "spool")
	if err := spool.Create(dir); err != nil {
		t.Fatal(err)
	}
	sp, err := spool.Open(dir, 0)
	if err != nil {
		t.Fatal(err)
	}
	j, err := journal.Open(filepath.Join(t.TempDir(), "j.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	cfg := corpustest.Config()
	cfg.SignMessages = false
	pub := &bustest.Publisher{}
	r := pipelinetest.Start(t, pipeline.Options{Config: cfg, Classifier: corpustest.Classifier(), Journal: j,
		Publisher: pub, Spool: sp, Logger: slog.New(slog.DiscardHandler)})
	good, err := sp.Deliver(bytes.NewReader(corpustest.Golden(t)[0].Raw), 0)
	if err != nil {
		t.Fatal(err)
	}
	bad, err := sp.Deliver(strings.NewReader("Subject: nothing for anyone\n\nhello\n"), 0)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Wait(good, bad)
	if err != nil {
		t.Fatal(err)
	}
	if o := res[0].Outcome(); o != pipeline.OutcomePublished || len(pub.Envelopes()) != len(res[0].Envelopes) {
		t.Errorf("golden mail: outcome %s, %d envelopes published of %d", o, len(pub.Envelopes()), len(res[0].Envelopes))
	}
	if o := res[1].Outcome(); o != pipeline.OutcomeQuarantined {
		t.Errorf("mail for no parser: outcome %s, want quarantined", o)
	}
	if left, err := sp.Pending(); err != nil || len(left) != 0 {
		t.Errorf("new/ after Wait: %v (%v)", left, err)
	}
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Wait("never-spooled"); err == nil {
		t.Error("Wait after Stop for a mail never taken: no error")
	}
}
