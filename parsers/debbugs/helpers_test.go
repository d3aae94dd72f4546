package debbugs

// mailsDir is the shared golden corpus. Its golden files are checked by
// parsers/golden_test.go, with the classifier wired as serve wires it.
const mailsDir = "../../testdata/mails"
