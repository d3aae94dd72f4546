package debbugs

import (
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/debian/mailgw/parsers"
)

func TestParseCommand(t *testing.T) {
	cases := []struct {
		line string
		want Action
		ok   bool
	}{
		{"reassign 1107480 src:e2fsprogs, src:xfsprogs", Action{Command: "reassign", Bugs: []int{1107480}, Args: []string{"src:e2fsprogs,src:xfsprogs"}}, true},
		{"reassign #12 foo 1.0-1", Action{Command: "reassign", Bugs: []int{12}, Args: []string{"foo", "1.0-1"}}, true},
		{"retitle 1000974 xfs/linux.h  defines", Action{Command: "retitle", Bugs: []int{1000974}, Args: []string{"xfs/linux.h  defines"}}, true},
		{"Priority 5 grave", Action{Command: "severity", Bugs: []int{5}, Args: []string{"grave"}}, true},
		{"tags 973061 + patch", Action{Command: "tags", Bugs: []int{973061}, Args: []string{"+", "patch"}}, true},
		{"tag 1 -moreinfo,unreproducible", Action{Command: "tags", Bugs: []int{1}, Args: []string{"-", "moreinfo", "unreproducible"}}, true},
		{"forcemerge 1116595  1128087", Action{Command: "forcemerge", Bugs: []int{1116595, 1128087}, Args: []string{}}, true},
		{"merge #1 #2 3", Action{Command: "merge", Bugs: []int{1, 2, 3}, Args: []string{}}, true},
		{"found 981009 4.1.2-1, 4.1.3-1", Action{Command: "found", Bugs: []int{981009}, Args: []string{"4.1.2-1", "4.1.3-1"}}, true},
		{"notfixed 1048396 src/1609-1", Action{Command: "notfixed", Bugs: []int{1048396}, Args: []string{"src/1609-1"}}, true},
		{"block 10 by 11, 12", Action{Command: "block", Bugs: []int{10}, Args: []string{"11", "12"}}, true},
		{"unblock 10 with #12", Action{Command: "unblock", Bugs: []int{10}, Args: []string{"12"}}, true},
		{"clone 7 -1 -2", Action{Command: "clone", Bugs: []int{7}, Args: []string{"-1", "-2"}}, true},
		{"affects 3 + foo bar", Action{Command: "affects", Bugs: []int{3}, Args: []string{"+", "foo", "bar"}}, true},
		{"unarchive 1043628", Action{Command: "unarchive", Bugs: []int{1043628}, Args: []string{}}, true},
		{"owner 9 !", Action{Command: "owner", Bugs: []int{9}, Args: []string{"!"}}, true},
		{"user debian-qa@lists.debian.org", Action{}, false},
		{"usertags 5 + foo", Action{}, false},
		{"package xfsprogs", Action{}, false},
		{"tags notanumber + patch", Action{}, false},
		{"close", Action{}, false},
	}
	for _, c := range cases {
		got, ok := parseCommandIn(c.line, nil)
		if ok != c.ok || ok && !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseCommandIn(%q) = %+v, %v; want %+v, %v", c.line, got, ok, c.want, c.ok)
		}
	}
}

const transcript = `Processing commands for control@bugs.debian.org:

> # comment
> severity 981662 important
Bug #981662 {Done: B <b@example.org>} [src:xfsprogs] title
Severity set to 'important' from 'serious'
> unarchive 1043695
> tags 5 + notatag
Unknown tag/s: notatag.
Recognized are: patch wontfix moreinfo.
> frobnicate 6
Unknown command or malformed arguments to command.
> merge 8 7
Bug #8 [foo] x
Bug #7 [foo] y
Merged 7 8
> thanks
Stopping processing here.

> tags 99 + patch
Please contact me if you need assistance.
-- 
981662: https://bugs.debian.org/cgi-bin/bugreport.cgi?bug=981662
`

func TestParseTranscript(t *testing.T) {
	tr := parseTranscript(transcript, 0)
	var cmds []string
	for _, a := range tr.Actions {
		cmds = append(cmds, a.Command)
	}
	if got := strings.Join(cmds, " "); got != "severity unarchive tags merge" {
		t.Errorf("commands %q", got)
	}
	if !reflect.DeepEqual(tr.Bugs, []int{5, 7, 8, 981662, 1043695}) {
		t.Errorf("bugs %v", tr.Bugs)
	}
	wantErrs := []string{
		"unarchive 1043695: no reply from debbugs (command failed silently)",
		"tags 5 + notatag: Unknown tag/s: notatag.",
		"frobnicate 6: Unknown command or malformed arguments to command.",
	}
	if !reflect.DeepEqual(tr.Errors, wantErrs) {
		t.Errorf("errors %q\nwant %q", tr.Errors, wantErrs)
	}
	if tr.Actions[0].Error != "" || tr.Actions[1].Error == "" || tr.Actions[2].Error == "" {
		t.Errorf("per-action errors: %+v", tr.Actions)
	}
}

func TestParseTranscriptEmpty(t *testing.T) {
	tr := parseTranscript("", 0)
	if tr.Bugs == nil || tr.Actions == nil || tr.Errors == nil {
		t.Errorf("empty transcript must give empty, non-nil lists: %+v", tr)
	}
	if len(tr.Actions) != 0 {
		t.Errorf("actions from nothing: %+v", tr.Actions)
	}
}

// TestLongTranscript checks that a transcript longer than parsers.MaxText
// is read in full from the raw mail, not only its first 64 KiB.
func TestLongTranscript(t *testing.T) {
	var b strings.Builder
	b.WriteString("X-Loop: owner@bugs.debian.org\nX-Debian-PR-Message: transcript\n" +
		"Subject: Processed: many\nContent-Type: text/plain; charset=utf-8\n" +
		"Content-Transfer-Encoding: quoted-printable\n\nProcessing commands for control@bugs.debian.org:\n\n")
	for i := 1; i <= 3000; i++ {
		b.WriteString("> severity " + strconv.Itoa(100000+i) + " important\nBug #" + strconv.Itoa(100000+i) +
			" [src:foo] a title that is long enough to make this transcript big =\nenough\nSeverity set to 'important' from 'normal'\n")
	}
	b.WriteString("> thanks\nStopping processing here.\n")
	m := mail(t, b.String())
	if len(m.Text) > 70000 {
		t.Logf("Message.Text is not bounded to MaxText any more (%d bytes)", len(m.Text))
	}
	evs, _, _ := New(Options{}).Parse(m)
	if len(evs) != 1 || evs[0].Name() != "debbugs.bug.control" {
		t.Fatalf("events: %v", evs)
	}
	acts := evs[0].Payload["actions"].(parsers.Objects)
	if len(acts) != 3000 {
		t.Errorf("%d actions, want 3000", len(acts))
	}
	if bugs := evs[0].Payload["bugs"].([]int); len(bugs) != 3000 || bugs[2999] != 103000 {
		t.Errorf("bugs: %d, last %v", len(bugs), bugs[len(bugs)-1])
	}
}
