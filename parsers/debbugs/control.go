package debbugs

import (
	"slices"
	"strconv"
	"strings"

	"github.com/debian/mailgw/parsers"
)

// Transcript is a debbugs control transcript ("Processed: …" reply) read
// into actions.
type Transcript struct {
	// Bugs are the bugs the actions name, ascending, each once.
	Bugs []int
	// Actions are the control commands in the order debbugs ran them.
	Actions []Action
	// Errors are the failures the transcript reports, in order: debbugs'
	// own error lines ("Failed to …", "Unknown command …") and commands it
	// answered with nothing (a silent failure, e.g. unarchive of a bug
	// that is not archived).
	Errors []string
	// Truncated is set when the transcript had more than maxActions
	// commands; the rest are not read.
	Truncated bool
}

// Bounds that keep one transcript's payload a sane size.
const (
	maxActions = 5000    // actions (and errors) read from one transcript
	maxLine    = 8 << 10 // longer lines are neither commands nor errors
)

// Action is one control command of a transcript.
type Action struct {
	// Command is the command word, lower case: "reassign", "tags",
	// "severity", "forcemerge", … ("priority" reads as "severity", "tag"
	// and "tags" as "tags", "affect" as "affects").
	Command string
	// Bugs are the bug numbers the command acts on (every bug of a merge;
	// the blocked bug of block/unblock). A placeholder (-1, -2: a clone, or
	// the bug a Control: pseudo-header's mail went to) is replaced by the
	// real number the transcript gives for it; one it does not give stays
	// negative.
	Bugs []int
	// Args are the command's arguments after the bug numbers: versions
	// (comma lists split) for found/notfound/fixed/notfixed; the package
	// list and optional version for reassign; the tag operator and tags for
	// tags; the blocking bugs for block/unblock; the rest of the line as one
	// argument for retitle, submitter, forwarded, owner and summary.
	Args []string
	// Error is set when debbugs reported a failure for this command.
	Error string
}

// errorPrefixes start the lines with which debbugs reports a failed
// command (lib/Debbugs/Control/Service.pm, scripts/service).
var errorPrefixes = []string{
	"Failed to ",
	"Unknown command",
	"Unknown tag",
	"Unknown usertag",
	"Too many unknown commands",
	"Ignoring illegal tag",
	"This BTS function is currently disabled",
	"No valid user selected",
	"Selected user id",
	"Unrecognised syntax for category",
	"User defined category specification must start",
}

// isErrorLine reports whether a transcript reply line is a failure.
func isErrorLine(l string) bool {
	if len(l) < 10 || strings.HasPrefix(l, "Bug #") {
		return false // the usual "Bug #N [pkg] title" line
	}
	switch l[0] {
	case 'F', 'U', 'T', 'I', 'N', 'S':
		for _, e := range errorPrefixes {
			if strings.HasPrefix(l, e) {
				return true
			}
		}
	}
	switch {
	case strings.HasPrefix(l, "Severity level"):
		return strings.Contains(l, "is not known") || strings.Contains(l, "is obsolete")
	case strings.HasPrefix(l, "Bug number"):
		return strings.Contains(l, "not found")
	case strings.HasPrefix(l, "Limit key"):
		return strings.Contains(l, "not understood")
	}
	return strings.HasSuffix(l, "is not a valid e-mail address; not changing submitter")
}

// isStop reports whether a command line ends processing.
func isStop(cmd string) bool {
	c := cmd
	for len(c) > 0 && (c[len(c)-1] == '.' || c[len(c)-1] == ' ' || c[len(c)-1] == '\t') {
		c = c[:len(c)-1]
	}
	for i := 0; i < len(c); i++ {
		if c[i] >= 0x80 { // Unicode case mapping: the general path
			return slices.Contains(stopWords, strings.ToLower(c))
		}
	}
	if len(c) > len("thank you") {
		return false // longer than every stop word
	}
	for _, w := range stopWords {
		if asciiEqualFold(c, w) {
			return true
		}
	}
	return false
}

// asciiEqualFold compares ASCII strings ignoring case.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// stopWords end a control message (compared ignoring case).
var stopWords = []string{"stop", "quit", "--", "thanks", "thank you", "thankyou", "kthxbye", "thanks!"}

