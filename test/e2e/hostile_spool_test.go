//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// swaks sends the mail file to serve's SMTP listener with swaks (a real
// SMTP client) and returns its output; it fails the test on an error.
func (d *daemon) swaks(t *testing.T, file string) string {
	t.Helper()
	out, err := exec.Command(need(t, "swaks"), "--server", d.smtpAddr(), "--from", "sender@example.org",
		"--to", "mailgw@localhost", "--data", file, "--suppress-data").CombinedOutput()
	if err != nil {
		t.Fatalf("swaks %s: %v\n%s", filepath.Base(file), err, out)
	}
	return string(out)
}

// writeMail writes a corpus mail with a fresh Message-ID to dir and
// returns its path.
func writeMail(t *testing.T, dir, corpusName, id string) string {
	t.Helper()
	p := filepath.Join(dir, id+".eml")
	if err := os.WriteFile(p, mailTemplate(t, corpusName)(id), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// vmHWM returns the peak resident set size of a process, in bytes, from
// /proc/<pid>/status.
func vmHWM(t testing.TB, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^VmHWM:\s+(\d+) kB`).FindSubmatch(b)
	if m == nil {
		t.Fatalf("no VmHWM in /proc/%d/status", pid)
	}
	kb, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return kb << 10
}

// hasIDs reports whether every msg_id of ids is in the journal.
func (d *daemon) hasIDs(ids []string) bool {
	have, _, _ := d.journal()
	for _, id := range ids {
		if have[id] == 0 {
			return false
		}
	}
	return true
}

// TestHostileSpoolEntries (issue 14, items 1 and 2): what a local user
// who can write the spool drops into new/ and tmp/ is never followed,
// blocked on or read whole. In new/: a symlink to a root-only mail
// (it would publish), four FIFOs, a directory and a 1 GiB file; in tmp/:
// serve's recycled files swapped for symlinks to a root-only file. Every
// odd entry ends in quarantine, real SMTP mail keeps flowing, the
// root-only files are neither published nor overwritten, serve's peak
// RSS stays far below the 1 GiB file, and SIGTERM stops it promptly.
func TestHostileSpoolEntries(t *testing.T) {
	d := newDaemon(t, `max_message_bytes = 1048576`)
	d.start()
	newDir := filepath.Join(d.state, "spool", "new")
	secretDir := t.TempDir()

	// A root-only mail that would be published if followed.
	secret := writeMail(t, secretDir, "100-report-476920-xulrunner-FTBFS-sparc.eml", "secret@e2e")
	os.Chmod(secret, 0o600)
	secretIDs := parseIDs(t, secret)
	if err := os.Symlink(secret, filepath.Join(newDir, "evil-link")); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if err := syscall.Mkfifo(filepath.Join(newDir, fmt.Sprintf("fifo%d", i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(newDir, "a-directory"), 0o755); err != nil {
		t.Fatal(err)
	}
	// Made beside the spool and renamed in whole, as a Maildir writer does.
	hugeTmp := filepath.Join(d.state, "huge")
	huge, err := os.Create(hugeTmp)
	if err != nil {
		t.Fatal(err)
	}
	huge.WriteString("From: a@example.org\nSubject: huge\n\n")
	if err := huge.Truncate(1 << 30); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	huge.Close()
	if err := os.Rename(hugeTmp, filepath.Join(newDir, "huge")); err != nil {
		t.Fatal(err)
	}

	// Real SMTP mail still goes through.
	good := writeMail(t, t.TempDir(), "100-report-476920-xulrunner-FTBFS-sparc.eml", "good-1@e2e")
	goodIDs := parseIDs(t, good)
	d.swaks(t, good)
	waitFor(t, 60*time.Second, "the SMTP mail to be journaled", func() bool { return d.hasIDs(goodIDs) })

	odd := []string{"evil-link", "fifo0", "fifo1", "fifo2", "fifo3", "a-directory", "huge"}
	quarantine := filepath.Join(d.state, "quarantine")
	waitFor(t, 60*time.Second, "every odd entry to be quarantined", func() bool {
		for _, n := range odd {
			if _, err := os.Lstat(filepath.Join(quarantine, n+".reason")); err != nil {
				return false
			}
		}
		return true
	})
	for _, n := range odd {
		reason, _ := os.ReadFile(filepath.Join(quarantine, n+".reason"))
		want := "spool entry is not a regular mail file"
		if n == "huge" {
			want = "over max_message_bytes: 1073741824 bytes"
		}
		if !bytes.Contains(reason, []byte(want)) {
			t.Errorf("%s: reason %q, want %q", n, reason, want)
		}
	}
	if fi, err := os.Lstat(filepath.Join(quarantine, "evil-link")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("the symlink itself should be in quarantine: %v %v", fi, err)
	}
	if d.hasIDs(secretIDs) {
		t.Errorf("the root-only mail behind the symlink was published")
	}
	hwm := vmHWM(t, d.cmd.Process.Pid)
	t.Logf("serve peak RSS with a 1 GiB file in new/: %d MiB", hwm>>20)
	if hwm > 200<<20 {
		t.Errorf("serve peak RSS %d MiB: the 1 GiB file was read", hwm>>20)
	}

	// tmp/: serve keeps processed mail files there for reuse; swap them
	// for symlinks to a root-only file.
	target := filepath.Join(secretDir, "root-only")
	if err := os.WriteFile(target, []byte("ORIGINAL\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tmpDir := filepath.Join(d.state, "spool", "tmp")
	ents, _ := os.ReadDir(tmpDir)
	swapped := 0
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".free.") {
			p := filepath.Join(tmpDir, e.Name())
			os.Remove(p)
			if err := os.Symlink(target, p); err != nil {
				t.Fatal(err)
			}
			swapped++
		}
	}
	if swapped == 0 {
		t.Fatalf("no recycled file in tmp/ to swap: %v", ents)
	}
	good2 := writeMail(t, t.TempDir(), "100-report-476920-xulrunner-FTBFS-sparc.eml", "good-2@e2e")
	ids2 := parseIDs(t, good2)
	d.swaks(t, good2)
	waitFor(t, 60*time.Second, "the second SMTP mail to be journaled", func() bool { return d.hasIDs(ids2) })
	if b, _ := os.ReadFile(target); string(b) != "ORIGINAL\n" {
		t.Errorf("serve wrote through a symlink in tmp/: the root-only file now holds %q", tail(string(b), 200))
	}
	if v, _ := d.metric("mailgw_spool_refused_entries_total"); v < 1 {
		t.Errorf("mailgw_spool_refused_entries_total = %v, want >= 1", v)
	}
	if v, _ := d.metric(`mailgw_mails_quarantined_total{reason="bad-entry"}`); v != 6 {
		t.Errorf(`quarantined{reason="bad-entry"} = %v, want 6`, v)
	}
	if v, _ := d.metric(`mailgw_mails_quarantined_total{reason="too-big"}`); v != 1 {
		t.Errorf(`quarantined{reason="too-big"} = %v, want 1`, v)
	}

	// More FIFOs, then SIGTERM: it must still stop promptly.
	for i := range 4 {
		syscall.Mkfifo(filepath.Join(newDir, fmt.Sprintf("late-fifo%d", i)), 0o644)
	}
	start := time.Now()
	d.stop()
	took := time.Since(start)
	t.Logf("serve stopped %.2fs after SIGTERM", took.Seconds())
	if took > 15*time.Second {
		t.Errorf("serve took %v to stop after SIGTERM", took)
	}
}
