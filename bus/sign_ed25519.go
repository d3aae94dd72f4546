package bus

import (
	"bytes"
	"io"

	"github.com/ProtonMail/go-crypto/openpgp/eddsa"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
	voi "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// edCurve is the method set of go-crypto's EdDSA curves (the type
// behind eddsa.PublicKey's curve, which go-crypto keeps internal).
// fastEd25519 has the same methods, so eddsa.NewPublicKey takes it.
type edCurve interface {
	GetCurveName() string
	MarshalBytePoint(x []byte) []byte
	UnmarshalBytePoint([]byte) (x []byte)
	MarshalByteSecret(d []byte) []byte
	UnmarshalByteSecret(d []byte) []byte
	MarshalSignature(sig []byte) (r, s []byte)
	UnmarshalSignature(r, s []byte) (sig []byte)
	GenerateEdDSA(rand io.Reader) (pub, priv []byte, err error)
	Sign(publicKey, privateKey, message []byte) (sig []byte, err error)
	Verify(publicKey, message, sig []byte) bool
	ValidateEdDSA(publicKey, privateKey []byte) (err error)
}

// fastEd25519 is go-crypto's Ed25519 curve with signing by one key done
// by curve25519-voi: an Ed25519 signature is deterministic (RFC 8032),
// so the bytes are the same, and voi makes it in about 8 µs against
// 15 µs for circl, go-crypto's own (BenchmarkEd25519Sign); with about
// 1.5 envelopes per mail, that was a tenth of a signed replay's CPU
// time. Every other method, and signing with any other key, is the
// original curve's.
type fastEd25519 struct {
	edCurve
	seed []byte         // the key's secret seed, as go-crypto holds it
	key  voi.PrivateKey // seed and public key, expanded once
}

// Sign signs message with the one key when privateKey is its seed.
func (c *fastEd25519) Sign(publicKey, privateKey, message []byte) ([]byte, error) {
	if !bytes.Equal(privateKey, c.seed) || !bytes.Equal(publicKey, c.key[voi.SeedSize:]) {
		return c.edCurve.Sign(publicKey, privateKey, message)
	}
	return voi.Sign(c.key, message), nil
}

// withFastEd25519 returns key with its Ed25519 (legacy EdDSA, the form
// GnuPG 2.2 makes) secret moved onto fastEd25519, or key itself for any
// other kind of key. key is not changed.
func withFastEd25519(key *packet.PrivateKey) *packet.PrivateKey {
	sk, ok := key.PrivateKey.(*eddsa.PrivateKey)
	if !ok || sk.GetCurve() == nil || sk.GetCurve().GetCurveName() != "ed25519" || len(sk.D) != voi.SeedSize {
		return key
	}
	fast := voi.NewKeyFromSeed(sk.D)
	if !bytes.Equal(fast[voi.SeedSize:], sk.X) {
		return key // a secret that does not match its public key: let go-crypto deal with it
	}
	pub := eddsa.NewPublicKey(&fastEd25519{edCurve: sk.GetCurve(), seed: sk.D, key: fast})
	pub.X = sk.X
	priv := eddsa.NewPrivateKey(*pub)
	priv.D = sk.D
	k := *key
	k.PrivateKey = priv
	return &k
}
