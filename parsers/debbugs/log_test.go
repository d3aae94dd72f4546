package debbugs

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/debian/mailgw/parsers"
)

// logRecord is one mail of a debbugs .log file.
type logRecord struct {
	kind byte   // 'G' incoming-recv, 'B' recips (mail sent), 'A' autocheck
	line int    // line of the record's control character, from 1
	mail []byte // the mail, unescaped
}

// splitLog splits a debbugs .log file (format in Debbugs::Log): records
// start with a line holding only ^G (incoming-recv), ^B (recips: a
// recipient line, then ^E, then the mail), ^A (autocheck) or ^F (html, not
// a mail); each ends with a ^C line. Inside ^G and ^B mail, a line that
// begins with ^A–^G or ^X was escaped with a leading ^X, removed here.
func splitLog(data []byte) ([]logRecord, error) {
	var recs []logRecord
	var cur *logRecord
	state := byte(0)
	lines := bytes.SplitAfter(data, []byte("\n"))
	for i, l := range lines {
		body := bytes.TrimRight(l, "\n")
		if len(body) == 1 && body[0] >= 1 && body[0] <= 7 {
			switch c := body[0]; {
			case c == 3: // ^C ends the record
				if cur != nil {
					recs = append(recs, *cur)
				}
				cur, state = nil, 0
			case c == 5: // ^E: recipients done, the mail follows
				if state != 'r' {
					return nil, fmt.Errorf("line %d: ^E outside a recips record", i+1)
				}
				state = 'B'
			case c == 6: // ^F html
				cur, state = nil, 'F'
			case c == 1, c == 2, c == 7:
				if state != 0 {
					return nil, fmt.Errorf("line %d: record starts before ^C", i+1)
				}
				k := map[byte]byte{1: 'A', 2: 'B', 7: 'G'}[c]
				cur = &logRecord{kind: k, line: i + 1}
				state = k
				if k == 'B' {
					state = 'r'
				}
			default:
				return nil, fmt.Errorf("line %d: unexpected control line %q", i+1, body)
			}
			continue
		}
		switch state {
		case 'A':
			cur.mail = append(cur.mail, l...)
		case 'B', 'G':
			if len(l) > 1 && l[0] == 0x18 {
				l = l[1:]
			}
			cur.mail = append(cur.mail, l...)
		}
	}
	if state != 0 {
		return nil, fmt.Errorf("file ends inside a record")
	}
	return recs, nil
}

// TestDebbugsLogs reads every mail of the corpus's debbugs spool logs
// (1997–2005): each mail debbugs sent (^B) must yield at least one event;
// each copy of mail it received (^G) and each 1995 autoforward (^A) must be
// claimed with the reason written here. Nothing may go unexplained.
func TestDebbugsLogs(t *testing.T) {
	files, err := filepath.Glob("testdata/*.log")
	if err != nil || len(files) != 4 {
		t.Fatalf("want the 4 corpus .log files in testdata, got %v (%v)", files, err)
	}
	p := New(Options{Compat: true})
	whitelist := map[byte]string{'G': ReasonIncoming, 'A': ReasonAutoforward}
	total := map[string]int{}
	// spot checks of payloads only the old logs exercise
	spot := map[string]map[string]any{
		"debbugs-spool-log-322535-evolution-ack-ackinfo-closed-2005.log:970": {
			"variant": "they-closed", "fixed_version": "2.2.3-3",
			"closed_by": `Adam D. Barratt <debian-bts@adam-barratt.org.uk>`,
			"title":     "evolution: Multiple format string vulnerabilities in Evolution",
		},
		"debbugs-spool-log-563-tar-archived-1997.log:213": {
			"bug": 563, "forwarded_to": "pinard@icule.progiciels-bpi.ca",
			"title": "tar -x fails to overwrite or check for symlinks",
		},
		"debbugs-spool-log-563-tar-archived-1997.log:89":                 {"bug": 563, "variant": "ack"},
		"debbugs-spool-log-563-tar-archived-1997.log:1":                  {"bug": 563, "packages": []string{"tar"}},
		"debbugs-spool-log-280883-evolution-ack-info-quiet-2004.log:785": {"variant": "ack-info-quiet"},
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		recs, err := splitLog(data)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, r := range recs {
			m, err := parsers.ReadMessage(r.mail)
			if err != nil {
				t.Fatalf("%s:%d: ReadMessage: %v", f, r.line, err)
			}
			evs, claimed, reason := p.Parse(m)
			where := fmt.Sprintf("%s:%d (^%c, %q)", filepath.Base(f), r.line, r.kind, m.Subject)
			switch {
			case !claimed:
				t.Errorf("%s: not claimed: %s", where, reason)
			case r.kind == 'B' && len(evs) == 0:
				t.Errorf("%s: BTS mail yields no event: %s", where, reason)
			case r.kind != 'B' && (len(evs) != 0 || reason != whitelist[r.kind]):
				t.Errorf("%s: want no event and reason %q, got %d events, reason %q", where, whitelist[r.kind], len(evs), reason)
			}
			for _, e := range evs {
				total[e.Name()]++
			}
			if want, ok := spot[fmt.Sprintf("%s:%d", filepath.Base(f), r.line)]; ok {
				delete(spot, fmt.Sprintf("%s:%d", filepath.Base(f), r.line))
				for k, v := range want {
					if len(evs) == 0 || !reflect.DeepEqual(evs[0].Payload[k], v) {
						t.Errorf("%s: %s = %#v, want %#v", where, k, evs[0].Payload[k], v)
					}
				}
			}
			total[string(r.kind)]++
		}
	}
	for k := range spot {
		t.Errorf("no record at %s", k)
	}
	// The four logs hold these records and events; a change here means a
	// splitter or parser regression.
	want := map[string]int{
		"A": 2, "B": 36, "G": 27,
		"debbugs.bug.report": 16, "debbugs.bug.ack": 15, "debbugs.bug.close": 4,
		"debbugs.bug.forwarded":   1,
		"debmessenger.bug.report": 15, "debmessenger.bug.closed": 2,
		"debmessenger.bug.they-closed": 2, "debmessenger.bug.ack": 3,
		"debmessenger.bug.ack-info": 9, "debmessenger.bug.ack-info-quiet": 2,
	}
	for k, v := range want {
		if total[k] != v {
			t.Errorf("%s: got %d, want %d", k, total[k], v)
		}
	}
	for k := range total {
		if _, ok := want[k]; !ok && !strings.HasPrefix(k, "debbugs.bug.followup") {
			t.Errorf("unexpected %s: %d", k, total[k])
		}
	}
}

func TestSplitLogEscapes(t *testing.T) {
	log := "\x07\nReceived: (at 1) by bugs.debian.org; x\nSubject: s\n\n\x18\x03 escaped\n\x03\n" +
		"\x06\n<p>html</p>\n\x03\n\x02\n-t\n\x05\nSubject: b\n\nbody\n\x03\n"
	recs, err := splitLog([]byte(log))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0].kind != 'G' || recs[1].kind != 'B' {
		t.Fatalf("records %+v", recs)
	}
	if !strings.Contains(string(recs[0].mail), "\n\x03 escaped\n") {
		t.Errorf("^X escape not removed: %q", recs[0].mail)
	}
	if string(recs[1].mail) != "Subject: b\n\nbody\n" {
		t.Errorf("recips record mail %q", recs[1].mail)
	}
	if _, err := splitLog([]byte("\x02\n-t\n\x05\nx\n")); err == nil {
		t.Errorf("unterminated record accepted")
	}
}
