package parsers_test

import (
	"os"
	"testing"

	"github.com/debian/mailgw/parsers"
)

// corpus loads every golden mail for the benchmarks.
func corpus(b *testing.B) [][]byte {
	var mails [][]byte
	for _, f := range goldenFiles(b) {
		raw, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		mails = append(mails, raw)
	}
	return mails
}

// BenchmarkReadMessageCorpus decodes the golden mails round-robin; one op
// is one mail, so ns/op and allocs/op are per mail.
func BenchmarkReadMessageCorpus(b *testing.B) {
	mails := corpus(b)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		parsers.ReadMessage(mails[i%len(mails)])
		i++
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "mails/s")
}

// BenchmarkClassifyCorpus is the parse stage of the pipeline: decode,
// classify and build the payloads (with MailInfo) for each golden mail.
func BenchmarkClassifyCorpus(b *testing.B) {
	mails := corpus(b)
	c := goldenClassifier()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		m, err := parsers.ReadMessage(mails[i%len(mails)])
		i++
		if err != nil {
			continue
		}
		evs, _ := c.Classify(m)
		for _, e := range evs {
			e.Payload["mail"] = parsers.MailInfo(m)
		}
	}
	b.ReportMetric(float64(i)/b.Elapsed().Seconds(), "mails/s")
}
