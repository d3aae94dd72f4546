package debbugs

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Placeholders: in control commands, -1, -2, … stand for bugs that have
// no number yet or that the writer did not spell out. "clone 123 -1 -2"
// names the new copies; in the Control: pseudo-headers of a mail to N@ or
// submit@, -1 is that bug (N, or the new report's number). A transcript
// never prints what a placeholder became next to the command line, but
// its replies name the real bugs:
//
//	> clone -1 -2
//	Bug #1054644 [grub2] xfsprogs-udeb: causes D-I to fail, …
//	Bug 1054644 cloned as bug 1059424
//	> reassign -2 xfsprogs
//	Bug #1059424 [grub2] xfsprogs-udeb: causes D-I to fail, …
//	> block 981662 by -1
//	Added blocking bug(s) of 981662: 981864
//
// and so does the transcript's Message-ID for a mail to N@
// (<handler.s.BN.….transcript@bugs.debian.org>). ParseTranscript reads
// these and puts the real numbers in place of the placeholders.

// replyFacts is what the reply to one command with a placeholder says.
type replyFacts struct {
	action int   // index in Transcript.Actions
	bug    int   // the first "Bug #N [" line: the bug it acted on
	cloned []int // "Bug N cloned as bug M" or "… as bugs M-K": the new bugs
	listed []int // "Added (or Removed) blocking bug(s) of N: a, b and c"
}

// hasPlaceholder reports whether a names a bug by a placeholder: among
// its bugs, or among the arguments that are bugs (clone's new IDs, the
// blocking bugs of block and unblock).
func (a *Action) hasPlaceholder() bool {
	for _, b := range a.Bugs {
		if b < 0 {
			return true
		}
	}
	if bugArgs(a.Command) {
		for _, arg := range a.Args {
			if n, ok := bugNumber(arg); ok && n < 0 {
				return true
			}
		}
	}
	return false
}

// bugArgs reports whether a command's arguments are bug numbers.
func bugArgs(cmd string) bool {
	return cmd == "clone" || cmd == "block" || cmd == "unblock"
}

var (
	reCloned  = regexp.MustCompile(`^Bug #?(\d+) cloned as bugs? (\d+)(?:-(\d+))?`)
	reBlocked = regexp.MustCompile(`^(?:Added|Removed) blocking bug\(s\) of \d+: (.+)$`)
	reNumber  = regexp.MustCompile(`\d+`)
)

// note reads one reply line into f.
func (f *replyFacts) note(l string) {
	if !strings.HasPrefix(l, "Bug ") && !strings.HasPrefix(l, "Added ") && !strings.HasPrefix(l, "Removed ") {
		return
	}
	if f.bug == 0 && strings.HasPrefix(l, "Bug #") {
		digits := l[len("Bug #"):]
		i := 0
		for i < len(digits) && digits[i] >= '0' && digits[i] <= '9' {
			i++
		}
		if n, err := strconv.Atoi(digits[:i]); err == nil && n > 0 && i < len(digits) && (digits[i] == ' ') {
			f.bug = n
		}
		return
	}
	if sm := reCloned.FindStringSubmatch(l); sm != nil {
		lo, _ := strconv.Atoi(sm[2])
		hi := lo
		if sm[3] != "" {
			hi, _ = strconv.Atoi(sm[3])
		}
		for n := lo; n <= hi && n-lo < 100; n++ {
			f.cloned = append(f.cloned, n)
		}
		return
	}
	if sm := reBlocked.FindStringSubmatch(l); sm != nil {
		for _, s := range reNumber.FindAllString(sm[1], 100) {
			if n, err := strconv.Atoi(s); err == nil && n > 0 {
				f.listed = append(f.listed, n)
			}
		}
	}
}

// mailBug returns N from a transcript's Message-ID
// "handler.s.BN.<time>.transcript@bugs.debian.org" (the reply to a mail to
// N@ with Control: pseudo-headers), or 0.
func mailBug(messageID string) int {
	rest, ok := strings.CutPrefix(messageID, "handler.s.B")
	if !ok {
		return 0
	}
	num, _, ok := strings.Cut(rest, ".")
	n, err := strconv.Atoi(num)
	if !ok || err != nil || n <= 0 {
		return 0
	}
	return n
}

// resolvePlaceholders puts real bug numbers in place of the placeholders
// of t's actions, from the replies' facts and, for -1, the bug of the mail
// (0: none). The first answer for a placeholder stands; one that nothing
// answers stays negative.
func resolvePlaceholders(t *Transcript, facts []replyFacts, mailBug int) {
	if len(facts) == 0 {
		return
	}
	known := map[int]int{}
	learn := func(p, n int) {
		if _, ok := known[p]; !ok && p < 0 && n > 0 {
			known[p] = n
		}
	}
	if mailBug > 0 {
		known[-1] = mailBug
	}
	for _, f := range facts {
		a := &t.Actions[f.action]
		if len(a.Bugs) > 0 {
			learn(a.Bugs[0], f.bug)
		}
		var explicit []int
		var pending []int
		for _, arg := range a.Args {
			if n, ok := bugNumber(arg); ok && bugArgs(a.Command) {
				if n < 0 {
					pending = append(pending, n)
				} else {
					explicit = append(explicit, n)
				}
			}
		}
		news := f.cloned
		if a.Command != "clone" {
			// The listed bugs that the command did not name itself are
			// its placeholders', in order.
			news = nil
			for _, n := range f.listed {
				if !slices.Contains(explicit, n) && !slices.Contains(a.Bugs, n) {
					news = append(news, n)
				}
			}
		}
		for i, p := range pending {
			if i < len(news) {
				learn(p, news[i])
			}
		}
	}
	for _, f := range facts {
		a := &t.Actions[f.action]
		for i, b := range a.Bugs {
			if n, ok := known[b]; ok {
				a.Bugs[i] = n
			}
		}
		if !bugArgs(a.Command) {
			continue
		}
		for i, arg := range a.Args {
			if p, ok := bugNumber(arg); ok && p < 0 {
				if n, ok := known[p]; ok {
					a.Args[i] = strconv.Itoa(n)
				}
			}
		}
	}
}
