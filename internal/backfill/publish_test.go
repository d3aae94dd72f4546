package backfill

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/archive"
	"github.com/debian/mailgw/parsers"
)

// distinct counts distinct strings and reports the first duplicate.
func distinct(ids []string) (int, string) {
	seen := map[string]bool{}
	dup := ""
	for _, id := range ids {
		if seen[id] && dup == "" {
			dup = id
		}
		seen[id] = true
	}
	return len(seen), dup
}

// TestResumeAfterCancel interrupts a replay half-way, starts it again with
// the same options and expects every event journaled and published once.
func TestResumeAfterCancel(t *testing.T) {
	_, mails := testMails(t)
	p := newPublishSetup(t)
	f := writeArchive(t, t.TempDir(), "a.mbox", mails, 3*len(mails))
	want, _ := distinct(expectedMsgIDs(t, p.cfg, splitArchive(t, f)))

	ctx, cancel := context.WithCancel(context.Background())
	o := p.options()
	n := 0
	o.Observe = func(*bus.Envelope, bool) {
		if n++; n == want/2 {
			cancel()
		}
	}
	s1, err := Run(ctx, o, []string{f})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("first run: %v, want context.Canceled", err)
	}
	// Half-way is what was journaled: the pipeline reads and prepares
	// mails ahead of the journal, so the mails counted may be all of them.
	if n, err := p.j.Count(); err != nil || s1.Mails == 0 || n == 0 || n >= int64(want) {
		t.Fatalf("first run journaled %d of %d envelopes (%v), %d mails read; the cancel did not land half-way", n, want, err, s1.Mails)
	}
	o.Observe = nil
	s2 := run(t, o, f)
	if s2.Resumed == 0 {
		t.Errorf("second run resumed nothing: %s", s2.String())
	}
	count, err := p.j.Count()
	if err != nil {
		t.Fatal(err)
	}
	if count != int64(want) {
		t.Errorf("journal has %d envelopes, want %d", count, want)
	}
	got, dup := distinct(msgIDs(p.pub.Envelopes()))
	if got != want || len(p.pub.Envelopes()) != want {
		t.Errorf("published %d envelopes (%d distinct, duplicate %q), want %d once each", len(p.pub.Envelopes()), got, dup, want)
	}
	for _, env := range p.pub.Envelopes() {
		if env.Msg["mailgw"].(map[string]any)["replayed"] != true {
			t.Fatalf("envelope %s not marked replayed", env.MsgID)
		}
	}
}

// splitArchive returns the mails of an archive.
func splitArchive(t *testing.T, path string) [][]byte { return splitArchiveB(t, path) }

