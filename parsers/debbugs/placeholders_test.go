package debbugs

import (
	"reflect"
	"testing"
)

// TestTranscriptPlaceholders: -1, -2 … become the real bug numbers the
// transcript's replies (or, for -1, its mail's bug) give; one nothing
// answers stays negative and out of Bugs. The transcripts follow real
// ones (testdata/mails 170–173 are the mails themselves).
func TestTranscriptPlaceholders(t *testing.T) {
	type act struct {
		bugs []int
		args []string
	}
	for _, c := range []struct {
		name    string
		text    string
		mailBug int
		want    []act
		bugs    []int
	}{
		{"Control: clone in a mail to the bug", `Processing control commands:

> clone -1 -2
Bug #1054644 [grub2] xfsprogs-udeb: causes D-I to fail
Bug 1054644 cloned as bug 1059424
> reassign -2 xfsprogs
Bug #1059424 [grub2] xfsprogs-udeb: causes D-I to fail
Bug reassigned from package 'grub2' to 'xfsprogs'.
`, 1054644, []act{{[]int{1054644}, []string{"1059424"}}, {[]int{1059424}, []string{"xfsprogs"}}}, []int{1054644, 1059424}},
		{"retitle -1, known from the reply alone", `> retitle -1 new title
Bug #1117890 [xfsprogs] old title
Changed Bug title to 'new title' from 'old title'.
`, 0, []act{{[]int{1117890}, []string{"new title"}}}, []int{1117890}},
		{"submit: the new bug blocks another", `> block 981662 by -1
Bug #981662 [src:xfsprogs] xfsprogs-udeb depends on libinih1
981662 was not blocked by any bugs.
Added blocking bug(s) of 981662: 981864
`, 0, []act{{[]int{981662}, []string{"981864"}}}, []int{981662}},
		{"control@: clone into two, then use both", `> clone 12345 -1 -2
Bug #12345 [foo] foo sucks
Bug 12345 cloned as bugs 67890-67891
> retitle -2 bar: bar sucks
Bug #67891 [foo] foo sucks
> merge -1 12345
Bug #67890 [foo] foo sucks
Bug #12345 [foo] foo sucks
Merged 12345 67890
> block -2 with 5, -1
Bug #67891 [foo] bar: bar sucks
Added blocking bug(s) of 67891: 5 and 67890
`, 0, []act{{[]int{12345}, []string{"67890", "67891"}}, {[]int{67891}, []string{"bar: bar sucks"}}, {[]int{67890, 12345}, []string{}}, {[]int{67891}, []string{"5", "67890"}}},
			[]int{12345, 67890, 67891}},
		{"a placeholder nothing answers", `> retitle -3 x
Failed to retitle -3: no such bug.
> tags 7 + patch
Bug #7 [foo] t
Added tag(s) patch.
`, 0, []act{{[]int{-3}, []string{"x"}}, {[]int{7}, []string{"+", "patch"}}}, []int{7}},
		{"the mail's bug wins over a later reply", `> tags -1 + moreinfo
Bug #42 [foo] t
`, 41, []act{{[]int{41}, []string{"+", "moreinfo"}}}, []int{41}},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := parseTranscript(c.text, c.mailBug)
			var got []act
			for _, a := range tr.Actions {
				got = append(got, act{a.Bugs, a.Args})
			}
			if !reflect.DeepEqual(got, c.want) || !reflect.DeepEqual(tr.Bugs, c.bugs) {
				t.Errorf("actions %v bugs %v\nwant    %v bugs %v", got, tr.Bugs, c.want, c.bugs)
			}
		})
	}
}

func TestMailBug(t *testing.T) {
	for id, want := range map[string]int{
		"handler.s.B1117890.17604679363633116.transcript@bugs.debian.org": 1117890,
		"handler.s.B.161245905619519.transcript@bugs.debian.org":          0,
		"handler.s.C.163872096813500.transcript@bugs.debian.org":          0,
		"handler.s.Bx1.1.transcript@bugs.debian.org":                      0,
		"abc@example.org": 0,
	} {
		if got := mailBug(id); got != want {
			t.Errorf("mailBug(%q) = %d, want %d", id, got, want)
		}
	}
}
