package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/archive"
	"github.com/debian/mailgw/parsers"
)

// copyPair is two mails announcing one happening (docs/dedup.md), the
// payload keys that may differ between their events (one copy carries
// more than the other, or says which copy it is), and whether each copy
// has a debmessenger.bug.<mail type> event of its own (debmessenger's
// topics name debbugs' mail types, closed and they-closed: one per mail).
type copyPair struct {
	name      string
	a, b      []byte
	differ    []string
	compatOwn bool
}

// copyPairs returns the pairs of real copies (and the one written twin,
// testdata/copies/README.md) that the dedup tests join.
func copyPairs(t *testing.T) []copyPair {
	t.Helper()
	maint := readFile(t, filepath.Join(corpusDir, "002-xfsprogs-accepted-maintainer-2019.eml"))
	announce := readFile(t, "../../testdata/copies/xfsprogs-5.0.0-1-announce.eml")
	pairs := []copyPair{{"upload xfsprogs 5.0.0-1: maintainer copy and announce", maint, announce, []string{"changes_file"}, false}}
	for _, c := range []struct{ log, bug, date string }{
		{"debbugs-spool-log-322535-evolution-ack-ackinfo-closed-2005.log", "322535", "Sat, 27 Aug 2005 17:42:02 +0000"},
		{"debbugs-spool-log-280883-evolution-ack-info-quiet-2004.log", "280883", "Fri, 15 Jul 2005 21:08:34 +0000"},
	} {
		done := logMail(t, c.log, "X-Debian-PR-Message: closed "+c.bug+"\n")
		notif := logMail(t, c.log, "X-Debian-PR-Message: they-closed "+c.bug+"\n")
		pairs = append(pairs, copyPair{"closure of #" + c.bug + ": notice to the closer and to the submitter", done, notif, []string{"variant"}, true})
		// The .log keeps the notice as debbugs handed it to the MTA,
		// without a Date; the delivered copy has the one the MTA added.
		if hdr, _, _ := bytes.Cut(done, []byte("\n\n")); bytes.Contains(hdr, []byte("\nDate:")) || bytes.HasPrefix(hdr, []byte("Date:")) {
			t.Fatalf("%s: the notice has a Date already", c.log)
		}
		delivered := append([]byte("Date: "+c.date+"\n"), done...)
		pairs = append(pairs, copyPair{"closure of #" + c.bug + ": the .log's notice and its delivered copy", notif, delivered, []string{"variant"}, true})
	}
	return pairs
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// logMail returns the one mail debbugs sent (a ^B record) in the .log
// file of internal/archive/testdata that contains marker.
func logMail(t *testing.T, log, marker string) []byte {
	t.Helper()
	r, err := archive.Open(filepath.Join("../archive/testdata", log), archive.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var found [][]byte
	for {
		m, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if m.Kind == archive.KindRecips && bytes.Contains(m.Data, []byte(marker)) {
			found = append(found, m.Data)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s: %d sent mails with %q, want 1", log, len(found), marker)
	}
	return found[0]
}

// TestCopiesOneEvent: serve processes both copies of a happening, in
// either order: every event of the second copy has the msg_id of the
// first copy's event of its topic, the journal takes none of them and
// nothing more is published, and both events have the same payload but
// for the keys the pair names. Only a debmessenger.bug event named after
// the second mail's own type (they-closed against closed) is new.
func TestCopiesOneEvent(t *testing.T) {
	for _, pair := range copyPairs(t) {
		for _, order := range [][2][]byte{{pair.a, pair.b}, {pair.b, pair.a}} {
			r := newRig(t)
			first, err := r.p.Process(context.Background(), order[0], false)
			if err != nil || len(first.Added) == 0 {
				t.Fatalf("%s: first copy: %d added, %v (%s)", pair.name, len(first.Added), err, first.Quarantine)
			}
			second, err := r.p.Process(context.Background(), order[1], false)
			if err != nil {
				t.Fatal(err)
			}
			joined, own := 0, 0
			for _, e2 := range second.Envelopes {
				i := slices.IndexFunc(first.Envelopes, func(e1 *bus.Envelope) bool { return e1.Topic == e2.Topic })
				if i < 0 {
					if !pair.compatOwn || !strings.Contains(e2.Topic, ".debmessenger.bug.") || !slices.Contains(second.Added, e2) {
						t.Errorf("%s: the second copy's %s has no counterpart", pair.name, e2.Topic)
					}
					own++
					continue
				}
				e1 := first.Envelopes[i]
				if e1.MsgID != e2.MsgID || slices.Contains(second.Added, e2) {
					t.Errorf("%s: %s: msg_id %s against %s (journaled again: %v)", pair.name, e2.Topic, e1.MsgID, e2.MsgID, slices.Contains(second.Added, e2))
				}
				if d := payloadDiff(e1, e2, pair.differ); d != "" {
					t.Errorf("%s, %s: payloads differ: %s", pair.name, e1.Topic, d)
				}
				joined++
			}
			if joined == 0 || len(second.Added) != own || len(r.pub.Envelopes()) != len(first.Added)+own {
				t.Errorf("%s: %d events joined, %d of the second copy's own; %d published, want %d",
					pair.name, joined, own, len(r.pub.Envelopes()), len(first.Added)+own)
			}
			if pair.compatOwn != (own == 1) {
				t.Errorf("%s: %d debmessenger events of the second copy's own", pair.name, own)
			}
		}
	}
}

// payloadDiff names the payload keys of a and b that differ, other than
// mail and mailgw (the source mail's, by design) and allowed.
func payloadDiff(a, b *bus.Envelope, allowed []string) string {
	var out []string
	keys := slices.Sorted(maps.Keys(a.Msg))
	for k := range b.Msg {
		if _, ok := a.Msg[k]; !ok {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		if k == "mail" || k == "mailgw" || slices.Contains(allowed, k) {
			continue
		}
		if !reflect.DeepEqual(a.Msg[k], b.Msg[k]) {
			out = append(out, fmt.Sprintf("%s: %v against %v", k, a.Msg[k], b.Msg[k]))
		}
	}
	return strings.Join(out, "; ")
}

// replaceAll replaces old by new in raw, failing the test when raw has
// no old: a look-alike must really differ from the mail it is made from.
func replaceAll(t *testing.T, raw []byte, pairs ...string) []byte {
	t.Helper()
	for i := 0; i < len(pairs); i += 2 {
		if !bytes.Contains(raw, []byte(pairs[i])) {
			t.Fatalf("no %q to replace", pairs[i])
		}
		raw = bytes.ReplaceAll(raw, []byte(pairs[i]), []byte(pairs[i+1]))
	}
	return raw
}

// TestLookAlikesDistinct: happenings that look alike stay distinct: each
// mail of a case yields events whose msg_ids no other mail of the case
// yields for the same topic. The real mails come from the corpus; the
// derived ones change only what makes them another happening.
func TestLookAlikesDistinct(t *testing.T) {
	mail := func(name string) []byte { return readFile(t, filepath.Join(corpusDir, name)) }
	up := mail("002-xfsprogs-accepted-maintainer-2019.eml")
	closed := logMail(t, "debbugs-spool-log-322535-evolution-ack-ackinfo-closed-2005.log", "X-Debian-PR-Message: closed 322535\n")
	cases := []struct {
		name  string
		mails [][]byte
	}{
		{"three uploads of xfsprogs", [][]byte{up, mail("003-xfsprogs-accepted-experimental-2021.eml"), mail("004-xfsprogs-accepted-maintainer-2026.eml")}},
		{"the same version in another suite", [][]byte{up, replaceAll(t, up,
			"ACCEPTED into unstable", "ACCEPTED into experimental", "Distribution: unstable", "Distribution: experimental")}},
		{"a binNMU of the same version", [][]byte{up, replaceAll(t, up,
			"Version: 5.0.0-1\n", "Version: 5.0.0-1+b1\n", "Architecture: source amd64", "Architecture: amd64",
			"xfsprogs_5.0.0-1_amd64.changes", "xfsprogs_5.0.0-1+b1_amd64.changes")}},
		{"another architecture's upload of the same version", [][]byte{up, replaceAll(t, up,
			"Architecture: source amd64", "Architecture: i386", "xfsprogs_5.0.0-1_amd64.changes", "xfsprogs_5.0.0-1_i386.changes")}},
		{"two followups to one bug", [][]byte{mail("106-fu-1000974-reply-to-Info-received.eml"), mail("107-fu-1000974-rfc2047-Q-subject.eml")}},
		{"one mail, followup to two bugs", [][]byte{mail("107-fu-1000974-rfc2047-Q-subject.eml"), replaceAll(t, mail("107-fu-1000974-rfc2047-Q-subject.eml"),
			"followup 1000974", "followup 1000975", "Bug#1000974", "Bug#1000975")}},
		{"two closures of one bug", [][]byte{mail("117-done-1000974-by-done-mail.eml"), mail("118-done-1000974-fixed-in-upload-to-maintainer.eml")}},
		{"merged bugs closed by one mail", [][]byte{closed, replaceAll(t, closed,
			"closed 322535", "closed 322536", "handler.322535.D322535", "handler.322536.D322535", "Bug#322535", "Bug#322536")}},
	}
	cfg, c := testConfig(), classifier()
	for _, tc := range cases {
		seen := map[string]int{} // topic and msg_id -> mail
		for i, raw := range tc.mails {
			m, err := parsers.ReadMessage(raw)
			if err != nil {
				t.Fatal(err)
			}
			evs, reason := c.Classify(m)
			if len(evs) == 0 {
				t.Fatalf("%s: mail %d yields no event: %s", tc.name, i, reason.Reason)
			}
			for _, env := range Build(cfg, m, evs, fixedNow, false, nil) {
				k := env.Topic + " " + env.MsgID
				if j, ok := seen[k]; ok {
					t.Errorf("%s: mails %d and %d both give %s", tc.name, j, i, k)
				}
				seen[k] = i
			}
		}
	}
}
