package bus

import (
	"bytes"
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
