package dak

import (
	"reflect"
	"strings"
	"testing"
)

// wordSeeds are list field values, odd bytes included.
var wordSeeds = []string{
	"", " ", "a", "a b", " a,b\tc\nd ", "a,,b", "#1, #2 3", ",,,", "é ü,\xff\xfe x",
	"unstable experimental", "amd64 source all", "foo (1.2-1)",
}

// checkWords compares the byte splitters with strings.FieldsFunc.
func checkWords(t *testing.T, s string) {
	t.Helper()
	want := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == ',' })
	if want == nil {
		want = []string{}
	}
	got := splitList(s)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("splitList(%q) = %q, want %q", s, got, want)
	}
	if n := countWords(s); n != len(want) {
		t.Errorf("countWords(%q) = %d, want %d", s, n, len(want))
	}
	if i, j := indexBlank(s), strings.IndexAny(s, " \t"); i != j {
		t.Errorf("indexBlank(%q) = %d, want %d", s, i, j)
	}
	if got, want := trimRight(s), strings.TrimRight(s, " \t"); got != want {
		t.Errorf("trimRight(%q) = %q, want %q", s, got, want)
	}
}

// TestWordsMatchStrings: the byte splitters split as the strings
// functions they replace.
func TestWordsMatchStrings(t *testing.T) {
	for _, s := range wordSeeds {
		checkWords(t, s)
	}
}

// FuzzWords compares the byte splitters with the strings functions.
func FuzzWords(f *testing.F) {
	for _, s := range wordSeeds {
		f.Add(s)
	}
	f.Fuzz(checkWords)
}

// TestBoxesShare: equal values share one box, and every box holds its
// value, past maxBoxes too.
func TestBoxesShare(t *testing.T) {
	var bx boxes
	a, b := bx.str("x.deb"), bx.str(strings.Clone("x.deb"))
	if a != b || a.(string) != "x.deb" {
		t.Errorf("str boxes %v, %v", a, b)
	}
	if v := bx.size(1234); v != bx.size(1234) || v.(int64) != 1234 {
		t.Errorf("size box %v", v)
	}
	for i := int64(0); i < 2*maxBoxes; i++ {
		if v := bx.size(i); v.(int64) != i {
			t.Fatalf("size(%d) = %v", i, v)
		}
		if s := strings.Repeat("a", int(i)); bx.str(s).(string) != s {
			t.Fatalf("str(%q) wrong", s)
		}
	}
}
