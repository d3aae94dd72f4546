//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/debian/mailgw/internal/replayd"
)

// splitMbox writes the first n mails of the mbox at path to a and the
// rest to b (mails start at a "From " line after a blank line).
func splitMbox(t *testing.T, path string, n int, a, b string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at, seen := -1, 0
	for i := 0; i+6 <= len(data); {
		j := bytes.Index(data[i:], []byte("\n\nFrom "))
		if j < 0 {
			break
		}
		i += j + 2
		if seen++; seen == n {
			at = i
			break
		}
	}
	if at < 0 {
		t.Fatalf("%s has fewer than %d mails", path, n+1)
	}
	if err := os.WriteFile(a, data[:at], 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(b, data[at:], 0o644); err != nil {
		t.Fatal(err)
	}
}

// bodiesBlocks returns the bytes the bodies file takes on disk.
func bodiesBlocks(t *testing.T, state string) (blocks, length int64) {
	t.Helper()
	fi, err := os.Stat(filepath.Join(state, "journal.sqlite-bodies"))
	if err != nil {
		t.Fatal(err)
	}
	return fi.Sys().(*syscall.Stat_t).Blocks * 512, fi.Size()
}

// journalRow scans one row of a query on the journal in state into
// dest (read-only, beside whoever writes).
func journalRow(t *testing.T, state, q string, args []any, dest ...any) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(state, "journal.sqlite")+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRow(q, args...).Scan(dest...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// journalQuery returns the one integer a query on the journal yields.
func journalQuery(t *testing.T, state, q string, args ...any) int64 {
	t.Helper()
	var n int64
	journalRow(t, state, q, args, &n)
	return n
}

func runMailgw(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(mailgw, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("mailgw %s: %v\n%s", strings.Join(args, " "), err, tail(string(out), 3000))
	}
	return string(out)
}

// TestPrune100k: a journal of over 100,000 events (a signed replay of
// generated archives) is pruned to its last tenth: the bodies file takes
// about a tenth of the disk it took, the replay endpoint answers
// "pruned" for pruned ranges and msg_ids and serves the kept ones, a
// redelivered mail whose events are pruned is still a duplicate, and a
// backup taken while a replay feeds serve restores into a second serve
// that answers the same queries.
func TestPrune100k(t *testing.T) {
	d := newDaemon(t)
	dir := d.dir
	gen := filepath.Join(dir, "mboxgen")
	build := exec.Command("go", "build", "-o", gen, "./cmd/mboxgen")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build mboxgen: %v\n%s", err, out)
	}
	// 1.48 events per generated mail: 69,000 mails make over 100,000.
	all, old, recent := filepath.Join(dir, "all.mbox"), filepath.Join(dir, "old.mbox"), filepath.Join(dir, "recent.mbox")
	mails := filepath.Join(repoRoot, "testdata", "mails")
	if out, err := exec.Command(gen, "-n", "69000", "-mails", mails, "-o", all).CombinedOutput(); err != nil {
		t.Fatalf("mboxgen: %v\n%s", err, out)
	}
	splitMbox(t, all, 62100, old, recent)

	start := time.Now()
	runMailgw(t, "replay", "--publish", "--no-progress", "--config", d.config, old)
	oldLast := journalQuery(t, d.state, `SELECT MAX(seq_id) FROM envelopes`)
	oldTS := journalQuery(t, d.state, `SELECT MAX(timestamp) FROM envelopes`)
	// The recent tenth is journaled at least 5 s later (envelope
	// timestamps are whole seconds).
	for time.Now().Unix() < oldTS+5 {
		time.Sleep(100 * time.Millisecond)
	}
	runMailgw(t, "replay", "--publish", "--no-progress", "--config", d.config, recent)
	last := journalQuery(t, d.state, `SELECT MAX(seq_id) FROM envelopes`)
	split := journalQuery(t, d.state, `SELECT MIN(timestamp) FROM envelopes WHERE seq_id > ?`, oldLast)
	t.Logf("journaled %d events (%d old, %d recent) in %s", last, oldLast, last-oldLast, time.Since(start).Round(time.Millisecond))
	if last < 100000 || split < oldTS+5 {
		t.Fatalf("%d events, recent ones from %d, old ones up to %d", last, split, oldTS)
	}

	// Prune with the cutoff 2.5 s before the first recent envelope (and
	// 2.5 s after the last old one): the time the command takes to
	// start (well under a second) cannot move it across either.
	before, length := bodiesBlocks(t, d.state)
	retention := time.Since(time.Unix(split, 0)) + 2500*time.Millisecond
	start = time.Now()
	out := runMailgw(t, "journal", "prune", "--config", d.config, "--retention", retention.String())
	pruneTook := time.Since(start)
	after, length2 := bodiesBlocks(t, d.state)
	t.Logf("prune (%s): %s bodies file: %d -> %d bytes on disk (length %d -> %d)", pruneTook.Round(time.Millisecond),
		strings.TrimSpace(out), before, after, length, length2)
	if !strings.Contains(out, fmt.Sprintf("pruned %d bodies", oldLast)) || !strings.Contains(out, fmt.Sprintf("through seq_id %d,", oldLast)) {
		t.Errorf("prune output %q, want %d bodies pruned", out, oldLast)
	}
	kept := float64(last-oldLast) / float64(last)
	if got := float64(after) / float64(before); got > kept*1.2+0.01 || got < kept*0.8 {
		t.Errorf("bodies file takes %.3f of what it took; %.3f of the events are kept", got, kept)
	}

	// serve on the pruned journal: queries, and a redelivered old mail.
	d.start()
	ep := d.replayEndpoint(t)
	ctx := context.Background()
	_, err := replayd.QueryRaw(ctx, ep, replayd.SeqRange(1, 10), 30*time.Second)
	if through, ok := replayd.PrunedThrough(err); !ok || through != oldLast || !errors.Is(err, replayd.ErrPruned) {
		t.Errorf("pruned range: %v", err)
	}
	oldID := journalMsgID(t, d.state, 5)
	if _, err := replayd.QueryRaw(ctx, ep, replayd.Request{MsgID: oldID}, 30*time.Second); !errors.Is(err, replayd.ErrPruned) {
		t.Errorf("pruned msg_id %s: %v", oldID, err)
	}
	bodies, err := replayd.QueryRaw(ctx, ep, replayd.SeqRange(oldLast+1, oldLast+500), 30*time.Second)
	if err != nil || len(bodies) != 500 || !bytes.Contains(bodies[0], []byte(`"seq_id":`+strconv.FormatInt(oldLast+1, 10))) {
		t.Errorf("kept range: %d bodies, %v", len(bodies), err)
	}
	// The corpus mail is the archive's first: its events are pruned.
	deliver := exec.Command(mailgw, "deliver", "--config", d.config)
	deliver.Stdin, _ = os.Open(corpus("009-bash-accepted-2008.eml"))
	if out, err := deliver.CombinedOutput(); err != nil {
		t.Fatalf("deliver: %v\n%s", err, out)
	}
	waitFor(t, 60*time.Second, "the redelivered mail to be processed", func() bool {
		return strings.Contains(d.log.String(), "outcome=duplicate") && d.spoolEmpty()
	})
	if n := journalQuery(t, d.state, `SELECT MAX(seq_id) FROM envelopes`); n != last {
		t.Errorf("redelivered pruned mail journaled again: last seq_id %d, was %d", n, last)
	}

	// A backup while a replay feeds serve's spool.
	more := filepath.Join(dir, "more.mbox")
	if out, err := exec.Command(gen, "-n", "4000", "-seed", "7", "-mails", mails, "-o", more).CombinedOutput(); err != nil {
		t.Fatalf("mboxgen: %v\n%s", err, out)
	}
	replay := exec.Command(mailgw, "replay", "--no-progress", "--config", d.config, more)
	var replayOut bytes.Buffer
	replay.Stdout, replay.Stderr = &replayOut, &replayOut
	if err := replay.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 120*time.Second, "the replay to reach the journal", func() bool {
		return journalQuery(t, d.state, `SELECT MAX(seq_id) FROM envelopes`) > last
	})
	backup := filepath.Join(dir, "backup")
	out = runMailgw(t, "journal", "backup", "--config", d.config, backup)
	backupLast := journalQueryAt(t, filepath.Join(backup, "journal.sqlite"), `SELECT MAX(seq_id) FROM envelopes`)
	if err := replay.Wait(); err != nil {
		t.Fatalf("replay: %v\n%s", err, replayOut.String())
	}
	waitFor(t, 120*time.Second, "the replayed mail to be journaled", d.spoolEmpty)
	final := journalQuery(t, d.state, `SELECT MAX(seq_id) FROM envelopes`)
	t.Logf("backup during the replay: %s(seq_ids up to %d; the replay went on to %d)", out, backupLast, final)
	if backupLast <= last || backupLast >= final {
		t.Errorf("the backup (up to seq_id %d) was not taken during the replay (%d to %d)", backupLast, last, final)
	}

	// Restore into a second serve's state directory.
	r := newDaemon(t)
	if err := os.MkdirAll(r.state, 0o750); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"journal.sqlite", "journal.sqlite-bodies"} {
		if out, err := exec.Command("cp", "--sparse=always", filepath.Join(backup, f), r.state).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v\n%s", err, out)
		}
	}
	r.start()
	rep := r.replayEndpoint(t)
	if _, err := replayd.QueryRaw(ctx, rep, replayd.SeqRange(oldLast-5, oldLast+5), 30*time.Second); !errors.Is(err, replayd.ErrPruned) {
		t.Errorf("restored: pruned range: %v", err)
	}
	for lo := oldLast + 1; lo <= backupLast; lo += 1000 {
		hi := min(lo+999, backupLast)
		got, err := replayd.QueryRaw(ctx, rep, replayd.SeqRange(lo, hi), 30*time.Second)
		if err != nil || int64(len(got)) != hi-lo+1 {
			t.Fatalf("restored: [%d, %d]: %d bodies, %v", lo, hi, len(got), err)
		}
	}
	want, err := replayd.QueryRaw(ctx, ep, replayd.SeqRange(backupLast-9, backupLast), 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	got, err := replayd.QueryRaw(ctx, rep, replayd.SeqRange(backupLast-9, backupLast), 30*time.Second)
	if err != nil || !bytes.Equal(bytes.Join(got, nil), bytes.Join(want, nil)) {
		t.Errorf("restored journal's newest envelopes differ from the live one's: %v", err)
	}
	if _, err := replayd.QueryRaw(ctx, rep, replayd.SeqRange(backupLast+1, backupLast+1), 30*time.Second); !errors.Is(err, replayd.ErrNoMatch) {
		t.Errorf("restored: a seq_id after the backup: %v", err)
	}
}

