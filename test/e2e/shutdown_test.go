//go:build e2e

package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestGracefulStop: SIGTERM while a client is mid-DATA. serve reports
// unhealthy, turns new sessions away with 421, lets the DATA finish with
// 250, exits 0; after a restart the mail's events are in the journal.
func TestGracefulStop(t *testing.T) {
	d := newDaemon(t)
	d.start()
	mail := mailTemplate(t, "100-report-476920-xulrunner-FTBFS-sparc.eml")("graceful@e2e.test")
	file := filepath.Join(t.TempDir(), "mail.eml")
	os.WriteFile(file, mail, 0o644)

	c := dialRaw(t, d.smtpAddr(), nil)
	c.reply()
	c.cmd("EHLO e2e.test", "250")
	c.cmd("MAIL FROM:<a@example.org>", "250")
	c.cmd("RCPT TO:<mailgw@localhost>", "250")
	c.cmd("DATA", "354")
	half := len(mail)/2 + bytes.Index(mail[len(mail)/2:], []byte("\r\n")) + 2 // a line boundary
	io.WriteString(c.c, dotStuff(string(mail[:half])))

	d.cmd.Process.Signal(syscall.SIGTERM)
	waitFor(t, 10*time.Second, "/healthz to report 503", func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", d.admin))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	})
	late := dialRaw(t, d.smtpAddr(), nil)
	if got := late.reply(); got[:4] != "421 " {
		t.Errorf("new session during shutdown: %q, want 421", got)
	}
	io.WriteString(c.c, dotStuff(string(mail[half:])))
	c.cmd(".", "250")
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not exit after the in-flight DATA finished")
	}
	if code := d.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("serve exited %d after SIGTERM", code)
	}
	d.start()
	expectJournaled(t, d, parseIDs(t, file))
}

// TestForcedStop: a second signal ends serve at once even with a DATA in
// flight (exit 1); that mail never got a 250, so nothing is lost.
func TestForcedStop(t *testing.T) {
	d := newDaemon(t)
	d.start()
	c := dialRaw(t, d.smtpAddr(), nil)
	c.reply()
	c.cmd("EHLO e2e.test", "250")
	c.cmd("MAIL FROM:<a@example.org>", "250")
	c.cmd("RCPT TO:<mailgw@localhost>", "250")
	c.cmd("DATA", "354")
	io.WriteString(c.c, "Subject: never finished\r\n\r\n")

	d.cmd.Process.Signal(syscall.SIGTERM)
	waitFor(t, 10*time.Second, "/healthz to report 503", func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", d.admin))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusServiceUnavailable
	})
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(20 * time.Second):
		t.Fatal("serve ignored the second signal")
	}
	if code := d.cmd.ProcessState.ExitCode(); code != 1 {
		t.Errorf("forced exit code %d, want 1", code)
	}
	if got := c.reply(); strings.HasPrefix(got, "250") {
		t.Errorf("the unfinished DATA got %q", got)
	}
}
