//go:build e2e

package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// mountTmpfs mounts a tmpfs of size bytes on a fresh directory and
// unmounts it when the test ends (tests run as root, as CI does). Call
// it before newDaemon, so that serve has stopped when it is unmounted.
func mountTmpfs(t *testing.T, size int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "fs")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs (the tests run as root): %v\n%s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", dir, err, out)
		}
	})
	return dir
}

// fill writes a file into dir until its file system is full and returns
// the file's path.
func fill(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "filler")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 64<<10)
	for {
		if _, err := f.Write(buf); err != nil {
			return p
		}
	}
}

// adminGet returns the status code and body of an admin URL path.
func (d *daemon) adminGet(path string) (int, string) {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", d.admin, path))
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestHostileDiskFull (issue 14, items 9 and 10): the quarantine and the
// journal each on a small file system that fills up. /healthz answers
// 503 with the reason (quarantine moves, journal writes, then the age of
// the oldest spooled mail) while /livez stays 200; once space returns,
// the mail that could not be quarantined or journaled goes through
// without a restart and /healthz is 200 again.
func TestHostileDiskFull(t *testing.T) {
	qfs := mountTmpfs(t, 1<<20)
	jfs := mountTmpfs(t, 8<<20)
	d := newDaemonWith(t,
		fmt.Sprintf("quarantine_dir = %q\njournal = %q", filepath.Join(qfs, "q"), filepath.Join(jfs, "journal.sqlite")),
		`max_spool_age = "4s"`)
	d.journalPath = filepath.Join(jfs, "journal.sqlite")
	d.start()
	waitFor(t, 30*time.Second, "/healthz 200", func() bool { c, _ := d.adminGet("/healthz"); return c == 200 })

	// Quarantine on a full disk.
	filler := fill(t, qfs)
	noRule := filepath.Join(t.TempDir(), "no-rule.eml")
	os.WriteFile(noRule, []byte("From: a@example.org\r\nSubject: nothing to publish\r\nMessage-ID: <no-rule@e2e>\r\n\r\nhello\r\n"), 0o644)
	d.swaks(t, noRule)
	waitFor(t, 30*time.Second, "/healthz to report the quarantine failure", func() bool {
		c, body := d.adminGet("/healthz")
		return c == 503 && strings.Contains(body, "quarantine: ")
	})
	_, body := d.adminGet("/healthz")
	t.Logf("/healthz with the quarantine disk full: %q", body)
	if c, _ := d.adminGet("/livez"); c != 200 {
		t.Errorf("/livez = %d while unready, want 200", c)
	}
	if v, _ := d.metric("mailgw_ready"); v != 0 {
		t.Errorf("mailgw_ready = %v, want 0", v)
	}
	if d.spoolEmpty() {
		t.Fatalf("the mail left new/ although quarantine failed")
	}
	os.Remove(filler)
	freed := time.Now()
	waitFor(t, 90*time.Second, "the mail to reach quarantine once space returned", func() bool {
		es, _ := os.ReadDir(filepath.Join(qfs, "q"))
		return len(es) == 2 && d.spoolEmpty() // the mail and its .reason
	})
	t.Logf("quarantined %.1fs after space returned, without a restart", time.Since(freed).Seconds())
	waitFor(t, 30*time.Second, "/healthz 200 again", func() bool { c, _ := d.adminGet("/healthz"); return c == 200 })

	// Journal on a full disk.
	filler = fill(t, jfs)
	mail := writeMail(t, t.TempDir(), "100-report-476920-xulrunner-FTBFS-sparc.eml", "disk-full@e2e")
	ids := parseIDs(t, mail)
	d.swaks(t, mail)
	waitFor(t, 30*time.Second, "/healthz to report the journal failure and the spool's age", func() bool {
		c, body := d.adminGet("/healthz")
		return c == 503 && strings.Contains(body, "journal: ") && strings.Contains(body, "spool: oldest of 1 mails")
	})
	_, body = d.adminGet("/healthz")
	t.Logf("/healthz with the journal disk full: %q", body)
	os.Remove(filler)
	freed = time.Now()
	waitFor(t, 60*time.Second, "the mail to be journaled once space returned", func() bool { return d.hasIDs(ids) && d.spoolEmpty() })
	t.Logf("journaled %.1fs after space returned", time.Since(freed).Seconds())
	waitFor(t, 30*time.Second, "/healthz 200 again", func() bool { c, _ := d.adminGet("/healthz"); return c == 200 })
}
