//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// swaksFrom is swaks with envelope sender from.
func (p *postfix) swaksFrom(from, rcpt, file string) {
	p.t.Helper()
	out, err := exec.Command(need(p.t, "swaks"), "--server", fmt.Sprintf("127.0.0.1:%d", p.port),
		"--from", from, "--to", rcpt, "--data", file, "--suppress-data").CombinedOutput()
	if err != nil {
		p.t.Fatalf("swaks %s: %v\n%s", filepath.Base(file), err, out)
	}
}

// TestPostfixTrust: through the private postfix instance, a relay in
// trusted_relays (postfix's SMTP client, bound to 127.0.0.2) and a pipe
// delivery from an accepted envelope sender give trusted events on a
// python3-zmq subscriber; a forged "Accepted" mail piped from another
// sender, under action = "quarantine", lands in quarantine with reason
// "untrusted: …" and never reaches the subscriber. Under "publish" (the
// operator changes the policy, reloads serve with SIGHUP and requeues it)
// it arrives with trusted false.
func TestPostfixTrust(t *testing.T) {
	trust := `
[trust]
trusted_relays = ["127.0.0.2"]
dns_resolver = "127.0.0.1:9"
dns_timeout = "1s"
[trust.dak]
senders = ["dak@ftp-master.debian.org"]
action = "%s"
[trust.debbugs]
action = "quarantine"
`
	d := newDaemon(t, fmt.Sprintf(trust, "quarantine"))
	p := startPostfix(t, d, "smtp_bind_address = 127.0.0.2")
	d.start()
	sub := d.subscribe(t)

	real := corpus("001-xfsdump-accepted-maintainer-2025.eml")
	relayed := corpus("117-done-1000974-by-done-mail.eml")
	forged := corpus("009-bash-accepted-2008.eml")
	p.swaksFrom("dak@ftp-master.debian.org", "x@pipe.test", real)
	p.swaksFrom("owner@bugs.debian.org", "mailgw@smtp.test", relayed)
	p.swaksFrom("someone@example.org", "x@pipe.test", forged)

	want := parseIDs(t, real, relayed)
	expectOnce(t, sub, want, 0)
	for _, m := range sub.messages() {
		dm := strings.Contains(m.Topic, ".debmessenger.")
		if dm && m.Trusted != nil || !dm && (m.Trusted == nil || !*m.Trusted) {
			t.Errorf("%s %s: trusted %v", m.Topic, m.MsgID, m.Trusted)
		}
	}
	waitFor(t, 30*time.Second, "the forged mail in quarantine", func() bool {
		es, _ := filepath.Glob(filepath.Join(d.state, "quarantine", "*.reason"))
		return len(es) == 1
	})
	reasons, _ := filepath.Glob(filepath.Join(d.state, "quarantine", "*.reason"))
	reason, _ := os.ReadFile(reasons[0])
	if !strings.HasPrefix(string(reason), "reason: untrusted: nothing proves this dak mail") || !strings.Contains(string(reason), "sender someone@example.org") {
		t.Errorf("reason file:\n%s", reason)
	}
	for _, want := range []string{`"by":"pipe:dak@ftp-master.debian.org"`, `"by":"relay:127.0.0.2"`} {
		if n := d.journalContains(want); n == 0 {
			t.Errorf("no journaled event with %s", want)
		}
	}
	if n := len(sub.messages()); n != len(want) {
		t.Errorf("%d messages on the bus, want %d (the forged mail's must not be there)", n, len(want))
	}

	// The operator publishes unproven dak mail after all, marked: a reload
	// puts the new policy in force.
	if err := os.WriteFile(d.config, []byte(strings.Replace(mustRead(t, d.config), `action = "quarantine"`, `action = "publish"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	d.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, 20*time.Second, "the reload", func() bool {
		return strings.Contains(d.log.String(), `changed=trust.dak.action applied=trust`)
	})
	if out, err := exec.Command(mailgw, "spool", "--config", d.config, "requeue", "--all").CombinedOutput(); err != nil {
		t.Fatalf("spool requeue: %v\n%s", err, out)
	}
	forgedIDs := parseIDs(t, forged)
	expectOnce(t, sub, forgedIDs, len(want))
	for _, m := range sub.messages()[len(want):] {
		dm := strings.Contains(m.Topic, ".debmessenger.")
		if !dm && (m.Trusted == nil || *m.Trusted) {
			t.Errorf("forged %s: trusted %v, want false", m.Topic, m.Trusted)
		}
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// journalContains counts the journaled envelope bodies that contain s.
func (d *daemon) journalContains(s string) int {
	b, _ := os.ReadFile(filepath.Join(d.state, "journal.sqlite-bodies"))
	return strings.Count(string(b), s)
}
