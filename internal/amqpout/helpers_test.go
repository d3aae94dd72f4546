package amqpout

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/corpustest"
	"github.com/debian/mailgw/internal/journal"
)

// corpusJournal journals the events of every golden mail, built as serve
// builds them (corpustest) and signed, and returns the journal and the
// public key file.
func corpusJournal(t testing.TB) (*journal.Journal, string) {
	t.Helper()
	dir := t.TempDir()
	sec, pub, _, err := bus.GenerateKey("mailgw amqp test", "amqp@example.org", 0)
	if err != nil {
		t.Fatal(err)
	}
	secFile, pubFile := filepath.Join(dir, "sec.asc"), filepath.Join(dir, "pub.asc")
	os.WriteFile(secFile, sec, 0o600)
	os.WriteFile(pubFile, pub, 0o644)
	signer, err := bus.LoadSigner(secFile, "")
	if err != nil {
		t.Fatal(err)
	}
	j, err := journal.Open(filepath.Join(dir, "journal.sqlite"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close() })
	var envs []*bus.Envelope
	for _, e := range corpustest.Envelopes(t, corpustest.Golden(t)) {
		e.Env.I, e.Env.SeqID = 0, 0 // the journal numbers; publishers count
		if err := bus.Sign(e.Env, signer); err != nil {
			t.Fatal(err)
		}
		envs = append(envs, e.Env)
	}
	if _, err := j.Add(envs); err != nil {
		t.Fatal(err)
	}
	return j, pubFile
}

// entries returns every journaled envelope.
func entries(t testing.TB, j *journal.Journal) []journal.Entry {
	t.Helper()
	var out []journal.Entry
	for seq := int64(0); ; {
		es, err := j.After(seq, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(es) == 0 {
			return out
		}
		out = append(out, es...)
		seq = es[len(es)-1].SeqID
	}
}
