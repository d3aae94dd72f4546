package dak

import (
	"os"
	"testing"

	"github.com/debian/mailgw/parsers"
)

// mailsDir is the shared golden corpus. Its golden files are checked by
// parsers/golden_test.go, with the classifier wired as serve wires it;
// tests here use single mails from it.
const mailsDir = "../../testdata/mails"

// readMail decodes a mail file with the shared decoder.
func readMail(t testing.TB, path string) *parsers.Message {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := parsers.ReadMessage(raw)
	if err != nil {
		t.Fatalf("%s: ReadMessage: %v", path, err)
	}
	return m
}
