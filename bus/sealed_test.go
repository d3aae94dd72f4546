package bus

import (
	"bytes"
	"fmt"
	"math"
	"strings"
	"testing"
)

// TestSignSealed checks that a sealed envelope marshals to the same bytes
// as one signed with Sign, that its signature verifies, that copies keep
// the seal (the journal marshals a copy with seq_id) and that Sign
// unseals, so a changed Msg is encoded again.
func TestSignSealed(t *testing.T) {
	s, pubFile := keyFiles(t)
	kr, err := LoadKeyring(pubFile)
	if err != nil {
		t.Fatal(err)
	}
	plain := NewEnvelope("org.debian.dev.dak.package.upload", msg4K(), "2026-x", 1790000000, "mailgw")
	sealed := NewEnvelope("org.debian.dev.dak.package.upload", msg4K(), "2026-x", 1790000000, "mailgw")
	if err := Sign(plain, s); err != nil {
		t.Fatal(err)
	}
	if err := SignSealed(sealed, s); err != nil {
		t.Fatal(err)
	}
	plain.I, sealed.I = 3, 3
	want, _ := plain.Marshal()
	got, err := sealed.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	// Ed25519 signatures are deterministic, but the signature packet
	// carries its creation time: compare with the signatures swapped.
	sealed.Signature, plain.Signature = plain.Signature, sealed.Signature
	got2, _ := sealed.Marshal()
	if !bytes.Equal(want, got2) {
		t.Fatalf("sealed body differs:\n got %.200s\nwant %.200s", got2, want)
	}
	e, err := ParseEnvelope(got)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.Verify(e, nil); err != nil {
		t.Fatalf("sealed envelope does not verify: %v", err)
	}
	c := *sealed
	c.SeqID = 7
	withSeq, _ := c.Marshal()
	if !bytes.Contains(withSeq, []byte(`"seq_id":7`)) || !bytes.Contains(withSeq, []byte(`"changed_by":"J\u00f6rg`)) {
		t.Fatalf("copy of a sealed envelope: %.300s", withSeq)
	}
	sealed.Msg["source"] = "other"
	if err := Sign(sealed, s); err != nil {
		t.Fatal(err)
	}
	if b, _ := sealed.Marshal(); !bytes.Contains(b, []byte(`"source":"other"`)) {
		t.Fatal("Sign did not unseal: the changed msg is not in the body")
	}
}

// TestSealArena seals many envelopes of varied sizes, some larger than an
// arena chunk, from several goroutines: every seal is the canonical msg
// of its own envelope afterwards (no seal overwrote another), and a
// failed encoding (a NaN) leaves no trace in the next seal.
func TestSealArena(t *testing.T) {
	s, _ := keyFiles(t)
	const workers, each = 4, 150
	errs := make(chan error, workers)
	for w := range workers {
		go func() {
			var envs []*Envelope
			for i := range each {
				msg := map[string]any{"w": w, "i": i, "pad": strings.Repeat("x", (i*997)%(3*arenaMin))}
				if i%50 == 49 {
					msg["big"] = strings.Repeat("y", arenaChunk+i)
				}
				env := NewEnvelope("org.debian.dev.t", msg, fmt.Sprint(w, "-", i), 1790000000, "mailgw")
				if i%40 == 7 {
					bad := NewEnvelope("org.debian.dev.t", map[string]any{"f": math.NaN(), "pad": strings.Repeat("z", 5000)}, "bad", 1, "")
					if SignSealed(bad, s) == nil {
						errs <- fmt.Errorf("a NaN was sealed")
						return
					}
				}
				if err := SignSealed(env, s); err != nil {
					errs <- err
					return
				}
				envs = append(envs, env)
			}
			for _, env := range envs {
				want, err := Canonical(env.Msg)
				if err != nil || !bytes.Equal(env.sealed, want) || cap(env.sealed) != len(env.sealed) {
					errs <- fmt.Errorf("envelope %s: seal of %d bytes (cap %d) is not its canonical msg (%d bytes)", env.MsgID, len(env.sealed), cap(env.sealed), len(want))
					return
				}
			}
			errs <- nil
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
