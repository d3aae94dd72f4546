package dak

import (
	"sort"
	"strconv"
	"strings"
)

// Changes is one parsed .changes (deb822) paragraph. Field values are
// substrings of the parsed text: no copy is made while parsing.
type Changes struct {
	// Fields are the paragraph's fields in order.
	Fields []ChangesField
}

// ChangesField is one deb822 field. Value is the text after the colon with
// the first line's leading blanks removed; continuation lines follow after
// "\n" with their leading blank kept, as python-debian gives them.
type ChangesField struct {
	Name  string
	Value string
}

// FileEntry is one line of a .changes Files field.
type FileEntry struct {
	MD5Sum, Section, Priority, Name string
	Size                            int64
}

// Checksum is one line of a Checksums-* field.
type Checksum struct {
	Sum, Name string
	Size      int64
}

// ParseChanges reads the first deb822 paragraph of text: blank lines before
// it are skipped, it ends at the first blank line or at a line that is
// neither a field nor a continuation. CRLF line ends are accepted. It never
// fails; a text with no field yields an empty Changes.
func ParseChanges(text string) *Changes {
	if strings.IndexByte(text, '\r') >= 0 {
		text = strings.ReplaceAll(text, "\r\n", "\n")
	}
	c := &Changes{Fields: make([]ChangesField, 0, 16)}
	pos := 0
	// Skip leading blank lines.
	for pos < len(text) {
		end := lineEnd(text, pos)
		if !isBlank(text[pos:end]) {
			break
		}
		pos = next(text, end)
	}
	cur := -1     // index of the field being read
	valStart := 0 // start of the current field's value
	for pos < len(text) {
		end := lineEnd(text, pos)
		line := text[pos:end]
		if isBlank(line) {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			if cur < 0 {
				break // continuation with no field: not a paragraph
			}
			c.Fields[cur].Value = trimRight(text[valStart:end])
			pos = next(text, end)
			continue
		}
		colon := strings.IndexByte(line, ':')
		if colon <= 0 || line[0] == '-' || line[0] == '#' ||
			indexBlank(line[:colon]) >= 0 {
			break
		}
		vs := pos + colon + 1
		for vs < end && (text[vs] == ' ' || text[vs] == '\t') {
			vs++
		}
		valStart = vs
		c.Fields = append(c.Fields, ChangesField{Name: line[:colon], Value: trimRight(text[vs:end])})
		cur = len(c.Fields) - 1
		pos = next(text, end)
	}
	return c
}

func lineEnd(s string, pos int) int {
	if i := strings.IndexByte(s[pos:], '\n'); i >= 0 {
		return pos + i
	}
	return len(s)
}

func next(s string, end int) int {
	if end < len(s) {
		return end + 1
	}
	return end
}

func isBlank(line string) bool {
	for i := 0; i < len(line); i++ {
		if line[i] != ' ' && line[i] != '\t' {
			return false
		}
	}
	return true
}

func trimRight(s string) string {
	j := len(s)
	for j > 0 && (s[j-1] == ' ' || s[j-1] == '\t') {
		j--
	}
	return s[:j]
}

// Get returns the value of the named field (case-insensitive) and whether
// it is present.
func (c *Changes) Get(name string) (string, bool) {
	for i := range c.Fields {
		if c.Fields[i].Name == name {
			return c.Fields[i].Value, true
		}
	}
	for i := range c.Fields {
		if strings.EqualFold(c.Fields[i].Name, name) {
			return c.Fields[i].Value, true
		}
	}
	return "", false
}

// Value returns the named field with surrounding blanks removed, "" when
// absent.
func (c *Changes) Value(name string) string {
	v, _ := c.Get(name)
	return strings.TrimSpace(v)
}

// Words returns the named field split on blanks (and commas), never nil.
func (c *Changes) Words(name string) []string {
	v, _ := c.Get(name)
	return splitList(v)
}

// Text returns a multi-line field as readable text: the first line (often
// empty) dropped when empty, one leading blank removed from each
// continuation line and " ." lines turned into empty lines.
func (c *Changes) Text(name string) string {
	v, _ := c.Get(name)
	first, rest, multi := strings.Cut(v, "\n")
	var b strings.Builder
	b.Grow(len(v))
	if first = strings.TrimSpace(first); first != "" {
		b.WriteString(first)
		if multi {
			b.WriteByte('\n')
		}
	}
	for rest != "" {
		var line string
		line, rest, _ = strings.Cut(rest, "\n")
		if len(line) > 0 && (line[0] == ' ' || line[0] == '\t') {
			line = line[1:]
		}
		if line != "." {
			b.WriteString(line)
		}
		if rest != "" {
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// lines calls fn for each non-empty continuation line of a multi-line
// field, blanks trimmed.
func (c *Changes) lines(name string, fn func(string)) {
	v, _ := c.Get(name)
	for v != "" {
		var line string
		line, v, _ = strings.Cut(v, "\n")
		if line = strings.TrimSpace(line); line != "" {
			fn(line)
		}
	}
}

// count returns how many continuation lines a field has (an upper bound
// for its list entries).
func (c *Changes) count(name string) int {
	v, _ := c.Get(name)
	return strings.Count(v, "\n")
}

// splitN splits s on blanks into at most len(out) words and returns how
// many it found; the last word keeps any further words.
func splitN(s string, out []string) int {
	n := 0
	for n < len(out) {
		for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
			s = s[1:]
		}
		if s == "" {
			break
		}
		if n == len(out)-1 {
			out[n] = trimRight(s)
			return n + 1
		}
		i := indexBlank(s)
		if i < 0 {
			out[n] = s
			return n + 1
		}
		out[n], s = s[:i], s[i:]
		n++
	}
	return n
}

// Files returns the entries of the Files field ("md5sum size section
// priority name"; lines of other shapes are skipped), never nil.
func (c *Changes) Files() []FileEntry {
	out := make([]FileEntry, 0, c.count("Files"))
	var w [5]string
	c.lines("Files", func(line string) {
		if splitN(line, w[:]) != 5 {
			return
		}
		size, _ := strconv.ParseInt(w[1], 10, 64)
		out = append(out, FileEntry{MD5Sum: w[0], Size: size, Section: w[2], Priority: w[3], Name: w[4]})
	})
	return out
}

// Checksums returns the entries of a Checksums-Sha1 or Checksums-Sha256
// field ("sum size name"), never nil.
func (c *Changes) Checksums(field string) []Checksum {
	out := make([]Checksum, 0, c.count(field))
	var w [3]string
	c.lines(field, func(line string) {
		if splitN(line, w[:]) != 3 {
			return
		}
		size, _ := strconv.ParseInt(w[1], 10, 64)
		out = append(out, Checksum{Sum: w[0], Size: size, Name: w[2]})
	})
	return out
}

// BugList parses a list of bug numbers ("123 456", "#123, 456"): repeats
// removed, sorted, never nil; words that are not numbers are skipped.
func BugList(v string) []int {
	out := []int{}
	var buf [16]string
	for _, w := range appendWords(buf[:0], v) {
		w = strings.TrimPrefix(w, "#")
		n, err := strconv.Atoi(w)
		if err != nil || n <= 0 {
			continue
		}
		out = append(out, n)
	}
	if len(out) < 2 {
		return out
	}
	sort.Ints(out)
	j := 1
	for i := 1; i < len(out); i++ {
		if out[i] != out[j-1] {
			out[j] = out[i]
			j++
		}
	}
	return out[:j]
}

// Closes returns the bugs of the Closes field, repeats removed, sorted.
func (c *Changes) Closes() []int {
	v, _ := c.Get("Closes")
	return BugList(v)
}