// splitArchiveB returns the mails of an archive.
func splitArchiveB(t testing.TB, path string) [][]byte {
	r, err := archive.Open(path, archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out [][]byte
	for {
		m, err := r.Next()
		if err != nil {
			return out
		}
		out = append(out, m.Data)
	}
}

// TestReplayTwice: a second replay of the same archive publishes nothing,
// both when the checkpoint says it is done and when it is ignored
// (Restart) and the journal drops every msg_id.
func TestReplayTwice(t *testing.T) {
	_, mails := testMails(t)
	p := newPublishSetup(t)
	f := writeArchive(t, t.TempDir(), "a.mbox", mails, len(mails))
	s1 := run(t, p.options(), f)
	first := len(p.pub.Envelopes())
	if first == 0 || s1.New != first {
		t.Fatalf("first run published %d, summary %s", first, s1.String())
	}
	s2 := run(t, p.options(), f)
	if len(p.pub.Envelopes()) != first || s2.Mails != 0 {
		t.Errorf("second run (checkpoint): published %d more; %s", len(p.pub.Envelopes())-first, s2.String())
	}
	o := p.options()
	o.Restart = true
	s3 := run(t, o, f)
	if len(p.pub.Envelopes()) != first || s3.New != 0 || s3.Duplicates != s3.Events || s3.Events != s1.Events {
		t.Errorf("third run (restart): published %d more; %s", len(p.pub.Envelopes())-first, s3.String())
	}
}

// TestDamagedArchive replays a truncated xz mbox and a .log cut
// mid-record: the error names the file and byte offset, the rest before
// it is replayed.
func TestDamagedArchive(t *testing.T) {
	_, mails := testMails(t)
	cfg := testConfig(t)
	dir := t.TempDir()
	plain := writeArchive(t, dir, "a.mbox", mails, 2*len(mails))
	data, _ := os.ReadFile(plain)
	z := compress(t, "xz", data)
	cutXZ := filepath.Join(dir, "cut.mbox.xz")
	os.WriteFile(cutXZ, z[:len(z)*3/4], 0o644)
	logData, _ := os.ReadFile("../archive/testdata/debbugs-spool-log-322535-evolution-ack-ackinfo-closed-2005.log")
	cut := bytes.LastIndex(logData[:len(logData)/2], []byte("\n\x02\n"))
	cutLog := filepath.Join(dir, "cut.log")
	os.WriteFile(cutLog, logData[:cut+100], 0o644)
	for _, f := range []string{cutXZ, cutLog} {
		var logBuf bytes.Buffer
		s := run(t, Options{Mode: ModeDryRun, Config: cfg, Classifier: newClassifier(cfg), Logger: slog.New(slog.NewTextHandler(&logBuf, nil))}, f)
		if s.Errors != 1 {
			t.Errorf("%s: %d errors, want 1", f, s.Errors)
		}
		if s.Mails < 5 || s.Events == 0 {
			t.Errorf("%s: only %d mails, %d events before the damage", f, s.Mails, s.Events)
		}
		if !strings.Contains(logBuf.String(), f) || !strings.Contains(logBuf.String(), "byte offset ") {
			t.Errorf("%s: log does not name file and offset:\n%s", f, logBuf.String())
		}
		if strings.HasSuffix(f, ".log") && !strings.Contains(logBuf.String(), "byte offset 24") {
			t.Logf("log: %s", logBuf.String())
		}
	}
}

// TestSinceUntil keeps only mails dated inside the window.
func TestSinceUntil(t *testing.T) {
	_, mails := testMails(t)
	cfg := testConfig(t)
	f := writeArchive(t, t.TempDir(), "a.mbox", mails, len(mails))
	since := time.Date(2008, 1, 1, 0, 0, 0, 0, time.UTC)
	until := time.Date(2009, 1, 1, 0, 0, 0, 0, time.UTC)
	inWindow := 0
	for _, raw := range mails {
		if d := headerDate(stripFromLine(raw)); !d.IsZero() && !d.Before(since) && d.Before(until) {
			inWindow++
		}
	}
	var dates []time.Time
	s := run(t, Options{Mode: ModeDryRun, Config: cfg, Classifier: newClassifier(cfg), Since: since, Until: until, Rate: 1e6,
		Logger: slog.New(slog.DiscardHandler), Observe: func(env *bus.Envelope, _ bool) {
			d, _ := time.Parse(time.RFC3339, env.Msg["mail"].(parsers.Object).Get("date").(string))
			dates = append(dates, d)
		}}, f)
	if inWindow == 0 || s.Mails-s.Filtered != inWindow {
		t.Errorf("replayed %d mails, want the %d of 2008", s.Mails-s.Filtered, inWindow)
	}
	for _, d := range dates {
		if d.Before(since) || !d.Before(until) {
			t.Errorf("event of a mail dated %v", d)
		}
	}
}

func stripFromLine(b []byte) []byte {
	if bytes.HasPrefix(b, []byte("From ")) {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			return b[i+1:]
		}
	}
	return b
}

// TestPublishFailure: when the bus fails, Run stops with an error, the
// journal keeps what was not published, and the next run publishes it
// before going on, each envelope once.
func TestPublishFailure(t *testing.T) {
	_, mails := testMails(t)
	p := newPublishSetup(t)
	f := writeArchive(t, t.TempDir(), "a.mbox", mails, len(mails))
	p.pub.Err = errors.New("bus down")
	if _, err := Run(context.Background(), p.options(), []string{f}); err == nil || !strings.Contains(err.Error(), "bus down") {
		t.Fatalf("Run with a failing bus: %v", err)
	}
	pending, _ := p.j.Unpublished(1000)
	if len(pending) == 0 {
		t.Fatal("nothing left unpublished in the journal")
	}
	p.pub.Err = nil
	run(t, p.options(), f)
	n, _ := p.j.Count()
	got, dup := distinct(msgIDs(p.pub.Envelopes()))
	if int64(got) != n || len(p.pub.Envelopes()) != got || dup != "" {
		t.Errorf("published %d (%d distinct, dup %q), journal %d", len(p.pub.Envelopes()), got, dup, n)
	}
	if left, _ := p.j.Unpublished(10); len(left) != 0 {
		t.Errorf("%d envelopes still unpublished", len(left))
	}
}
