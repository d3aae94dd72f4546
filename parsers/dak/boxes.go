package dak

// boxes hands out the interface values of a payload's strings and sizes,
// boxing each distinct value once. A .changes names every file in Files,
// Checksums-Sha1 and Checksums-Sha256, so the names and sizes of its file
// lists would otherwise be boxed (allocated) three times each. Strings
// and integers are immutable, so sharing the boxes is invisible; the
// upload payload and the debmessenger payload of one .changes share one.
// Its tables are arrays, so a boxes on the stack costs no allocation.
type boxes struct {
	strs  boxTable[string]
	sizes boxTable[int64]
}

// maxBoxes bounds the values remembered (the lookup is a linear scan);
// further values are boxed each time.
const maxBoxes = 32

// boxTable remembers up to maxBoxes values of one type with their boxes.
type boxTable[T comparable] struct {
	e [maxBoxes]struct {
		k T
		v any
	}
	n int // entries used
}

// box returns k as an interface value, the same one for the same k.
func (t *boxTable[T]) box(k T) any {
	for _, e := range t.e[:t.n] {
		if e.k == k {
			return e.v
		}
	}
	var v any = k
	if t.n < maxBoxes {
		t.e[t.n].k, t.e[t.n].v = k, v
		t.n++
	}
	return v
}

// str returns s as an interface value.
func (b *boxes) str(s string) any { return b.strs.box(s) }

// size returns n as an interface value.
func (b *boxes) size(n int64) any { return b.sizes.box(n) }
