package bus

import (
	"bytes"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/eddsa"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// newTestEntity makes a key as GenerateKey does (0: Ed25519, else RSA).
func newTestEntity(t testing.TB, rsaBits int) *openpgp.Entity {
	cfg, err := KeyConfig(rsaBits)
	if err != nil {
		t.Fatal(err)
	}
	e, err := openpgp.NewEntity("t", "", "t@example.org", cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestFastEd25519SameSignatures: the signer's Ed25519 key is moved onto
// curve25519-voi, and its detached signatures are byte for byte those
// of go-crypto's own signing (circl), for messages of many sizes.
func TestFastEd25519SameSignatures(t *testing.T) {
	e := newTestEntity(t, 0)
	fast := NewSigner(e, e.PrivateKey)
	sk := fast.key.PrivateKey.(*eddsa.PrivateKey)
	if _, ok := sk.GetCurve().(*fastEd25519); !ok {
		t.Fatalf("signer's curve is %T, want *fastEd25519", sk.GetCurve())
	}
	if _, ok := e.PrivateKey.PrivateKey.(*eddsa.PrivateKey).GetCurve().(*fastEd25519); ok {
		t.Fatal("NewSigner changed the entity's own key")
	}
	plain := NewSigner(e, e.PrivateKey)
	plain.key = e.PrivateKey // go-crypto's own curve
	at := time.Unix(1790000000, 0)
	fast.now = func() time.Time { return at }
	plain.now = fast.now
	// Without the random salt notation go-crypto adds by default, the
	// signatures are deterministic and can be compared.
	fixed := false
	fast.config.NonDeterministicSignaturesViaNotation = &fixed
	plain.config = fast.config
	for _, n := range []int{0, 1, 31, 32, 33, 4096, 1 << 16} {
		data := bytes.Repeat([]byte{byte(n)}, n)
		a, err := fast.SignDetached(data)
		if err != nil {
			t.Fatal(err)
		}
		b, err := plain.SignDetached(data)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%d bytes: signatures differ:\nvoi   %x\ncircl %x", n, a, b)
		}
		if err := verifyDetached(e, data, a); err != nil {
			t.Errorf("%d bytes: %v", n, err)
		}
	}
}

// TestFastEd25519OnlyItsKey: a key fastEd25519 cannot take (RSA) is used
// as it is, and the fast curve given another key's secret signs with
// that key, through go-crypto.
func TestFastEd25519OnlyItsKey(t *testing.T) {
	r := newTestEntity(t, 2048)
	if k := withFastEd25519(r.PrivateKey); k != r.PrivateKey {
		t.Error("an RSA key was replaced")
	}
	a, b := newTestEntity(t, 0), newTestEntity(t, 0)
	fa := withFastEd25519(a.PrivateKey).PrivateKey.(*eddsa.PrivateKey)
	kb := b.PrivateKey.PrivateKey.(*eddsa.PrivateKey)
	msg := []byte("message")
	sig, err := fa.GetCurve().Sign(kb.X, kb.D, msg)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := kb.GetCurve().Sign(kb.X, kb.D, msg)
	if !bytes.Equal(sig, want) {
		t.Error("signing with another key's secret did not sign with that key")
	}
}

// verifyDetached checks a binary detached signature of data by e.
func verifyDetached(e *openpgp.Entity, data, sig []byte) error {
	_, err := openpgp.CheckDetachedSignature(openpgp.EntityList{e}, bytes.NewReader(data), bytes.NewReader(sig), &packet.Config{})
	return err
}

// BenchmarkEd25519Sign is one Ed25519 signature of a SHA-256 digest, as
// an OpenPGP signature makes it: go-crypto's curve (circl) against
// fastEd25519 (curve25519-voi).
func BenchmarkEd25519Sign(b *testing.B) {
	e := newTestEntity(b, 0)
	for _, k := range []*packet.PrivateKey{e.PrivateKey, withFastEd25519(e.PrivateKey)} {
		sk := k.PrivateKey.(*eddsa.PrivateKey)
		name := "circl"
		if _, ok := sk.GetCurve().(*fastEd25519); ok {
			name = "voi"
		}
		digest := make([]byte, 32)
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if _, _, err := eddsa.Sign(sk, digest); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
