package pipeline

import (
	"testing"

	"github.com/debian/mailgw/internal/auth"
	"github.com/debian/mailgw/internal/meaning"
	"github.com/debian/mailgw/parsers"
)

// builtCorpus returns the classified events of every corpus mail.
func builtCorpus(b *testing.B) (msgs []*parsers.Message, evs [][]parsers.Event) {
	cl := classifier()
	for _, m := range loadCorpus(b) {
		msg, err := parsers.ReadMessage(m.raw)
		if err != nil {
			continue
		}
		e, _ := cl.Classify(msg)
		msgs, evs = append(msgs, msg), append(evs, e)
	}
	return msgs, evs
}

// BenchmarkBuildCorpus measures Build alone (events already parsed) over
// the corpus, meaning.Describe included; BenchmarkDescribeCorpus measures
// the Describe calls of the same events alone: their ratio is what the
// meaning costs Build (docs/benchmarks.md).
func BenchmarkBuildCorpus(b *testing.B) {
	msgs, evs := builtCorpus(b)
	cfg := testConfig()
	trust := (&auth.Decision{}).Object()
	b.ReportAllocs()
	for b.Loop() {
		for i := range msgs {
			Build(cfg, msgs[i], evs[i], fixedNow, false, trust)
		}
	}
}

func BenchmarkDescribeCorpus(b *testing.B) {
	msgs, evs := builtCorpus(b)
	type item struct {
		name string
		msg  map[string]any
	}
	var items []item
	for i := range msgs {
		info := parsers.MailInfo(msgs[i])
		for _, ev := range evs[i] {
			msg := map[string]any{"mail": info}
			for k, v := range ev.Payload {
				msg[k] = v
			}
			items = append(items, item{ev.Name(), msg})
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, it := range items {
			meaning.Describe(it.name, it.msg)
		}
	}
}
