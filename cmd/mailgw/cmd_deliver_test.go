package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debian/mailgw/internal/spool"
)

const spoolTestMail = "From: ftpmaster@ftp-master.debian.org\nSubject: Accepted hello 2.10-3 (source) into unstable\nMessage-ID: <x@debian.org>\n\nbody\n"

func TestDeliverExitCodes(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "mailgw.toml")
	spoolDir := filepath.Join(dir, "state", "spool")

	// Spool missing: 75, and deliver does not create it.
	code, _, stderr := run(t, []byte(spoolTestMail), "deliver", "--config", cfg)
	if code != 75 || !strings.Contains(stderr, "spool") {
		t.Fatalf("missing spool: exit %d, %q", code, stderr)
	}
	if _, err := os.Stat(spoolDir); !os.IsNotExist(err) {
		t.Fatalf("deliver created the spool: %v", err)
	}
	// Config unreadable or broken: 75 so the MTA retries.
	if code, _, _ := run(t, []byte(spoolTestMail), "deliver", "--config", filepath.Join(dir, "nope.toml")); code != 75 {
		t.Errorf("missing config: exit %d, want 75", code)
	}
	bad := filepath.Join(dir, "bad.toml")
	os.WriteFile(bad, []byte("state_dir = [unclosed\n"), 0o644)
	if code, _, _ := run(t, []byte(spoolTestMail), "deliver", "--config", bad); code != 75 {
		t.Errorf("broken config: exit %d, want 75", code)
	}

	// Spooled: 0, byte for byte in new/.
	if err := spool.Create(spoolDir); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := run(t, []byte(spoolTestMail), "deliver", "--config", cfg); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	ents, _ := os.ReadDir(filepath.Join(spoolDir, "new"))
	if len(ents) != 1 {
		t.Fatalf("new/ has %d files", len(ents))
	}
	if got, _ := os.ReadFile(filepath.Join(spoolDir, "new", ents[0].Name())); string(got) != spoolTestMail {
		t.Errorf("spooled %q", got)
	}

	// Spool full (free space below spool_min_free_bytes): 75 with 452.
	full := writeConfig(t, dir, "full.toml", "spool_min_free_bytes = 4611686018427387904")
	if code, _, stderr := run(t, []byte(spoolTestMail), "deliver", "--config", full); code != 75 || !strings.Contains(stderr, "452") {
		t.Errorf("full spool: exit %d, %q", code, stderr)
	}
	// Over the size limit: 75 too (docs/errors.md: only usage errors get other
	// codes); the reason names the limit.
	small := writeConfig(t, dir, "small.toml", "[smtp]", "max_message_bytes = 10")
	if code, _, stderr := run(t, []byte(spoolTestMail), "deliver", "--config", small); code != 75 || !strings.Contains(stderr, "552") {
		t.Errorf("too big: exit %d, %q", code, stderr)
	}
	// Usage error: 64.
	if code, _, _ := run(t, nil, "deliver", "--config", cfg, "extra"); code != 64 {
		t.Errorf("extra argument: exit %d, want 64", code)
	}

	// Unwritable spool. Tests run as root, so a chmod would not stop a
	// write; make tmp/ a regular file instead (and a spool under a file).
	tmp := filepath.Join(spoolDir, "tmp")
	os.Remove(tmp)
	os.WriteFile(tmp, nil, 0o644)
	if code, _, stderr := run(t, []byte(spoolTestMail), "deliver", "--config", cfg); code != 75 {
		t.Errorf("tmp/ not a directory: exit %d, %q", code, stderr)
	}
	underFile := writeConfig(t, dir, "underfile.toml", fmt.Sprintf("spool_dir = %q", filepath.Join(cfg, "spool")))
	if code, _, _ := run(t, []byte(spoolTestMail), "deliver", "--config", underFile); code != 75 {
		t.Errorf("spool under a file: exit %d", code)
	}
	// The operator fixes it; the retried delivery succeeds.
	os.Remove(tmp)
	os.Mkdir(tmp, 0o750)
	if code, _, stderr := run(t, []byte(spoolTestMail), "deliver", "--config", cfg); code != 0 {
		t.Errorf("after the fix: exit %d, %s", code, stderr)
	}
}

// TestDeliverSender: the envelope sender from -f, or else $SENDER, is
// kept in the spool name (spool.Origin), outside the mail's bytes.
func TestDeliverSender(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "mailgw.toml")
	spoolDir := filepath.Join(dir, "state", "spool")
	if err := spool.Create(spoolDir); err != nil {
		t.Fatal(err)
	}
	senders := func() []string {
		ents, _ := os.ReadDir(filepath.Join(spoolDir, "new"))
		var out []string
		for _, e := range ents {
			got, _ := os.ReadFile(filepath.Join(spoolDir, "new", e.Name()))
			if string(got) != spoolTestMail {
				t.Errorf("mail changed: %q", got)
			}
			out = append(out, spool.OriginOf(e.Name()).Sender)
			os.Remove(filepath.Join(spoolDir, "new", e.Name()))
		}
		return out
	}
	if code, _, stderr := run(t, []byte(spoolTestMail), "deliver", "--config", cfg, "-f", "<owner@bugs.debian.org>"); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if got := senders(); len(got) != 1 || got[0] != "owner@bugs.debian.org" {
		t.Fatalf("-f: %q", got)
	}
	cmd := exec.Command(testBin(t), "deliver", "--config", cfg)
	cmd.Stdin = strings.NewReader(spoolTestMail)
	cmd.Env = append(os.Environ(), "SENDER=dak@ftp-master.debian.org")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got := senders(); len(got) != 1 || got[0] != "dak@ftp-master.debian.org" {
		t.Fatalf("$SENDER: %q", got)
	}
	// The null sender (bounces) is no sender.
	if code, _, _ := run(t, []byte(spoolTestMail), "deliver", "--config", cfg, "-f", ""); code != 0 {
		t.Fatal(code)
	}
	if got := senders(); len(got) != 1 || got[0] != "" {
		t.Fatalf("null sender: %q", got)
	}
}
