package debbugs

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/debian/mailgw/parsers"
)

// addMailSeeds adds every golden debbugs mail and a few hostile shapes.
func addMailSeeds(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(mailsDir, "1[0-9][0-9]-*.eml"))
	if len(files) == 0 {
		f.Fatal("no seed mails")
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(""))
	f.Add([]byte("X-Debian-PR-Message: transcript\n\n> tags 1 + \x00\xff\n"))
	f.Add([]byte("X-Loop: owner@bugs.debian.org\nX-Debian-PR-Message: closed 1\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: message/rfc822\n\n--b--\n"))
	f.Add([]byte("Subject: Bug#1: marked as done (\nX-Debian-PR-Package: x\n\nwith message-id <\n"))
	f.Add([]byte("Subject: Bug#2 acknowledged by developer\n\n\nReceived: (at 2-done)\n\n"))
}

// checkEvent verifies what every event must satisfy.
func checkEvent(t *testing.T, e parsers.Event, maxBody int) {
	t.Helper()
	for _, w := range []string{e.Service, e.Object, e.EventType} {
		if !topicWord(w) {
			t.Fatalf("bad topic word %q in %s", w, e.Name())
		}
	}
	if e.Rule == "" {
		t.Fatalf("%s without a rule", e.Name())
	}
	for _, k := range []string{"body", "content"} {
		if s, ok := e.Payload[k].(string); ok && len(s) > maxBody {
			t.Fatalf("%s: %s is %d bytes, over %d", e.Name(), k, len(s), maxBody)
		}
	}
	for k, v := range e.Payload {
		switch v.(type) {
		case string, int, bool, []string, []int, []map[string]any, parsers.Objects:
		case nil: // an address field's email when it has no address
			if !strings.HasSuffix(k, "_email") {
				t.Fatalf("%s: payload %s is nil", e.Name(), k)
			}
		default:
			t.Fatalf("%s: payload %s has type %T", e.Name(), k, v)
		}
	}
}

// FuzzDebbugs decodes arbitrary bytes as a mail and parses it: no panic,
// no event from an unclaimed mail, topic words safe, bodies bounded.
func FuzzDebbugs(f *testing.F) {
	addMailSeeds(f)
	p := New(Options{Compat: true, MaxBody: 4096})
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := parsers.ReadMessage(raw)
		if err != nil || m == nil {
			return
		}
		evs, claimed, reason := p.Parse(m)
		if !claimed && len(evs) > 0 {
			t.Fatalf("unclaimed mail with %d events", len(evs))
		}
		if len(evs) == 0 && reason == "" {
			t.Fatalf("no event and no reason")
		}
		for _, e := range evs {
			checkEvent(t, e, 4096)
		}
	})
}

// FuzzControl parses arbitrary transcripts: no panic, bugs sorted and
// unique, every action names a bug, every action error is listed.
func FuzzControl(f *testing.F) {
	f.Add(transcript)
	f.Add("> forcemerge 1 2 3\n> reassign 4 a,b , c 1.0\n> block 5 by 6,#7\n> thanks\n")
	f.Add(">\n>>\n> tags\n> tags 0 +\n> merge -1 -2\n-- \n")
	f.Add(strings.Repeat("> unarchive 1\n", 50))
	f.Fuzz(func(t *testing.T, text string) {
		tr := parseTranscript(text, 0)
		if !slices.IsSorted(tr.Bugs) {
			t.Fatalf("bugs not sorted: %v", tr.Bugs)
		}
		for i := 1; i < len(tr.Bugs); i++ {
			if tr.Bugs[i] == tr.Bugs[i-1] {
				t.Fatalf("bug %d twice", tr.Bugs[i])
			}
		}
		failed := 0
		for _, a := range tr.Actions {
			if len(a.Bugs) == 0 || a.Command == "" {
				t.Fatalf("action without bug or command: %+v", a)
			}
			if a.Error != "" {
				failed++
			}
		}
		if len(tr.Errors) < failed {
			t.Fatalf("%d failed actions but %d errors", failed, len(tr.Errors))
		}
	})
}
