package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debian/mailgw/bus"
)

// TestParseJSON: parse --json prints exactly one canonical envelope per
// line on stdout, one per golden event, and nothing else; reasons for mail
// with no event go to stderr.
func TestParseJSON(t *testing.T) {
	emls, _ := filepath.Glob("../../testdata/mails/*.eml")
	if len(emls) < 20 {
		t.Fatalf("corpus has %d mails", len(emls))
	}
	wantLines, noEvent := 0, 0
	for _, f := range emls {
		var golden []map[string]any
		b, err := os.ReadFile(strings.TrimSuffix(f, ".eml") + ".json")
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &golden); err != nil {
			t.Fatal(err)
		}
		if len(golden) == 1 && golden[0]["none"] != nil {
			noEvent++
			continue
		}
		wantLines += len(golden)
	}
	code, stdout, stderr := run(t, nil, append([]string{"parse", "--json"}, emls...)...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.HasSuffix(stdout, "\n") {
		t.Fatal("output does not end in a newline")
	}
	lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
	if len(lines) != wantLines {
		t.Errorf("%d lines, want %d", len(lines), wantLines)
	}
	for i, l := range lines {
		env, err := bus.ParseEnvelope([]byte(l))
		if err != nil {
			t.Fatalf("line %d: %v\n%s", i+1, err, l)
		}
		canon, err := env.Marshal()
		if err != nil || string(canon) != l {
			t.Fatalf("line %d is not canonical:\n%s\n%s", i+1, l, canon)
		}
		if env.Signature != "" || env.SeqID != 0 {
			t.Errorf("line %d: parse signed or numbered an envelope", i+1)
		}
	}
	if n := strings.Count(stderr, ": no event: "); n != noEvent {
		t.Errorf("%d no-event lines on stderr, want %d:\n%s", n, noEvent, stderr)
	}
	// Same input, same msg_ids (the timestamp may differ).
	_, again, _ := run(t, nil, "parse", "--json", emls[0])
	e1, _ := bus.ParseEnvelope([]byte(lines[0]))
	e2, err := bus.ParseEnvelope([]byte(strings.SplitN(again, "\n", 2)[0]))
	if err != nil || e1.MsgID != e2.MsgID {
		t.Errorf("msg_id not stable: %v", err)
	}
}

func TestParsePrettyAndErrors(t *testing.T) {
	f := "../../testdata/mails/009-bash-accepted-2008.eml"
	code, stdout, _ := run(t, nil, "parse", f)
	if code != 0 || !strings.Contains(stdout, "org.debian.dev.dak.package.upload\n# rule: dak.") || !strings.Contains(stdout, "\n  \"msg\": {") {
		t.Fatalf("exit %d:\n%s", code, stdout)
	}
	// From stdin too.
	raw, _ := os.ReadFile(f)
	if code, out, _ := run(t, raw, "parse", "--json", "-"); code != 0 || strings.Count(out, "\n") < 1 {
		t.Errorf("stdin: exit %d, %q", code, out)
	}
	// An unreadable file: exit 1, the others still printed.
	code, stdout, stderr := run(t, nil, "parse", "--json", filepath.Join(t.TempDir(), "missing.eml"), f)
	if code != 1 || !strings.Contains(stderr, "missing.eml") || !strings.Contains(stdout, "dak.package.upload") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if code, _, _ := run(t, nil, "parse"); code != 64 {
		t.Errorf("no files: exit %d, want 64", code)
	}
	// --sign with no key configured is a config error.
	if code, _, _ := run(t, nil, "parse", "--sign", f); code != 78 {
		t.Errorf("--sign without key: exit %d, want 78", code)
	}
}

// TestParseIntake: --sender and --relay judge the mail as serve judges
// one delivered that way: proven by the policy's sender or a trusted
// relay, an upload's events get the proven msg_ids (docs/dedup.md), as
// serve would publish them; a sender or relay the policy does not know
// proves nothing, and the msg_ids are the unproven ones. A --relay that
// is no address is a usage error.
func TestParseIntake(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, dir, "mailgw.toml", "[trust]", "dkim = false", `trusted_relays = ["192.0.2.25"]`,
		"[trust.dak]", `senders = ["dak@ftp-master.debian.org"]`)
	f := "../../testdata/mails/001-xfsdump-accepted-maintainer-2025.eml"
	const unproven, proven = "2025-8df496e4-8cce-5b40-8d69-f6d6b26a20c9", "2025-663baaf7-ca89-5661-8015-dde2a6cc5451" // testdata/msg_ids.txt; internal/pipeline TestProvenMsgIDs
	for _, c := range []struct {
		args          []string
		msgID, by     string
		trusted, fail bool
	}{
		{nil, unproven, "", false, false},
		{[]string{"--sender", "dak@ftp-master.debian.org"}, proven, "pipe:dak@ftp-master.debian.org", true, false},
		{[]string{"--sender", "someone@example.org"}, unproven, "", false, false},
		{[]string{"--relay", "192.0.2.25"}, proven, "relay:192.0.2.25", true, false},
		{[]string{"--relay", "198.51.100.7"}, unproven, "", false, false},
	} {
		code, stdout, stderr := run(t, nil, append(append([]string{"--config", cfg, "parse", "--json"}, c.args...), f)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", c.args, code, stderr)
		}
		env, err := bus.ParseEnvelope([]byte(strings.SplitN(stdout, "\n", 2)[0]))
		if err != nil {
			t.Fatal(err)
		}
		auth, _ := env.Msg["mail"].(map[string]any)["auth"].(map[string]any)
		if env.MsgID != c.msgID || auth["trusted"] != c.trusted || (c.by != "" && auth["by"] != c.by) {
			t.Errorf("%v: msg_id %s, auth %v; want %s, trusted %v by %q", c.args, env.MsgID, auth, c.msgID, c.trusted, c.by)
		}
	}
	if code, _, stderr := run(t, nil, "--config", cfg, "parse", "--relay", "buxtehude", f); code != 64 || !strings.Contains(stderr, "--relay") {
		t.Errorf("--relay buxtehude: exit %d, %s", code, stderr)
	}
}
