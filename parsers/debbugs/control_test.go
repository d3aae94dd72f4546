package debbugs

import (
	"reflect"
	"strings"
	"testing"
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
		got, ok := parseCommand(c.line)
		if ok != c.ok || ok && !reflect.DeepEqual(got, c.want) {
			t.Errorf("parseCommand(%q) = %+v, %v; want %+v, %v", c.line, got, ok, c.want, c.ok)
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
	tr := ParseTranscript(transcript)
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
	tr := ParseTranscript("")
	if tr.Bugs == nil || tr.Actions == nil || tr.Errors == nil {
		t.Errorf("empty transcript must give empty, non-nil lists: %+v", tr)
	}
	if len(tr.Actions) != 0 {
		t.Errorf("actions from nothing: %+v", tr.Actions)
	}
}
