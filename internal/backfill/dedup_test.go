package backfill

import (
	"bytes"
	"database/sql"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/bus/bustest"
	"github.com/debian/mailgw/internal/archive/archivetest"
	"github.com/debian/mailgw/internal/journal"
	"github.com/debian/mailgw/internal/pipeline"
	"github.com/debian/mailgw/internal/pipeline/pipelinetest"
)

// The .log files holding both of debbugs' notices of one closure
// (testdata/copies/README.md).
var closureLogs = []string{
	"../archive/testdata/debbugs-spool-log-322535-evolution-ack-ackinfo-closed-2005.log",
	"../archive/testdata/debbugs-spool-log-280883-evolution-ack-info-quiet-2004.log",
}

// writeMbox writes mails as an mbox into dir/name.
func writeMbox(t *testing.T, dir, name string, mails ...[]byte) string {
	t.Helper()
	var b bytes.Buffer
	w := archivetest.NewMboxWriter(&b)
	for _, m := range mails {
		if err := w.Write("copies@example.org", time.Date(2019, 5, 15, 3, 46, 8, 0, time.UTC), m); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return writeFile(t, dir, name, b.Bytes())
}

// countTopic counts the envelopes whose topic ends with suffix and whose
// msg has key = val.
func countTopic(envs []*bus.Envelope, suffix, key string, val any) int {
	n := 0
	for _, e := range envs {
		if strings.HasSuffix(e.Topic, suffix) && e.Msg[key] == val {
			n++
		}
	}
	return n
}

// TestReplayCopies replays an mbox holding dak's maintainer copy and the
// announce of one upload (either order) and the .log files holding both
// of debbugs' notices of a closure, with batches of 1 and of 16 mails:
// each happening is published once, and every other event too.
func TestReplayCopies(t *testing.T) {
	maint, err := os.ReadFile("../../testdata/mails/002-xfsprogs-accepted-maintainer-2019.eml")
	if err != nil {
		t.Fatal(err)
	}
	announce, err := os.ReadFile("../../testdata/copies/xfsprogs-5.0.0-1-announce.eml")
	if err != nil {
		t.Fatal(err)
	}
	for _, batch := range []int{1, 16} {
		for _, order := range [][2][]byte{{maint, announce}, {announce, maint}} {
			p := newPublishSetup(t)
			f := writeMbox(t, t.TempDir(), "copies.mbox", order[0], order[1])
			o := p.options()
			o.BatchSize = batch
			files := append([]string{f}, closureLogs...)
			s := run(t, o, files...)
			envs := p.pub.Envelopes()
			var all [][]byte
			for _, f := range files {
				all = append(all, splitArchive(t, f)...)
			}
			want, _ := distinct(expectedMsgIDs(t, p.cfg, all))
			n, dup := distinct(msgIDs(envs))
			if dup != "" || n != len(envs) || n != want || s.New != n {
				t.Errorf("batch %d: %d published (%d distinct, %s twice), want %d; %s", batch, len(envs), n, dup, want, s.String())
			}
			if u := countTopic(envs, ".dak.package.upload", "version", "5.0.0-1"); u != 1 {
				t.Errorf("batch %d: the upload published %d times", batch, u)
			}
			for _, bug := range []int{322535, 280883} {
				if c := countTopic(envs, ".debbugs.bug.close", "bug", bug); c != 1 {
					t.Errorf("batch %d: the closure of #%d published %d times", batch, bug, c)
				}
			}
		}
	}
}

// oldJournal writes, at path, the journal a mailgw from before happenings
// made of mails: every event under the msg_id its mail alone gives
// (LegacyMsgID, the derivation testdata/msg_ids.txt pins in its "was"
// column), and no legacy table. keepLegacy leaves the table, saying "no
// rows from before happenings", for the test's control run.
func oldJournal(t *testing.T, path string, mails [][]byte, keepLegacy bool) int {
	t.Helper()
	j, err := journal.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	envs := buildAll(testConfig(t), mails)
	for _, env := range envs {
		if env.LegacyMsgID != "" {
			env.MsgID = env.LegacyMsgID
			env.Msg["mailgw"].(map[string]any)["msg_id"] = env.MsgID
			env.LegacyMsgID = ""
		}
	}
	added, err := j.Add(envs)
	if err != nil || len(added) == 0 {
		t.Fatalf("old journal: %d added, %v", len(added), err)
	}
	seqs := make([]int64, len(added))
	for i, e := range added {
		seqs[i] = e.SeqID
	}
	if err := j.MarkPublished(seqs...); err != nil {
		t.Fatal(err)
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q := `DROP TABLE legacy`
	if keepLegacy {
		q = `UPDATE legacy SET until_seq = 0`
	}
	if _, err := db.Exec(q); err != nil {
		t.Fatal(err)
	}
	return len(added)
}

// TestReplayOldJournal: a journal made before happenings from the corpus
// and the closure .logs, then a replay of the same archives and serve
// given the same mails by this mailgw: nothing is journaled or published
// again. The control run, on the same journal marked as having no rows
// from before happenings, republishes: the legacy lookup is what stops it.
func TestReplayOldJournal(t *testing.T) {
	_, mails := testMails(t)
	dir := t.TempDir()
	files := append([]string{writeArchive(t, dir, "corpus.mbox", mails, len(mails))}, closureLogs...)
	var all [][]byte
	for _, f := range files {
		all = append(all, splitArchive(t, f)...)
	}
	for _, control := range []bool{false, true} {
		p := newPublishSetup(t)
		p.j.Close()
		old := oldJournal(t, p.cfg.Journal, all, control)
		j, err := journal.Open(p.cfg.Journal)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { j.Close() })
		p.j = j
		s := run(t, p.options(), files...)
		if control {
			if s.New == 0 {
				t.Errorf("control: a journal taken for new republished nothing: %s", s.String())
			}
			continue
		}
		if s.New != 0 || len(p.pub.Envelopes()) != 0 || s.Duplicates != s.Events || s.Events < old {
			t.Errorf("replay into the old journal of %d events: %d published; %s", old, len(p.pub.Envelopes()), s.String())
		}
		pub := &bustest.Publisher{}
		sp := p.spool(t)
		var r *pipeline.Result
		pl := pipelinetest.Start(t, pipeline.Options{Config: p.cfg, Classifier: newClassifier(p.cfg),
			Journal: j, Publisher: pub, Spool: sp, Logger: slog.New(slog.DiscardHandler),
			OnMail: func(_ string, res *pipeline.Result) { r = res }})
		for _, raw := range all {
			r = &pipeline.Result{}
			name, err := sp.Deliver(bytes.NewReader(raw), 0)
			if err == nil {
				_, err = pl.Wait(name)
			}
			if err != nil || len(r.Added) != 0 {
				t.Fatalf("serve journaled %d events again (%v): %s", len(r.Added), err, r.MessageID)
			}
		}
		if n, _ := j.Count(); n != int64(old) || len(pub.Envelopes()) != 0 {
			t.Errorf("%d rows, want the old journal's %d; serve published %d", n, old, len(pub.Envelopes()))
		}
	}
}
