//go:build e2e

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
	"testing"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/archive/archivetest"
	"github.com/debian/mailgw/internal/backfill"
	"github.com/debian/mailgw/internal/config"
)

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
	archivetest.Generate(&buf, mails, len(mails), 1)
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
		_, err := backfill.Run(context.Background(), backfill.Options{Mode: backfill.ModeDryRun, Config: cfg, Classifier: cl, Verifier: v,
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
