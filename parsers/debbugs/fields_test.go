package debbugs

import (
	"reflect"
	"strings"
	"testing"
)

// fieldSeeds are X-Debian-PR-Package style values, odd bytes included.
var fieldSeeds = []string{
	"", " ", "src:a src:b", "a,b", " a ,\tb\r\nc ", ",,", "é,\xff x",
	"stop", "Thanks.", "THANK YOU", "thank  you", "kthxbye...", "ſtop", "\u212athxbye", "quit \t.",
}

// checkFields compares fields, isStop and trimLineEnd with the strings
// functions they replace.
func checkFields(t *testing.T, s string) {
	t.Helper()
	want := strings.FieldsFunc(s, func(r rune) bool {
		return r == ' ' || r == ',' || r == '\t' || r == '\r' || r == '\n'
	})
	if want == nil {
		want = []string{}
	}
	if got := fields(s); !reflect.DeepEqual(got, want) {
		t.Errorf("fields(%q) = %q, want %q", s, got, want)
	}
	stop := false
	switch strings.ToLower(strings.TrimRight(s, ". \t")) {
	case "stop", "quit", "--", "thanks", "thank you", "thankyou", "kthxbye", "thanks!":
		stop = true
	}
	if got := isStop(s); got != stop {
		t.Errorf("isStop(%q) = %v, want %v", s, got, stop)
	}
	if got, want := trimLineEnd(s), strings.TrimRight(s, " \t\r"); got != want {
		t.Errorf("trimLineEnd(%q) = %q, want %q", s, got, want)
	}
}

// TestFieldsMatchStrings: the byte scans agree with the strings package.
func TestFieldsMatchStrings(t *testing.T) {
	for _, s := range fieldSeeds {
		checkFields(t, s)
	}
}

// FuzzFields compares the byte scans with the strings package.
func FuzzFields(f *testing.F) {
	for _, s := range fieldSeeds {
		f.Add(s)
	}
	f.Fuzz(checkFields)
}
