package debbugs

import (
	"strconv"
	"strings"
)

// argStyle says how a command's arguments are split.
type argStyle int

const (
	argsNone   argStyle = iota // no arguments
	argsWords                  // white-space separated words
	argsList                   // words and comma lists, split
	argsRest                   // the rest of the line as one argument
	argsBugs                   // more bug numbers (merge, forcemerge)
	argsBlock                  // "by"/"with" then bug numbers
	argsAssign                 // package list, optional version
)

// commands are the control commands that act on bugs.
var commands = map[string]struct {
	name  string
	style argStyle
}{
	"reassign": {"reassign", argsAssign}, "retitle": {"retitle", argsRest},
	"severity": {"severity", argsWords}, "priority": {"severity", argsWords},
	"tags": {"tags", argsList}, "tag": {"tags", argsList},
	"merge": {"merge", argsBugs}, "forcemerge": {"forcemerge", argsBugs},
	"unmerge": {"unmerge", argsNone},
	"found":   {"found", argsList}, "notfound": {"notfound", argsList},
	"fixed": {"fixed", argsList}, "notfixed": {"notfixed", argsList},
	"close": {"close", argsWords}, "reopen": {"reopen", argsRest},
	"forwarded": {"forwarded", argsRest}, "notforwarded": {"notforwarded", argsNone},
	"owner": {"owner", argsRest}, "noowner": {"noowner", argsNone},
	"block": {"block", argsBlock}, "unblock": {"unblock", argsBlock},
	"affects": {"affects", argsList}, "affect": {"affects", argsList},
	"submitter": {"submitter", argsRest},
	"summary":   {"summary", argsRest}, "outlook": {"outlook", argsRest},
	"archive": {"archive", argsNone}, "unarchive": {"unarchive", argsNone},
	"clone": {"clone", argsWords},
}

// parseCommandIn reads one control command line, taking the action's
// slices from sl (nil: allocate each); ok is false for lines that are not
// bug commands (user, usertags, package, limit, debug, …).
func parseCommandIn(line string, sl *slab) (Action, bool) {
	var buf [16]string
	words := appendFields(buf[:0], line)
	if len(words) < 2 {
		return Action{}, false
	}
	spec, ok := commands[strings.ToLower(words[0])]
	if !ok {
		return Action{}, false
	}
	n, ok := bugNumber(words[1])
	if !ok {
		return Action{}, false
	}
	rest := words[2:]
	a := Action{Command: spec.name, Bugs: sl.one(n), Args: []string{}}
	switch spec.style {
	case argsWords:
		a.Args = append(sl.strs(len(rest)), rest...)
	case argsList:
		// Each comma piece may split in two (a tag operator).
		n := 0
		for _, w := range rest {
			n += 2 * (1 + strings.Count(w, ","))
		}
		a.Args = sl.strs(n)
		for _, w := range rest {
			a.Args = appendList(a.Args, w, false)
		}
	case argsRest:
		if len(rest) > 0 {
			// keep the original spacing of titles and addresses
			r := strings.TrimSpace(line[len(words[0]):])
			a.Args = append(a.Args, strings.TrimSpace(r[len(words[1]):]))
		}
	case argsBugs:
		for _, w := range rest {
			if n, ok := bugNumber(w); ok {
				a.Bugs = append(a.Bugs, n)
			}
		}
	case argsBlock:
		for _, w := range rest {
			if !strings.EqualFold(w, "by") && !strings.EqualFold(w, "with") {
				a.Args = appendList(a.Args, w, true)
			}
		}
	case argsAssign:
		joined := strings.Join(rest, " ")
		if strings.Contains(joined, ",") {
			a.Args = append(a.Args, strings.Join(strings.Fields(strings.ReplaceAll(joined, ",", " , ")), ""))
		} else {
			a.Args = append(a.Args, rest...)
		}
	}
	return a, true
}

// appendFields appends the white-space separated words of s to dst; the
// first words go into dst's spare capacity without allocating.
func appendFields(dst []string, s string) []string {
	i := 0
	for i < len(s) {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		j := i
		for j < len(s) && s[j] != ' ' && s[j] != '\t' {
			j++
		}
		if j > i {
			dst = append(dst, s[i:j])
		}
		i = j
	}
	return dst
}

// appendList appends the comma-separated pieces of w to dst, dropping
// empty pieces and splitting a leading tag operator (+, -, =) into its own
// piece; hash is for bug numbers: it drops a leading "#", and a leading
// "-" is a placeholder's sign (-1), not an operator.
func appendList(dst []string, w string, hash bool) []string {
	for w != "" {
		x := w
		if i := strings.IndexByte(w, ','); i >= 0 {
			x, w = w[:i], w[i+1:]
		} else {
			w = ""
		}
		if hash {
			x = strings.TrimPrefix(x, "#")
		}
		if !hash && len(x) > 1 && (x[0] == '+' || x[0] == '-' || x[0] == '=') {
			dst = append(dst, x[:1], x[1:])
		} else if x != "" {
			dst = append(dst, x)
		}
	}
	return dst
}

// bugNumber reads "N" or "#N" (negative numbers are clone placeholders).
func bugNumber(w string) (int, bool) {
	w = strings.TrimSuffix(strings.TrimPrefix(w, "#"), ",")
	n, err := strconv.Atoi(w)
	if err != nil || n == 0 || n > 1<<31 || n < -1<<20 {
		return 0, false
	}
	return n, true
}
