package pts_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/debian/mailgw/parsers"
	"github.com/debian/mailgw/parsers/dak"
	"github.com/debian/mailgw/parsers/debbugs"
	"github.com/debian/mailgw/parsers/pts"
)

// FuzzClassify classifies arbitrary mail with the PTS parser in front of
// dak and debbugs, as cmd/mailgw wires them: no panic, every PTS/tracker
// event has a topic-safe keyword and a valid package as its key. Seeds:
// the 2NN golden mails and testdata/fuzz/FuzzClassify.
func FuzzClassify(f *testing.F) {
	files, _ := filepath.Glob("../../testdata/mails/2*.eml")
	if len(files) == 0 {
		f.Fatal("no seed mails")
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	d := dak.New(dak.Options{Compat: true})
	b := debbugs.New(debbugs.Options{Compat: true})
	c := parsers.NewClassifier(pts.New(d, b), d, b)
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := parsers.ReadMessage(raw)
		if err != nil {
			return
		}
		evs, reason := c.Classify(m)
		if (len(evs) == 0) != (reason.Kind != "" && reason.Reason != "") {
			t.Fatal("no events and no reason, or events and a reason")
		}
		for _, e := range evs {
			if e.Service != "pts" && e.Service != "tracker" {
				continue
			}
			if kw, ok := pts.NormalizeKeyword(e.EventType); !ok || kw != e.EventType {
				t.Fatalf("keyword %q in topic %s", e.EventType, e.Name())
			}
			if !pts.ValidPackage(e.Key) || e.Payload["package"] != e.Key {
				t.Fatalf("key %q, package %v", e.Key, e.Payload["package"])
			}
			if strings.Count(e.Name(), ".") != 2 {
				t.Fatalf("topic tail %q", e.Name())
			}
		}
	})
}
