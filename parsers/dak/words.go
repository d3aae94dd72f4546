package dak

// indexBlank returns the index of the first space or tab in s, or -1.
func indexBlank(s string) int {
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' || s[i] == '\t' {
			return i
		}
	}
	return -1
}

// isSep reports whether c separates the words of a list field.
func isSep(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == ','
}

// appendWords appends the words of s, split on isSep, to dst. The
// separators are ASCII, so a byte scan splits as strings.FieldsFunc would.
func appendWords(dst []string, s string) []string {
	start := -1
	for i := 0; i < len(s); i++ {
		if isSep(s[i]) {
			if start >= 0 {
				dst = append(dst, s[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	if start >= 0 {
		dst = append(dst, s[start:])
	}
	return dst
}

// countWords returns how many words appendWords finds in s.
func countWords(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if !isSep(s[i]) && (i == 0 || isSep(s[i-1])) {
			n++
		}
	}
	return n
}
