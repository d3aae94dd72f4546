package dak

// boxes hands out the interface values of a payload's strings and sizes,
// boxing each distinct value once. A .changes names every file in Files,
// Checksums-Sha1 and Checksums-Sha256, so the names and sizes of its file
// lists would otherwise be boxed (allocated) three times each. Strings
// and integers are immutable, so sharing the boxes is invisible; the
// upload payload and the debmessenger payload of one .changes share one.
// Its tables are arrays, so a boxes on the stack costs no allocation.
type boxes struct {
	strs   [maxBoxes]boxedStr
	sizes  [maxBoxes]boxedSize
	ns, nn int // entries used
}

type boxedStr struct {
	s string
	v any
}

type boxedSize struct {
	n int64
	v any
}

// maxBoxes bounds the values remembered (the lookup is a linear scan);
// further values are boxed each time.
const maxBoxes = 32

// str returns s as an interface value.
func (b *boxes) str(s string) any {
	for _, e := range b.strs[:b.ns] {
		if e.s == s {
			return e.v
		}
	}
	var v any = s
	if b.ns < maxBoxes {
		b.strs[b.ns] = boxedStr{s, v}
		b.ns++
	}
	return v
}

// size returns n as an interface value.
func (b *boxes) size(n int64) any {
	for _, e := range b.sizes[:b.nn] {
		if e.n == n {
			return e.v
		}
	}
	var v any = n
	if b.nn < maxBoxes {
		b.sizes[b.nn] = boxedSize{n, v}
		b.nn++
	}
	return v
}
