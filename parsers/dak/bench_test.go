package dak

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/debian/mailgw/parsers"
)

// corpus loads the golden dak mails (corpus and written).
func corpus(b *testing.B) [][]byte {
	b.Helper()
	files, _ := filepath.Glob(filepath.Join(mailsDir, "0[0-9][0-9]-*.eml"))
	if len(files) == 0 {
		b.Fatal("no mails")
	}
	var out [][]byte
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, raw)
	}
	return out
}

// BenchmarkDakCorpus decodes and parses the dak mail mix (ReadMessage +
// Parse, Compat on, no keyring); one op is one mail.
func BenchmarkDakCorpus(b *testing.B) {
	mails := corpus(b)
	p := New(Options{Compat: true})
	var size int64
	for _, m := range mails {
		size += int64(len(m))
	}
	b.SetBytes(size / int64(len(mails)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m, err := parsers.ReadMessage(mails[i%len(mails)])
		if err != nil {
			b.Fatal(err)
		}
		p.Parse(m)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "mails/s")
}

// BenchmarkDakParseOnly is Parse alone over pre-decoded mails.
func BenchmarkDakParseOnly(b *testing.B) {
	var msgs []*parsers.Message
	for _, raw := range corpus(b) {
		m, err := parsers.ReadMessage(raw)
		if err != nil {
			b.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	p := New(Options{Compat: true})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p.Parse(msgs[i%len(msgs)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "mails/s")
}

// BenchmarkParseChanges reads the largest .changes of the corpus.
func BenchmarkParseChanges(b *testing.B) {
	raw, err := os.ReadFile(filepath.Join(mailsDir, "013-iceweasel-l10n-large-2008.eml"))
	if err != nil {
		b.Fatal(err)
	}
	m, _ := parsers.ReadMessage(raw)
	loc, ok := findChanges(m.Text)
	if !ok {
		b.Fatal("no .changes")
	}
	b.SetBytes(int64(len(loc.para)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		ch := ParseChanges(loc.para)
		ch.Files()
		ch.Checksums("Checksums-Sha256")
	}
}

// BenchmarkDakReadOnly is the shared decoder alone over the same mails,
// to tell its share of BenchmarkDakCorpus from the parser's.
func BenchmarkDakReadOnly(b *testing.B) {
	mails := corpus(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := parsers.ReadMessage(mails[i%len(mails)]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "mails/s")
}
