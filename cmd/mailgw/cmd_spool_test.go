package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/debian/mailgw/internal/spool"
)

func TestSpoolCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "mailgw.toml")
	if code, _, _ := run(t, nil, "spool", "--config", cfg, "list"); code != 75 {
		t.Errorf("list without a spool: exit %d, want 75", code)
	}
	spoolDir := filepath.Join(dir, "state", "spool")
	if err := spool.Create(spoolDir); err != nil {
		t.Fatal(err)
	}
	sp, _ := spool.Open(spoolDir, 0)
	sp.QuarantineDir = filepath.Join(dir, "state", "quarantine")
	a, _ := sp.Deliver(strings.NewReader(spoolTestMail), 0)
	b, _ := sp.Deliver(strings.NewReader("Subject: garbage\n\nx\n"), 0)
	waiting, _ := sp.Deliver(strings.NewReader(spoolTestMail), 0)
	sp.Quarantine(a, "no rule matched (a)")
	sp.Quarantine(b, "no rule matched (b)")

	code, out, _ := run(t, nil, "spool", "--config", cfg, "list")
	for _, want := range []string{"spooled (", "): 1\n  " + waiting + "\n", "quarantined (", "): 2\n", a, b, "    no rule matched (a)\n", "    no rule matched (b)\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("list lacks %q:\n%s", want, out)
		}
	}
	if code != 0 {
		t.Errorf("list: exit %d", code)
	}
	code, out, _ = run(t, nil, "spool", "--config", cfg, "show", a)
	if code != 0 || !strings.HasPrefix(out, "reason: no rule matched (a)\n") || !strings.HasSuffix(out, "\n"+spoolTestMail) || !strings.Contains(out, "message-id: <x@debian.org>") {
		t.Errorf("show: exit %d:\n%s", code, out)
	}
	if code, out, _ := run(t, nil, "spool", "--config", cfg, "show", waiting); code != 0 || !strings.Contains(out, "state: spooled") {
		t.Errorf("show spooled: exit %d:\n%s", code, out)
	}
	if code, _, _ := run(t, nil, "spool", "--config", cfg, "show", "nope"); code != 1 {
		t.Errorf("show unknown: exit %d, want 1", code)
	}
	if code, _, _ := run(t, nil, "spool", "--config", cfg, "requeue", a, "nope"); code != 1 {
		t.Errorf("requeue with an unknown id: exit %d, want 1", code)
	}
	if _, err := os.Stat(filepath.Join(spoolDir, "new", a)); err != nil {
		t.Errorf("a not requeued: %v", err)
	}
	if code, out, _ := run(t, nil, "spool", "--config", cfg, "requeue", "--all"); code != 0 || out != "requeued 1\n" {
		t.Errorf("requeue --all: exit %d, %q", code, out)
	}
	if pend, _ := sp.Pending(); len(pend) != 3 {
		t.Errorf("%d pending after requeue, want 3", len(pend))
	}
	for _, args := range [][]string{{"frob"}, {"requeue"}, {"show"}, {"list", "x"}} {
		if code, _, _ := run(t, nil, append([]string{"spool", "--config", cfg}, args...)...); code != 64 {
			t.Errorf("%v: exit %d, want 64", args, code)
		}
	}
}

// TestSpoolDeleteAndPurge: delete takes quarantined mail only (a spooled
// or unknown ID exits 1 and is named); purge needs --older-than and keeps
// recent quarantine.
func TestSpoolDeleteAndPurge(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "mailgw.toml")
	spoolDir := filepath.Join(dir, "state", "spool")
	if err := spool.Create(spoolDir); err != nil {
		t.Fatal(err)
	}
	sp, _ := spool.Open(spoolDir, 0)
	sp.QuarantineDir = filepath.Join(dir, "state", "quarantine")
	var q []string
	for range 3 {
		n, _ := sp.Deliver(strings.NewReader(spoolTestMail), 0)
		sp.Quarantine(n, "no rule matched")
		q = append(q, n)
	}
	waiting, _ := sp.Deliver(strings.NewReader(spoolTestMail), 0)
	code, out, errOut := run(t, nil, "spool", "delete", q[0], waiting, "--config", cfg)
	if code != 1 || out != "deleted "+q[0]+"\n" || !strings.Contains(errOut, waiting+": not in quarantine (waiting in the spool)") {
		t.Errorf("delete: exit %d, %q, %q", code, out, errOut)
	}
	if code, _, _ := run(t, nil, "spool", "purge", "--config", cfg); code != 64 {
		t.Errorf("purge without --older-than: exit %d, want 64", code)
	}
	old := time.Now().Add(-72 * time.Hour)
	os.Chtimes(filepath.Join(sp.QuarantineDir, q[1]+spool.ReasonSuffix), old, old)
	code, out, _ = run(t, nil, "spool", "purge", "--older-than", "2d", "--config", cfg)
	if code != 0 || !strings.HasPrefix(out, "purged 1 quarantined mails (") {
		t.Errorf("purge: exit %d, %q", code, out)
	}
	if list, _ := sp.List(); len(list) != 1 || list[0].Name != q[2] {
		t.Errorf("left: %+v", list)
	}
	if pend, _ := sp.Pending(); len(pend) != 1 {
		t.Errorf("spooled mail touched: %v", pend)
	}
}
