package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/journal"
)

// TestKeyRotation follows docs/keys.md: events are journaled under an old
// key, the signing key is replaced by a new one, more events are
// journaled; with both public keys in keyrings and both fingerprints in
// the routing policy, every journaled envelope (what the replay endpoint
// serves, byte for byte) verifies, the old ones by the old key and the
// new ones by the new key. With the new key alone, the old events fail:
// the old public key must stay in keyrings as long as old events are
// replayed.
func TestKeyRotation(t *testing.T) {
	dir := t.TempDir()
	oldSec, newSec := filepath.Join(dir, "old.asc"), filepath.Join(dir, "new.asc")
	oldPub, newPub := filepath.Join(dir, "old.pub.asc"), filepath.Join(dir, "new.pub.asc")
	fpr := map[string]string{}
	for _, k := range []string{oldSec, newSec} {
		code, out, stderr := run(t, nil, "keygen", "--secret", k)
		if code != exitOK {
			t.Fatalf("keygen %s: exit %d: %s", k, code, stderr)
		}
		fpr[k] = strings.TrimSpace(out)
	}
	common := []string{`environment = "prod"`, "[endpoints]", `mailgw = ["tcp://127.0.0.1:0"]`}
	mails, _ := filepath.Glob("../../testdata/mails/00*.eml")
	if len(mails) < 4 {
		t.Fatalf("only %d mails", len(mails))
	}
	// Before and after the rotation: the same state_dir, so one journal.
	for i, k := range []string{oldSec, newSec} {
		cfg := writeConfig(t, dir, "signing.toml", append([]string{`gpg_signing_key = "` + k + `"`}, common...)...)
		part := mails[:len(mails)/2]
		if i == 1 {
			part = mails[len(mails)/2:]
		}
		args := append([]string{"replay", "--config", cfg, "--publish", "--no-progress"}, part...)
		if code, _, stderr := run(t, nil, args...); code != exitOK && code != exitDataErr {
			t.Fatalf("replay with %s: exit %d: %s", k, code, stderr)
		}
	}
	j, err := journal.Open(filepath.Join(dir, "state", "journal.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	bodies, err := j.BySeqRange(1, 1<<40, 100000)
	j.Close()
	if err != nil || len(bodies) < 4 {
		t.Fatalf("journal: %d envelopes, %v", len(bodies), err)
	}

	verifyAll := func(keyrings []string, fprs ...string) map[string]int {
		lines := []string{`routing_nitpicky = true`, "keyrings = [" + quoteJoin(keyrings) + "]", "[routing_policy]",
			`"org.debian" = [` + quoteJoin(fprs) + `]`}
		cfg := writeConfig(t, dir, "verify.toml", lines...)
		signers := map[string]int{}
		for _, body := range bodies {
			env, err := bus.ParseEnvelope(body)
			if err != nil {
				t.Fatal(err)
			}
			code, out, stderr := runIn(t, string(body), "verify", "--config", cfg)
			switch {
			case code == exitOK:
				signers[strings.TrimPrefix(strings.TrimSpace(out), "valid: signed by ")]++
			case code == exitFailure && strings.HasPrefix(stderr, "invalid: "):
				signers["invalid"]++
			default:
				t.Fatalf("verify seq_id %d: exit %d: %s", env.SeqID, code, stderr)
			}
		}
		return signers
	}
	both := verifyAll([]string{oldPub, newPub}, fpr[oldSec], fpr[newSec])
	if both["invalid"] != 0 || both[fpr[oldSec]] == 0 || both[fpr[newSec]] == 0 || both[fpr[oldSec]]+both[fpr[newSec]] != len(bodies) {
		t.Errorf("old and new key in keyrings: %v over %d envelopes; want all valid, some by each key", both, len(bodies))
	}
	newOnly := verifyAll([]string{newPub}, fpr[newSec])
	if newOnly["invalid"] != both[fpr[oldSec]] || newOnly[fpr[newSec]] != both[fpr[newSec]] {
		t.Errorf("new key alone: %v; want the %d old events invalid and the %d new ones valid", newOnly, both[fpr[oldSec]], both[fpr[newSec]])
	}
	if _, err := os.Stat(oldPub); err != nil {
		t.Fatal(err)
	}
}

// quoteJoin writes strings as a TOML array's inside.
func quoteJoin(s []string) string {
	q := make([]string, len(s))
	for i, v := range s {
		q[i] = `"` + v + `"`
	}
	return strings.Join(q, ", ")
}
