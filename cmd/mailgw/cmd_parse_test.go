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
