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
	"github.com/debian/mailgw/internal/archive"
	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/journal"
	"github.com/debian/mailgw/internal/replay"
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
	if err := archive.Generate(&buf, mails, 10*len(mails), 1); err != nil {
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
	_, err = replay.Run(context.Background(), replay.Options{Mode: replay.ModeDryRun, Config: cfg, Classifier: cl,
		Logger:  slog.New(slog.DiscardHandler),
		Observe: func(env *bus.Envelope, _ bool) { ids[env.MsgID] = true }}, []string{mbox})
	if err != nil || len(ids) == 0 {
		t.Fatalf("dry run: %v, %d events", err, len(ids))
	}
	return len(ids)
}

// TestReplayMatchesParse: a generated mbox of every test mail, plain and
// xz-compressed, replays into exactly the envelopes that `mailgw parse
// --json` prints for the .eml files (same topics, msg_ids and payloads;
// only the timestamp and msg.mailgw.replayed differ).
func TestReplayMatchesParse(t *testing.T) {
	dir := t.TempDir()
	// Both judge trust by the same policy; without DNS, so that both see
	// the same (a DKIM lookup's answer could change between the two).
	cfgPath := writeConfig(t, dir, "mailgw.toml", "[trust]", "dkim = false")
	names, _ := filepath.Glob("../../testdata/mails/*.eml")
	var mails [][]byte
	for _, n := range names {
		b, _ := os.ReadFile(n)
		mails = append(mails, b)
	}
	code, out, errs := run(t, nil, append([]string{"parse", "--config", cfgPath, "--json"}, names...)...)
	if code != exitOK {
		t.Fatalf("parse: exit %d: %s", code, errs)
	}
	var want []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		want = append(want, normalEnvelope(t, []byte(line)))
	}
	var buf bytes.Buffer
	archive.Generate(&buf, mails, len(mails), 1)
	plain := filepath.Join(dir, "all.mbox")
	os.WriteFile(plain, buf.Bytes(), 0o644)
	xzed := filepath.Join(dir, "all.bin")
	if out, err := exec.Command("sh", "-c", "xz -c "+plain+" > "+xzed).CombinedOutput(); err != nil {
		t.Fatalf("xz: %v %s", err, out)
	}
	cfg, _ := config.Load(cfgPath)
	cl, _ := newClassifier(cfg)
	v, err := newVerifier(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{plain, xzed} {
		var got []string
		_, err := replay.Run(context.Background(), replay.Options{Mode: replay.ModeDryRun, Config: cfg, Classifier: cl, Verifier: v,
			Logger: slog.New(slog.DiscardHandler),
			Observe: func(env *bus.Envelope, _ bool) {
				body, err := env.Marshal()
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, normalEnvelope(t, body))
			}}, []string{f})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %d envelopes, parse printed %d", f, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s: envelope %d differs:\nreplay %.300s\nparse  %.300s", f, i, got[i], want[i])
				break
			}
		}
	}
}

// normalEnvelope drops what differs between parse and replay (timestamps,
// the counter, msg.mailgw.replayed) and re-encodes with sorted keys.
func normalEnvelope(t *testing.T, body []byte) string {
	var env map[string]any
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	delete(env, "timestamp")
	delete(env, "i")
	if mg, ok := env["msg"].(map[string]any)["mailgw"].(map[string]any); ok {
		delete(mg, "timestamp")
		delete(mg, "replayed")
	}
	b, _ := json.Marshal(env)
	return string(b)
}
