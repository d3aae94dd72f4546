//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runServeExit runs serve on d's config and returns its exit code and
// output; serve must exit by itself within 30 s (it refuses to start).
func (d *daemon) runServeExit(t *testing.T) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, mailgw, "serve", "--config", d.config)
	out, _ := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("serve did not exit within 30s:\n%s", out)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

// sendCorpus sends n copies of a corpus mail with fresh Message-IDs over
// SMTP (swaks) and waits until their events are journaled.
func (d *daemon) sendCorpus(t *testing.T, prefix string, n int) {
	t.Helper()
	var ids []string
	for i := range n {
		m := writeMail(t, t.TempDir(), "100-report-476920-xulrunner-FTBFS-sparc.eml", fmt.Sprintf("%s-%d@e2e", prefix, i))
		ids = append(ids, parseIDs(t, m)...)
		d.swaks(t, m)
	}
	waitFor(t, 60*time.Second, "the mails to be journaled", func() bool { return d.hasIDs(ids) })
}

// TestHostileJournalHalves (issue 14, item 3): journal.sqlite deleted or
// emptied beside its bodies file, the bodies file deleted, emptied or
// another journal's: serve exits 78 naming both files and the recovery,
// and changes nothing (before the fix it started a new journal, cut the
// bodies file and restarted seq_ids at 1). With the files restored it
// starts and goes on from the last seq_id.
func TestHostileJournalHalves(t *testing.T) {
	d := newDaemon(t)
	d.start()
	d.sendCorpus(t, "halves", 2)
	_, lastSeq, _ := d.journal()
	d.stop()
	jpath := filepath.Join(d.state, "journal.sqlite")
	bpath := jpath + "-bodies"
	saved := t.TempDir()
	save := func(dir string) {
		for _, f := range []string{jpath, bpath} {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o640)
		}
	}
	restore := func() {
		for _, f := range []string{jpath, bpath} {
			b, _ := os.ReadFile(filepath.Join(saved, filepath.Base(f)))
			os.WriteFile(f, b, 0o640)
		}
		os.Remove(jpath + "-wal")
		os.Remove(jpath + "-shm")
	}
	save(saved)

	// Another journal, for a foreign bodies file.
	other := newDaemon(t)
	other.start()
	other.sendCorpus(t, "other", 1)
	other.stop()
	otherBodies, _ := os.ReadFile(filepath.Join(other.state, "journal.sqlite-bodies"))

	for _, c := range []struct {
		name   string
		damage func()
		want   string
	}{
		{"journal deleted", func() { os.Remove(jpath) }, "the journal is missing"},
		{"journal emptied", func() { os.Truncate(jpath, 0) }, "the journal is empty"},
		{"bodies deleted", func() { os.Remove(bpath) }, "the bodies file is missing or empty"},
		{"bodies emptied", func() { os.Truncate(bpath, 0) }, "the bodies file is missing or empty"},
		{"bodies foreign", func() { os.WriteFile(bpath, otherBodies, 0o640) }, "belongs to another journal"},
	} {
		t.Run(c.name, func(t *testing.T) {
			restore()
			c.damage()
			before, _ := os.ReadFile(bpath)
			code, out := d.runServeExit(t)
			if code != 78 {
				t.Fatalf("serve exited %d, want 78:\n%s", code, out)
			}
			for _, want := range []string{c.want, jpath, bpath, "docs/recovery.md", "restore both files together"} {
				if !strings.Contains(out, want) {
					t.Errorf("serve's message does not say %q:\n%s", want, out)
				}
			}
			if after, _ := os.ReadFile(bpath); !bytes.Equal(after, before) {
				t.Errorf("bodies file changed from %d to %d bytes", len(before), len(after))
			}
		})
	}
	restore()
	d.start()
	d.sendCorpus(t, "after", 1)
	if _, seq, _ := d.journal(); seq != lastSeq+2 {
		t.Errorf("after restoring, the next mail's last seq_id is %d, want %d", seq, lastSeq+2)
	}
}

// replayQuery sends one request to serve's replay endpoint with a real
// libzmq REQ socket (test/python/replay_req.py) and returns the frames.
func (d *daemon) replayQuery(t *testing.T, req string) []string {
	t.Helper()
	cmd := exec.Command(python, filepath.Join(repoRoot, "test", "python", "replay_req.py"), fmt.Sprintf("tcp://127.0.0.1:%d", d.replayPort))
	cmd.Stdin = strings.NewReader(fmt.Sprintf("[%q]\n", req))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("replay_req.py: %v\n%s", err, out)
	}
	var r struct{ Frames []string }
	if err := json.Unmarshal(bytes.TrimSpace(out), &r); err != nil {
		t.Fatalf("replay_req.py printed %q: %v", out, err)
	}
	return r.Frames
}

