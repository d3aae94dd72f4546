package dak

// fieldRows holds the list fields of one .changes (Files, Checksums-*)
// split into words, so that the two payloads made from it (the upload's
// and debmessenger's) split each field once. Rows are kept by field name
// and width; its tables are arrays, so a fieldRows on the stack costs no
// allocation of its own.
type fieldRows struct {
	keys [maxFieldRows]rowsKey
	vals [maxFieldRows][]string
	n    int // entries used
}

type rowsKey struct {
	name  string
	width int
}

// maxFieldRows bounds the fields remembered; further ones are split each
// time.
const maxFieldRows = 4

// get returns the words of the lines of ch's field name that split into
// exactly width words (see splitN; width is at most 5), row after row.
// Every call for one fieldRows must pass the same ch.
func (fr *fieldRows) get(ch *Changes, name string, width int) []string {
	k := rowsKey{name, width}
	for i := range fr.n {
		if fr.keys[i] == k {
			return fr.vals[i]
		}
	}
	words := make([]string, 0, width*ch.count(name))
	var w [5]string
	ch.lines(name, func(line string) {
		if splitN(line, w[:width]) == width {
			words = append(words, w[:width]...)
		}
	})
	if fr.n < maxFieldRows {
		fr.keys[fr.n], fr.vals[fr.n] = k, words
		fr.n++
	}
	return words
}
