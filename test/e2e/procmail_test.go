//go:build e2e

package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestProcmailExample runs the shipped etc/mta/procmailrc, paths
// substituted, with real procmail: a dak mail reaches the spool; with the
// spool gone, procmail exits 75 so the MTA retries instead of filing the
// mail elsewhere.
func TestProcmailExample(t *testing.T) {
	procmail := need(t, "procmail")
	d := newDaemon(t)
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(d.state, "spool", sub), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	example, err := os.ReadFile(filepath.Join(repoRoot, "etc", "mta", "procmailrc"))
	if err != nil {
		t.Fatal(err)
	}
	rc := strings.NewReplacer("/usr/local/bin/mailgw", mailgw, "$HOME/.config/mailgw/mailgw.toml", d.config).Replace(string(example))
	if !strings.Contains(rc, mailgw+" deliver --config "+d.config) {
		t.Fatalf("etc/mta/procmailrc does not pipe to mailgw deliver --config:\n%s", example)
	}
	rcFile := filepath.Join(d.dir, "procmailrc")
	if err := os.WriteFile(rcFile, []byte(rc), 0o644); err != nil {
		t.Fatal(err)
	}
	mail, err := os.ReadFile(corpus("001-xfsdump-accepted-maintainer-2025.eml"))
	if err != nil {
		t.Fatal(err)
	}
	deliver := func() (int, string) {
		cmd := exec.Command(procmail, "-m", rcFile)
		cmd.Stdin = bytes.NewReader(mail)
		cmd.Env = append(os.Environ(), "HOME="+d.dir, "MAILDIR="+d.dir)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	if code, out := deliver(); code != 0 {
		t.Fatalf("procmail exit %d, want 0\n%s", code, out)
	}
	news, _ := os.ReadDir(filepath.Join(d.state, "spool", "new"))
	if len(news) != 1 {
		t.Fatalf("spool/new holds %d mails after procmail, want 1", len(news))
	}
	got, _ := os.ReadFile(filepath.Join(d.state, "spool", "new", news[0].Name()))
	if !bytes.Equal(got, mail) {
		t.Error("the spooled mail differs from the one procmail got")
	}

	if err := os.Rename(filepath.Join(d.state, "spool"), filepath.Join(d.state, "spool.away")); err != nil {
		t.Fatal(err)
	}
	if code, out := deliver(); code != 75 {
		t.Fatalf("procmail with the spool missing: exit %d, want 75 (EX_TEMPFAIL)\n%s", code, out)
	}
}