// TestHostileJournalDamage (issue 14, item 4): a flipped byte in one body
// no longer fails every replay query over its range: the replay endpoint
// answers a real pyzmq REQ client with the undamaged envelopes and
// reports the damaged one in the log and mailgw_journal_damaged_bodies_total;
// "mailgw journal check" lists its seq_id, and finds a flipped byte on
// the database's last page through SQLite's integrity check.
func TestHostileJournalDamage(t *testing.T) {
	d := newDaemon(t)
	d.start()
	d.sendCorpus(t, "damage", 3) // 6 envelopes (with debmessenger's)
	bpath := filepath.Join(d.state, "journal.sqlite-bodies")
	b, _ := os.ReadFile(bpath)
	lines := bytes.SplitAfter(b, []byte("\n")) // line 0: the identity
	off := 0
	for _, l := range lines[:3] {
		off += len(l)
	}
	off += 40 // inside seq_id 3's body
	f, _ := os.OpenFile(bpath, os.O_RDWR, 0)
	f.WriteAt([]byte{b[off] ^ 0x01}, int64(off))
	f.Close()

	frames := d.replayQuery(t, `{"seq_id_range": [1, 6]}`)
	var seqs []int64
	for _, fr := range frames {
		var env struct {
			SeqID int64 `json:"seq_id"`
		}
		if err := json.Unmarshal([]byte(fr), &env); err != nil {
			t.Fatalf("reply frame %.100q: %v", fr, err)
		}
		seqs = append(seqs, env.SeqID)
	}
	t.Logf("replay of [1, 6] with seq_id 3 damaged: seq_ids %v", seqs)
	if fmt.Sprint(seqs) != "[1 2 4 5 6]" {
		t.Errorf("replay answered seq_ids %v, want [1 2 4 5 6]", seqs)
	}
	if v, _ := d.metric("mailgw_journal_damaged_bodies_total"); v < 1 {
		t.Errorf("mailgw_journal_damaged_bodies_total = %v, want >= 1", v)
	}
	if !strings.Contains(d.log.String(), "journal: damaged body left out of a reply") || !strings.Contains(d.log.String(), "seq_id=3") {
		t.Errorf("serve did not log the damaged seq_id 3")
	}

	check := func() (int, string) {
		out, err := exec.Command(mailgw, "journal", "check", "--config", d.config).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return code, string(out)
	}
	code, out := check()
	t.Logf("journal check:\n%s", out)
	if code != 1 || !strings.Contains(out, "damaged seq_id 3\n") || strings.Contains(out, "damaged seq_id 1\n") {
		t.Errorf("journal check: exit %d, want 1 and seq_id 3 listed:\n%s", code, out)
	}
	d.stop()

	// Damage the database's last page.
	jpath := filepath.Join(d.state, "journal.sqlite")
	fi, _ := os.Stat(jpath)
	f, _ = os.OpenFile(jpath, os.O_RDWR, 0)
	one := make([]byte, 1)
	at := fi.Size() - 16384 + 1
	f.ReadAt(one, at)
	f.WriteAt([]byte{one[0] ^ 0xff}, at)
	f.Close()
	code, out = check()
	t.Logf("journal check after the last page was damaged:\n%s", out)
	if code != 1 || !strings.Contains(out, "integrity: ") {
		t.Errorf("journal check: exit %d, want 1 with integrity errors:\n%s", code, out)
	}
}

// TestHostileSecretsAndLock (issue 14, items 11 and 13): serve and
// --check-config refuse a signing key that group or others can read, or
// that sits in a directory others can write, saying how to fix it; the
// journal files are created 0640; a second serve on the same state_dir
// exits 78 naming the running one's pid, which goes on serving.
func TestHostileSecretsAndLock(t *testing.T) {
	keyDir := filepath.Join(t.TempDir(), "keys")
	os.Mkdir(keyDir, 0o700)
	key := filepath.Join(keyDir, "signing.asc")
	if out, err := exec.Command(mailgw, "keygen", "--secret", key, "--public", key+".pub").CombinedOutput(); err != nil {
		t.Fatalf("keygen: %v\n%s", err, out)
	}
	d := newDaemonWith(t, fmt.Sprintf("gpg_signing_key = %q", key), "")
	checkConfig := func() (int, string) {
		out, err := exec.Command(mailgw, "serve", "--config", d.config, "--check-config").CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		return 0, string(out)
	}
	for _, c := range []struct {
		name     string
		key, dir os.FileMode
		want     string
	}{
		{"key readable by others", 0o644, 0o700, "chmod 600 " + key},
		{"key readable by the group", 0o640, 0o700, "chmod 600 " + key},
		{"directory writable by others", 0o600, 0o777, "chmod o-w " + keyDir},
	} {
		os.Chmod(key, c.key)
		os.Chmod(keyDir, c.dir)
		if code, out := d.runServeExit(t); code != 78 || !strings.Contains(out, c.want) {
			t.Errorf("%s: serve exited %d, want 78 saying %q:\n%s", c.name, code, c.want, out)
		}
		if code, out := checkConfig(); code != 78 || !strings.Contains(out, c.want) {
			t.Errorf("%s: --check-config exited %d, want 78 saying %q:\n%s", c.name, code, c.want, out)
		}
	}
	os.Chmod(key, 0o600)
	os.Chmod(keyDir, 0o700)
	if code, out := checkConfig(); code != 0 {
		t.Fatalf("--check-config with a private key: exit %d\n%s", code, out)
	}
	d.start()
	d.sendCorpus(t, "secrets", 1)
	for _, f := range []string{"journal.sqlite", "journal.sqlite-bodies", "journal.sqlite-wal"} {
		fi, err := os.Stat(filepath.Join(d.state, f))
		if err != nil || fi.Mode().Perm() != 0o640 {
			t.Errorf("%s: mode %v (%v), want 0640", f, fi.Mode().Perm(), err)
		}
	}

	// A second serve on the same state_dir.
	code, out := d.runServeExit(t)
	want := fmt.Sprintf("mailgw serve (pid %d) is already running on state_dir %s", d.cmd.Process.Pid, d.state)
	if code != 78 || !strings.Contains(out, want) {
		t.Errorf("second serve exited %d, want 78 saying %q:\n%s", code, want, out)
	}
	d.sendCorpus(t, "still", 1) // the first one still serves
}
