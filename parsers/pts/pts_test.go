package pts

import (
	"strings"
	"testing"

	"github.com/debian/mailgw/parsers"
)

func read(t testing.TB, raw string) *parsers.Message {
	t.Helper()
	m, err := parsers.ReadMessage([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestNormalizeKeyword(t *testing.T) {
	for in, want := range map[string]string{
		"": "default", " Katie-Other ": "archive", "buildd": "build", "cvs": "vcs",
		"ddtp": "translation", "upload-source": "upload-source", "BTS-control": "bts-control",
		"derivatives-bugs": "derivatives-bugs",
	} {
		if got, ok := NormalizeKeyword(in); !ok || got != want {
			t.Errorf("NormalizeKeyword(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, bad := range []string{"a.b", "-x", "bts control", "x*", strings.Repeat("k", 41), "é"} {
		if _, ok := NormalizeKeyword(bad); ok {
			t.Errorf("NormalizeKeyword(%q) accepted", bad)
		}
	}
}

func TestValidPackage(t *testing.T) {
	for _, ok := range []string{"hello", "g++", "libc6.1", "0ad", "xfsprogs"} {
		if !ValidPackage(ok) {
			t.Errorf("ValidPackage(%q) = false", ok)
		}
	}
	for _, bad := range []string{"", "a", "Hello", "-x", "a/b", "../etc", "a b", "a_b"} {
		if ValidPackage(bad) {
			t.Errorf("ValidPackage(%q) = true", bad)
		}
	}
}

// inner is a fake inner parser: it claims mail with its header and
// returns the events given.
type inner struct {
	header string
	events []parsers.Event
}

func (i inner) Name() string { return "inner" }

func (i inner) Parse(m *parsers.Message) ([]parsers.Event, bool, string) {
	if !m.Header.Has(i.header) {
		return nil, false, ""
	}
	return i.events, true, "nothing"
}

func TestParse(t *testing.T) {
	compat := parsers.Event{Service: "debmessenger", Object: "bug", EventType: "report", Rule: "compat"}
	real := parsers.Event{Service: "debbugs", Object: "bug", EventType: "report", Rule: "debbugs.pr-message.report",
		Payload: map[string]any{"bug": 1}, Key: "k"}
	p := New(inner{header: "X-Nothing"}, inner{header: "X-Debian-PR-Message", events: []parsers.Event{compat, real}})

	cases := []struct {
		name, header string
		topics       []string
		reason       string
		nested       string
	}{
		{"pts", "X-PTS-Package: hello\nX-PTS-Keyword: katie-other\n", []string{"pts.package.archive"}, "", ""},
		{"pts via tracker", "X-PTS-Package: hello\nX-PTS-Keyword: bts\nX-Loop: dispatch@tracker.debian.org\nX-Debian-PR-Message: report 1\n",
			[]string{"tracker.package.bts"}, "", "debbugs.bug.report"},
		{"tracker", "X-Distro-Tracker-Package: hello\nX-Distro-Tracker-Keyword: upload-source\nX-PTS-Keyword: ignored\n",
			[]string{"tracker.package.upload-source"}, "", ""},
		{"tracker keyword from PTS header", "X-Distro-Tracker-Package: hello\nX-PTS-Keyword: buildd\n", []string{"tracker.package.build"}, "", ""},
		{"no keyword", "X-PTS-Package: hello\n", []string{"pts.package.default"}, "", ""},
		{"fan-out", "X-PTS-Package: hello, src:world hello\nX-PTS-Keyword: bts\n", []string{"pts.package.bts", "pts.package.bts"}, "", ""},
		{"bad package", "X-PTS-Package: ../x\n", nil, "names no valid Debian package", ""},
		{"bad keyword", "X-PTS-Package: hello\nX-PTS-Keyword: a.b\n", nil, "is not a tracker keyword", ""},
		{"team", "X-Distro-Tracker-Team: pkg-foo\n", nil, "team forward", ""},
	}
	for _, c := range cases {
		m := read(t, "From: a@b\nSubject: s\n"+c.header+"\nbody\n")
		evs, claimed, reason := p.Parse(m)
		if !claimed {
			t.Errorf("%s: not claimed", c.name)
			continue
		}
		if !strings.Contains(reason, c.reason) || (c.reason != "") != (len(evs) == 0) {
			t.Errorf("%s: reason %q, %d events", c.name, reason, len(evs))
		}
		var topics []string
		for _, e := range evs {
			topics = append(topics, e.Name())
			pl := e.Payload
			if pl["package"] != e.Key || pl["keyword"] != e.EventType || pl["subject"] != "s" || pl["from"] != "a@b" {
				t.Errorf("%s: payload %v key %q", c.name, pl, e.Key)
			}
			nested, _ := pl["event"].(map[string]any)
			if got, _ := nested["topic"].(string); got != c.nested {
				t.Errorf("%s: nested %v, want topic %q", c.name, nested, c.nested)
			}
			if nested != nil && (nested["rule"] != real.Rule || nested["key"] != "k") {
				t.Errorf("%s: nested %v", c.name, nested)
			}
		}
		if strings.Join(topics, " ") != strings.Join(c.topics, " ") {
			t.Errorf("%s: topics %v, want %v", c.name, topics, c.topics)
		}
	}
	if evs, claimed, _ := p.Parse(read(t, "Subject: plain\nX-Loop: dispatch@tracker.debian.org\n\n")); claimed || evs != nil {
		t.Errorf("mail without a package header claimed")
	}
	evs, _, _ := p.Parse(read(t, "X-PTS-Package: hello world\nX-PTS-Keyword: Cvs\n\n"))
	if len(evs) != 2 || evs[1].Key != "world" || evs[0].Payload["original_keyword"] != "cvs" {
		t.Errorf("fan-out events %+v", evs)
	}
}
