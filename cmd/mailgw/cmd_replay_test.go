package main

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/archive/archivetest"
	"github.com/debian/mailgw/internal/backfill"
	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/journal"
)

func TestReplayParseDate(t *testing.T) {
	for in, want := range map[string]string{
		"2008-04-20":                "2008-04-20T00:00:00Z",
		"2008-04-20T10:11:12+02:00": "2008-04-20T08:11:12Z",
		"":                          "0001-01-01T00:00:00Z",
	} {
		got, err := parseDate(in)
		if err != nil || got.UTC().Format(time.RFC3339) != want {
			t.Errorf("parseDate(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
	if _, err := parseDate("yesterday"); err == nil {
		t.Error("parseDate(yesterday): no error")
	}
}

func TestReplayCommandDryRunAndUsage(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "mailgw.toml")
	logs, _ := filepath.Glob("../../internal/archive/testdata/*.log")
	code, out, errs := run(t, nil, append([]string{"replay", "--config", cfg, "--dry-run", "--no-progress"}, logs...)...)
	if code != exitOK || !strings.Contains(out, "org.debian.dev.debbugs.bug.report") || !strings.Contains(errs, "replay: 4 files, 65 mails") {
		t.Errorf("dry run: exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if _, err := os.Stat(filepath.Join(dir, "state")); err == nil {
		t.Error("a dry run created the state directory")
	}
	// Spool mode needs the state directory of a serve.
	if code, _, errs := run(t, nil, "replay", "--config", cfg, logs[0]); code != exitConfig || !strings.Contains(errs, "state_dir") {
		t.Errorf("spool mode without state dir: exit %d, %s", code, errs)
	}
	for _, args := range [][]string{{"replay"}, {"replay", "--since", "soon", logs[0]}, {"replay", "--publish", "--dry-run", logs[0]}} {
		if code, _, _ := run(t, nil, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
	// A damaged archive: exit 65, the rest replayed.
	data, _ := os.ReadFile(logs[0])
	cut := filepath.Join(dir, "cut.log")
	os.WriteFile(cut, data[:len(data)-10], 0o644)
	if code, out, errs := run(t, nil, "replay", "--config", cfg, "--dry-run", "--no-progress", cut); code != exitDataErr || !strings.Contains(errs, "byte offset") || !strings.Contains(out, "debbugs.bug") {
		t.Errorf("cut .log: exit %d\n%s\n%s", code, out, errs)
	}
}

// TestReplayKilled SIGKILLs a publishing replay half-way, runs the same
// command again and expects every event in the journal once, published.
func TestReplayKilled(t *testing.T) {
	dir := t.TempDir()
	cfgPath := writeConfig(t, dir, "mailgw.toml", "sign_messages = false", "[endpoints]", `mailgw = ["tcp://127.0.0.1:0"]`)
	os.MkdirAll(filepath.Join(dir, "state"), 0o755)
	names, _ := filepath.Glob("../../testdata/mails/*.eml")
	var mails [][]byte
	for _, n := range names {
		b, _ := os.ReadFile(n)
		mails = append(mails, b)
	}
	var buf bytes.Buffer
	if err := archivetest.Generate(&buf, mails, 10*len(mails), 1); err != nil {
		t.Fatal(err)
	}
	mbox := filepath.Join(dir, "a.mbox")
	os.WriteFile(mbox, buf.Bytes(), 0o644)
	want := expectedEvents(t, cfgPath, mbox)

	cmd := exec.Command(testBin(t), "replay", "--config", cfgPath, "--publish", "--no-progress", "--rate", "200", "--checkpoint-every", "20", mbox)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cpDir := filepath.Join(dir, "state", "replay")
	deadline := time.Now().Add(60 * time.Second)
	for {
		if cps, _ := filepath.Glob(filepath.Join(cpDir, "*.json")); len(cps) > 0 {
			var cp struct{ Index int }
			if b, err := os.ReadFile(cps[0]); err == nil && json.Unmarshal(b, &cp) == nil && cp.Index >= 300 {
				break
			}
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no checkpoint past mail 300 within 60s:\n%s", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	code, _, errs := run(t, nil, "replay", "--config", cfgPath, "--publish", "--no-progress", mbox)
	if code != exitOK || !strings.Contains(errs, "resuming from checkpoint") {
		t.Fatalf("second run: exit %d\n%s", code, errs)
	}
	j, err := journal.Open(filepath.Join(dir, "state", "journal.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	defer j.Close()
	n, _ := j.Count()
	pending, _ := j.Unpublished(10)
	if n != int64(want) || len(pending) != 0 {
		t.Errorf("journal: %d envelopes (%d unpublished), want %d, all published", n, len(pending), want)
	}
}

// expectedEvents counts the distinct msg_ids a dry run of mbox gives.
func expectedEvents(t *testing.T, cfgPath, mbox string) int {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := newClassifier(cfg)
	ids := map[string]bool{}
	_, err = backfill.Run(context.Background(), backfill.Options{Mode: backfill.ModeDryRun, Config: cfg, Classifier: cl,
		Logger:  slog.New(slog.DiscardHandler),
		Observe: func(env *bus.Envelope, _ bool) { ids[env.MsgID] = true }}, []string{mbox})
	if err != nil || len(ids) == 0 {
		t.Fatalf("dry run: %v, %d events", err, len(ids))
	}
	return len(ids)
}