// parseTranscript reads a control transcript: each "> command" line that
// debbugs echoes, and the reply lines up to the next one. Lines before the
// first command and after the signature ("-- ") are ignored. Placeholders
// are resolved from the replies (placeholders.go); mailBug is the bug the
// transcript's mail went to (0 when none), which is what -1 stands for.
func parseTranscript(text string, mailBug int) Transcript {
	// Every action comes from a line that starts with ">": counting the
	// ">" (a quick upper bound) sizes Actions once (a long transcript has
	// thousands).
	n := min(strings.Count(text, ">"), maxActions)
	t := Transcript{Bugs: []int{}, Actions: make([]Action, 0, n), Errors: []string{}}
	var cur *Action // nil, or &slot: the command being read
	var slot Action // reused: finish copies it out before the next one
	var sl slab     // the actions' small slices
	curLine, replied := "", false
	var facts []replyFacts // of the commands with placeholders
	var curFacts *replyFacts
	finish := func() {
		if cur != nil {
			if !replied && cur.Error == "" {
				cur.Error = "no reply from debbugs (command failed silently)"
				t.Errors = append(t.Errors, curLine+": "+cur.Error)
			}
			if curFacts != nil {
				facts = append(facts, *curFacts)
			}
			t.Actions = append(t.Actions, *cur)
		}
		cur, curFacts, replied = nil, nil, false
	}
	for text != "" {
		var l string
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			l, text = text[:i], text[i+1:]
		} else {
			l, text = text, ""
		}
		if len(l) > maxLine {
			// no command or debbugs reply is this long: reply text only
			if cur != nil {
				replied = true
			}
			continue
		}
		l = trimLineEnd(l)
		if l == "--" { // the signature ("-- ") ends the transcript
			break
		}
		if strings.HasPrefix(l, ">") {
			finish()
			curLine = ""
			cmd := strings.TrimSpace(l[1:])
			if isStop(cmd) {
				break // debbugs runs nothing after "thanks"
			}
			if cmd == "" || strings.HasPrefix(cmd, "#") {
				continue
			}
			curLine = bound(cmd, 200)
			if len(t.Actions) >= maxActions {
				t.Truncated = true
				break
			}
			if a, ok := parseCommandIn(cmd, &sl); ok {
				slot = a
				cur = &slot
				if slot.hasPlaceholder() {
					curFacts = &replyFacts{action: len(t.Actions)}
				}
			}
			continue
		}
		if strings.TrimSpace(l) == "" {
			continue
		}
		if isErrorLine(l) {
			msg := bound(strings.TrimSpace(l), 300)
			if cur != nil {
				cur.Error = msg
			}
			if curLine != "" {
				msg = curLine + ": " + msg
			}
			if len(t.Errors) < maxActions {
				t.Errors = append(t.Errors, msg)
			}
		}
		if cur != nil {
			replied = true
		}
		if curFacts != nil {
			curFacts.note(l)
		}
	}
	finish()
	resolvePlaceholders(&t, facts, mailBug)
	for _, a := range t.Actions {
		for _, b := range a.Bugs {
			if b > 0 {
				t.Bugs = append(t.Bugs, b)
			}
		}
	}
	slices.Sort(t.Bugs)
	t.Bugs = slices.Compact(t.Bugs)
	return t
}

// trimLineEnd removes trailing spaces, tabs and CRs.
func trimLineEnd(l string) string {
	j := len(l)
	for j > 0 && (l[j-1] == ' ' || l[j-1] == '\t' || l[j-1] == '\r') {
		j--
	}
	return l[:j]
}

// payload turns a Transcript into JSON-ready fields.
func (t Transcript) payload() (bugs []int, actions parsers.Objects, errs []string) {
	actions = make(parsers.Objects, 0, len(t.Actions))
	// Runs of the same command are common (a transcript closing or
	// tagging hundreds of bugs): its name is boxed once per run.
	var cmd string
	var cmdBox any
	for _, a := range t.Actions {
		if cmdBox == nil || a.Command != cmd {
			cmd, cmdBox = a.Command, a.Command
		}
		m := parsers.Object{{Key: "args", Value: a.Args}, {Key: "bugs", Value: a.Bugs}, {Key: "command", Value: cmdBox}}
		if a.Error != "" {
			m = append(m, parsers.Member{Key: "error", Value: a.Error})
		}
		actions = append(actions, m)
	}
	return t.Bugs, actions, t.Errors
}

// control is a control transcript: X-Debian-PR-Message: transcript, the
// "Processed: …" or "Processed (with N errors): …" reply to control@ or to
// Control: pseudo-headers.
func (p *Parser) control(b *bugMail, rule string) *parsers.Event {
	t := parseTranscript(transcriptText(b.m), mailBug(b.m.MessageID))
	bugs, actions, errs := t.payload()
	pl := b.base()
	delete(pl, "bug")
	pl["bugs"] = bugs
	pl["actions"] = actions
	pl["errors"] = errs
	title, count := processedSubject(b.m.Subject)
	if count < 0 {
		count = len(errs)
	}
	pl["title"] = title
	pl["error_count"] = count
	putTo(pl, b.m)
	if t.Truncated {
		pl["truncated"] = true
	}
	return event("control", rule, pl)
}

// processedSubject strips "Processed: " or "Processed (with N errors): "
// from a transcript subject and returns N (-1 when the subject does not
// say; 0 for a plain "Processed:").
func processedSubject(s string) (string, int) {
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, "Processed: "); ok {
		return strings.TrimSpace(rest), 0
	}
	if rest, ok := strings.CutPrefix(s, "Processed (with "); ok {
		num, after, ok := strings.Cut(rest, " error")
		n, err := strconv.Atoi(num)
		if ok && err == nil {
			if _, title, ok := strings.Cut(after, "): "); ok {
				return strings.TrimSpace(title), n
			}
			return "", n
		}
	}
	return s, -1
}
