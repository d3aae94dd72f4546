package meaning

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/debian/mailgw/parsers"
)

// TestHostilePayload: what a mail sender writes cannot break the
// summary's single line, smuggle a path or query into a URL, or pass a
// non-address as a person.
func TestHostilePayload(t *testing.T) {
	long := strings.Repeat("é", 3*MaxSummary)
	for _, tc := range []struct {
		name string
		msg  map[string]any
	}{
		{"debbugs.bug.report", map[string]any{"bug": 12, "sources": []string{"../../etc/passwd", "ok-pkg"}, "title": "two\nlines\r\x1b[31mred\u202e", "submitter": "Evil <a@b.c>\nX-Injected: 1"}},
		{"dak.package.new", map[string]any{"source": "foo/../bar", "version": "1.0?x=1#y", "distribution": []any{"unstable"}}},
		{"dak.package.upload", map[string]any{"source": "pkg", "version": long, "changed_by": "<not an address"}},
		{"pts.package.bts", map[string]any{"package": "hello", "subject": "", "event": map[string]any{"topic": "debbugs.bug.report", "payload": map[string]any{"bug": "12"}}}},
		{"debbugs.bug.control", map[string]any{"bugs": []any{1.5, "x"}, "actions": "no"}},
		{"nonsense", nil},
	} {
		m := Describe(tc.name, tc.msg)
		if m.Summary == "" || strings.ContainsAny(m.Summary, "\r\n\x1b\u202e") || !utf8.ValidString(m.Summary) || utf8.RuneCountInString(m.Summary) > MaxSummary {
			t.Errorf("%s: summary %q", tc.name, m.Summary)
		}
		if strings.ContainsAny(m.URL, "?#") || strings.Contains(m.URL, "..") {
			t.Errorf("%s: url %q", tc.name, m.URL)
		}
		for _, p := range m.Packages {
			if !isPackage(p) {
				t.Errorf("%s: package %q", tc.name, p)
			}
		}
		for _, p := range m.People {
			if strings.ContainsAny(p, "\n <>") {
				t.Errorf("%s: person %q", tc.name, p)
			}
		}
	}
	if m := Describe("debbugs.bug.report", map[string]any{"bug": 12, "sources": []string{"../../etc/passwd", "ok-pkg"}}); strings.Join(m.Packages, ",") != "ok-pkg" || m.URL != "https://bugs.debian.org/12" {
		t.Errorf("packages %v url %q", m.Packages, m.URL)
	}
	if m := Describe("dak.package.new", map[string]any{"source": "foo", "version": "1.0?x=1"}); m.URL != "https://tracker.debian.org/pkg/foo" {
		t.Errorf("NEW page of a bad version: %q", m.URL)
	}
}

// TestRules: one event of each kind the corpus lacks, and the pieces.
func TestRules(t *testing.T) {
	for _, tc := range []struct {
		name string
		msg  map[string]any
		want Meaning
	}{
		{"dak.package.new", map[string]any{"source": "libfoo", "version": "2:1.0-1", "distribution": []string{"unstable"}, "state": "new"},
			Meaning{Summary: "libfoo 2:1.0-1 is NEW in unstable", URL: "https://ftp-master.debian.org/new/libfoo_1.0-1.html", Packages: []string{"libfoo"}}},
		{"debbugs.bug.report", map[string]any{"bug": int64(123456), "packages": []string{"libfoo1"}, "sources": []string{"libfoo"}, "title": "libfoo: crashes on start", "submitter": "Jane Doe <Jane@Example.org>", "submitter_email": "jane@example.org"},
			Meaning{Summary: "Bug#123456 (libfoo): reported by Jane Doe: crashes on start", URL: "https://bugs.debian.org/123456", Packages: []string{"libfoo"}, People: []string{"jane@example.org"}}},
		{"dak.package.upload", map[string]any{"source": "bash", "version": "3.2-2", "distribution": []any{"unstable"}, "changed_by": "Matthias Klose <doko@debian.org>", "maintainer": parsers.Object{}},
			Meaning{Summary: "doko uploaded bash 3.2-2 to unstable", URL: "https://tracker.debian.org/pkg/bash", Packages: []string{"bash"}, People: []string{"doko@debian.org"}}},
		{"debbugs.bug.followup", map[string]any{}, Meaning{Summary: "debbugs: reply"}},
		{"debmessenger.bug.followup", map[string]any{"nb": "7", "from": "Debian Bug Tracking System <owner@bugs.debian.org>", "title": "Bug#7: x", "type": "followup"},
			Meaning{Summary: "Bug#7: followup: x", URL: "https://bugs.debian.org/7"}},
		{"pts.package.contact", map[string]any{"mail": parsers.Object{{Key: "subject", Value: "hi"}}}, Meaning{Summary: "hi"}},
	} {
		got := Describe(tc.name, tc.msg)
		if got.Summary != tc.want.Summary || got.URL != tc.want.URL || strings.Join(got.Packages, ",") != strings.Join(tc.want.Packages, ",") || strings.Join(got.People, ",") != strings.Join(tc.want.People, ",") {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
	if got := oneLine(strings.Repeat("a ", 300)); utf8.RuneCountInString(got) != MaxSummary || !strings.HasSuffix(got, "…") {
		t.Errorf("cut: %d runes %q", utf8.RuneCountInString(got), got[len(got)-10:])
	}
	mg := map[string]any{}
	Meaning{Summary: "s"}.AddTo(mg)
	if mg["url"] != nil || mg["packages"] == nil || len(mg["people"].([]string)) != 0 {
		t.Errorf("AddTo: %#v", mg)
	}
}

// TestOneLine: the fast path for clean text and the slow one agree.
func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"doko uploaded bash": "doko uploaded bash",
		" lead":              "lead",
		"two  spaces":        "two spaces",
		"tab\there":          "tab here",
		"trail ":             "trail",
		"café crème":         "café crème",
		"":                   "",
		"\x00":               "",
	} {
		if got := oneLine(in); got != want {
			t.Errorf("oneLine(%q) = %q, want %q", in, got, want)
		}
	}
}