// journalMsgID returns the msg_id of a seq_id.
func journalMsgID(t *testing.T, state string, seq int64) string {
	t.Helper()
	var id string
	journalRow(t, state, `SELECT msg_id FROM envelopes WHERE seq_id = ?`, []any{seq}, &id)
	return id
}

// journalQueryAt is journalQuery on the journal file at path.
func journalQueryAt(t *testing.T, path, q string) int64 {
	t.Helper()
	return journalQuery(t, filepath.Dir(path), q)
}

// TestServePrunesAtStart: serve with retention set prunes the published
// envelopes older than it when it starts (and logs it), and its metrics
// show the journal's and the quarantine's disk use.
func TestServePrunesAtStart(t *testing.T) {
	d := newDaemon(t)
	mbox := filepath.Join(d.dir, "few.mbox")
	gen := filepath.Join(d.dir, "mboxgen")
	build := exec.Command("go", "build", "-o", gen, "./cmd/mboxgen")
	build.Dir = repoRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build mboxgen: %v\n%s", err, out)
	}
	if out, err := exec.Command(gen, "-n", "300", "-mails", filepath.Join(repoRoot, "testdata", "mails"), "-o", mbox).CombinedOutput(); err != nil {
		t.Fatalf("mboxgen: %v\n%s", err, out)
	}
	runMailgw(t, "replay", "--publish", "--no-progress", "--config", d.config, mbox)
	last := journalQuery(t, d.state, `SELECT MAX(seq_id) FROM envelopes`)
	newest := journalQuery(t, d.state, `SELECT MAX(timestamp) FROM envelopes`)
	for time.Now().Unix() <= newest+1 {
		time.Sleep(100 * time.Millisecond)
	}
	cfg, err := os.ReadFile(d.config)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.config, append([]byte("retention = \"1s\"\n"), cfg...), 0o644); err != nil {
		t.Fatal(err)
	}
	d.start()
	want := fmt.Sprintf("msg=\"journal pruned\" component=journal bodies=%d keys=0", last)
	waitFor(t, 60*time.Second, "serve's prune at start", func() bool { return strings.Contains(d.log.String(), want) })
	if _, err := replayd.QueryRaw(context.Background(), d.replayEndpoint(t), replayd.SeqRange(1, 1), 30*time.Second); !errors.Is(err, replayd.ErrPruned) {
		t.Errorf("seq_id 1 after serve's prune: %v", err)
	}
	// A mail that makes no event lands in quarantine.
	deliver := exec.Command(mailgw, "deliver", "--config", d.config)
	deliver.Stdin = strings.NewReader("Subject: nothing to see\n\nx\n")
	if out, err := deliver.CombinedOutput(); err != nil {
		t.Fatalf("deliver: %v\n%s", err, out)
	}
	waitFor(t, 60*time.Second, "mailgw_quarantine_mails 1", func() bool {
		v, ok := d.metric("mailgw_quarantine_mails")
		return ok && v == 1
	})
	for _, m := range []string{`mailgw_journal_bytes{file="bodies"}`, `mailgw_journal_bytes{file="database"}`, "mailgw_quarantine_bytes"} {
		if v, ok := d.metric(m); !ok || v <= 0 {
			t.Errorf("/metrics: %s = %v (present: %v)", m, v, ok)
		}
	}
}
