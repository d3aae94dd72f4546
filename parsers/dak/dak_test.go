package dak

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/debian/mailgw/parsers"
)

// parse decodes a literal mail and runs p over it.
func parse(t *testing.T, p *Parser, raw string) ([]parsers.Event, bool) {
	t.Helper()
	m, err := parsers.ReadMessage([]byte(strings.ReplaceAll(raw, "\n", "\r\n")))
	if err != nil {
		t.Fatal(err)
	}
	evs, claimed, _ := p.Parse(m)
	return evs, claimed
}

func names(evs []parsers.Event) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, e.Name()+"/"+e.Rule)
	}
	return out
}

func TestClassify(t *testing.T) {
	changes := "\n-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA1\n\nFormat: 1.7\nSource: foo\nVersion: 1.0-1\n" +
		"Distribution: unstable\nArchitecture: source all\n\n-----BEGIN PGP SIGNATURE-----\n\nAAAA\n-----END PGP SIGNATURE-----\n"
	cases := []struct {
		name, mail string
		claimed    bool
		want       []string
	}{
		{"announce with headers", "X-DAK: dak process-upload\nSubject: Accepted foo 1.0-1 (source all) into unstable\n" + changes,
			true, []string{"dak.package.upload/dak.subject.accepted", "debmessenger.package.upload/debmessenger.package.upload"}},
		{"X-Debian: DAK only", "X-Debian: DAK\nSubject: foo_1.0-1_source.changes ACCEPTED into unstable\n\nno changes here\n",
			true, []string{"dak.package.upload/dak.subject.changes-accepted"}},
		{"old announce without headers", "Subject: Accepted foo 1.0-1 (source all)\n" + changes,
			true, []string{"dak.package.upload/dak.fallback.accepted", "debmessenger.package.upload/debmessenger.package.upload"}},
		{"announce subject, body of another package", "Subject: Accepted bar 1.0-1 (source all)\n" + changes, false, nil},
		{"announce subject, no .changes", "Subject: Accepted foo 1.0-1 (source all)\n\nhello\n", false, nil},
		{"reply to an announce", "Subject: Re: Accepted foo 1.0-1 (source all)\n" + changes, false, nil},
		{"debbugs resend of dak's bug-close", "X-Loop: owner@bugs.debian.org\nX-DAK: dak process-upload\nX-Debian-PR-Message: closed 5\nSubject: Bug#5: fixed in foo 1.0-1\n\nbody\n", false, nil},
		{"X-Debian-PR without loop", "X-Debian: DAK\nX-Debian-PR-Message: closed 5\nSubject: Bug#5: fixed in foo 1.0-1\n\nbody\n", false, nil},
		{"security announce", "X-Debian: PGP check passed for security officers\nSubject: [SECURITY] [DSA 1-1] New foo packages\n\nbody\n", false, nil},
		{"queue receipt without headers", "Subject: Processing of foo_1.0-1_source.changes\n\nfoo_1.0-1_source.changes uploaded successfully to localhost\n\tYour Debian queue daemon (running on host usper.debian.org)\n",
			true, []string{"dak.package.receive/dak.fallback.processing"}},
		{"Processing subject from a person", "Subject: Processing of foo_1.0-1_source.changes\n\nwhy?\n", false, nil},
		{"comments (prod)", "X-DAK: dak process-new\nX-Debian: DAK\nSubject: Comments regarding foo_1.0-1_amd64.changes\n\nPlease fix.\n",
			true, []string{"dak.package.other/dak.subject.comments"}},
		{"other dak mail", "X-DAK: dak transitions\nX-Debian: DAK\nSubject: Transition foo started\n\nx\n",
			true, []string{"dak.package.other/dak.header.other"}},
		{"katie INSTALLED", "X-Katie: $Revision: 1.40 $\nSubject: foo_1.0-1_i386.changes INSTALLED into unstable\n\nInstalling:\n",
			true, []string{"dak.package.upload/dak.subject.installed"}},
		{"policy by subject", "X-DAK: dak process-upload\nSubject: foo_1.0-1_source.changes ACCEPTED into proposed-updates->stable-new\n" + changes,
			true, []string{"dak.package.policy/dak.subject.policy"}},
	}
	p := New(Options{Compat: true})
	for _, c := range cases {
		evs, claimed := parse(t, p, "From: x@example.org\nMessage-Id: <a@b>\n"+c.mail)
		if claimed != c.claimed {
			t.Errorf("%s: claimed = %v", c.name, claimed)
		}
		if got := names(evs); c.claimed && !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: events %v, want %v", c.name, got, c.want)
		}
	}
}

func TestCompatOff(t *testing.T) {
	m := readMail(t, filepath.Join(mailsDir, "012-hebcal-multipart-signed-2022.eml"))
	evs, _, _ := New(Options{}).Parse(m)
	if got := names(evs); !reflect.DeepEqual(got, []string{"dak.package.upload/dak.subject.accepted"}) {
		t.Errorf("Compat off: %v", got)
	}
	evs, _, _ = New(Options{Compat: true}).Parse(m)
	if len(evs) != 2 {
		t.Fatalf("Compat on: %v", names(evs))
	}
	c := evs[1].Payload
	if c["Source"] != "hebcal" || c["Version"] != "4.31-1" || c["Distribution"] != "unstable" {
		t.Errorf("debmessenger payload: %v", c)
	}
	files, ok := c["Files"].(parsers.Objects)
	if !ok || len(files) != 4 || files[0].Get("size") != "1914" || files[0].Get("name") != "hebcal_4.31-1.dsc" {
		t.Errorf("debmessenger Files: %#v", c["Files"])
	}
	if sums, _ := c["Checksums-Sha256"].(parsers.Objects); len(sums) != 4 || sums[3].Get("name") != "hebcal_4.31-1_source.buildinfo" {
		t.Errorf("debmessenger Checksums-Sha256 (QP soft breaks must be joined): %#v", c["Checksums-Sha256"])
	}
}

func TestParseSubject(t *testing.T) {
	cases := map[string]subject{
		"Accepted inn 1:1.7.2debian-33 (source i386)":   {kind: subjAnnounce, source: "inn", version: "1:1.7.2debian-33", archs: []string{"source", "i386"}},
		"Accepted hebcal 4.31-1 (source) into unstable": {kind: subjAnnounce, source: "hebcal", version: "4.31-1", archs: []string{"source"}, suite: "unstable"},
		"xfsprogs_5.14.0-release-1_source.changes ACCEPTED into experimental": {kind: subjChangesAccepted, source: "xfsprogs",
			version: "5.14.0-release-1", archs: []string{"source"}, suite: "experimental", changesFile: "xfsprogs_5.14.0-release-1_source.changes"},
		"foo_1.0_i386.changes INSTALLED":            {kind: subjInstalled, source: "foo", version: "1.0", archs: []string{"i386"}, changesFile: "foo_1.0_i386.changes"},
		"Bug#123: fixed in foo 1.0-1":               {kind: subjBugFixed, source: "foo", version: "1.0-1", bug: 123},
		"Bug#123: Removed package(s) from unstable": {bug: 123},
		"foo override disparity":                    {kind: subjOverride, source: "foo"},
		"Accepted foo":                              {},
		"Accepted a b c (x)":                        {},
		"x.changes":                                 {},
		"_1.0_a.changes is NEW":                     {},
		"":                                          {},
	}
	for in, want := range cases {
		if got := parseSubject(in); !reflect.DeepEqual(got, want) {
			t.Errorf("parseSubject(%q) = %+v, want %+v", in, got, want)
		}
	}
}

func TestRemove(t *testing.T) {
	m := readMail(t, filepath.Join(mailsDir, "054-written-dak-rm-2025.eml"))
	evs, _, _ := New(Options{}).Parse(m)
	if len(evs) != 1 || evs[0].Name() != "dak.package.remove" {
		t.Fatalf("events %v", names(evs))
	}
	pl := evs[0].Payload
	pk := pl["packages"].([]map[string]any)
	if pl["suite"] != "unstable" || !reflect.DeepEqual(pl["closes"], []int{1099887}) || len(pk) != 3 ||
		!reflect.DeepEqual(pk[1]["architectures"], []string{"amd64", "arm64", "i386"}) || pk[1]["version"] != "1:1.2-3" ||
		pl["reason"] != "RoQA; unmaintained; dead upstream; RC-buggy" {
		t.Errorf("remove payload: %v", pl)
	}
}

func TestMaxBody(t *testing.T) {
	m := readMail(t, filepath.Join(mailsDir, "009-bash-accepted-2008.eml"))
	evs, _, _ := New(Options{MaxBody: 10}).Parse(m)
	if got := evs[0].Payload["changes"].(string); len(got) > 10 || !strings.HasPrefix(got, "bash (3.2") {
		t.Errorf("changes not bounded: %q", got)
	}
	if got := bound("aé", 2); got != "a" {
		t.Errorf("bound cut a rune: %q", got)
	}
}
