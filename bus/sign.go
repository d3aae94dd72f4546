package bus

import (
	"bytes"
	"crypto"
	_ "crypto/sha256" // SHA-256 for OpenPGP signatures
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// OpenPGPSigner signs with an OpenPGP secret key held in memory. It
// implements Signer and is safe for concurrent use.
type OpenPGPSigner struct {
	entity *openpgp.Entity
	key    *packet.PrivateKey // the (sub)key that signs
	fpr    string
	config *packet.Config
	now    func() time.Time // signature creation time; tests move it
}

// LoadSigner reads an OpenPGP secret key (ASCII-armored, or binary) from
// secretKeyFile. When the key is passphrase-protected, the passphrase is
// read from passphraseFile (one trailing newline is ignored); an empty
// passphraseFile with an encrypted key is an error.
func LoadSigner(secretKeyFile, passphraseFile string) (*OpenPGPSigner, error) {
	data, err := os.ReadFile(secretKeyFile)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	el, err := readKeys(data)
	if err != nil {
		return nil, fmt.Errorf("signing key %s: %w", secretKeyFile, err)
	}
	now := time.Now()
	for _, e := range el {
		k, ok := e.SigningKey(now)
		if !ok || k.PrivateKey == nil || k.PrivateKey.Dummy() {
			continue
		}
		if k.PrivateKey.Encrypted {
			if passphraseFile == "" {
				return nil, fmt.Errorf("signing key %s is passphrase-protected and no passphrase file is configured", secretKeyFile)
			}
			pass, err := os.ReadFile(passphraseFile)
			if err != nil {
				return nil, fmt.Errorf("signing key passphrase: %w", err)
			}
			pass = bytes.TrimSuffix(bytes.TrimSuffix(pass, []byte("\n")), []byte("\r"))
			if err := k.PrivateKey.Decrypt(pass); err != nil {
				return nil, fmt.Errorf("signing key %s: wrong passphrase in %s: %w", secretKeyFile, passphraseFile, err)
			}
		}
		return NewSigner(e, k.PrivateKey), nil
	}
	return nil, fmt.Errorf("signing key %s: no usable secret signing key (expired, revoked or public only?)", secretKeyFile)
}

// NewSigner returns a signer for entity's decrypted private key key (the
// primary key or a signing subkey of entity).
func NewSigner(entity *openpgp.Entity, key *packet.PrivateKey) *OpenPGPSigner {
	return &OpenPGPSigner{
		entity: entity,
		key:    withFastEd25519(key),
		fpr:    Fingerprint(entity),
		config: &packet.Config{DefaultHash: crypto.SHA256},
		now:    time.Now,
	}
}

// Fingerprint returns entity's primary key fingerprint in upper-case hex,
// the form Policy and Verify use.
func Fingerprint(entity *openpgp.Entity) string {
	return strings.ToUpper(hex.EncodeToString(entity.PrimaryKey.Fingerprint))
}

// Fingerprint is the signing key's primary fingerprint, upper-case hex.
func (s *OpenPGPSigner) Fingerprint() string { return s.fpr }

// SignDetached returns a binary detached OpenPGP signature (type 0x00,
// SHA-256, v4) over data, which GnuPG 2.2 verifies.
func (s *OpenPGPSigner) SignDetached(data []byte) ([]byte, error) {
	pub := &s.key.PublicKey
	sig := &packet.Signature{
		Version:           pub.Version,
		SigType:           packet.SigTypeBinary,
		PubKeyAlgo:        pub.PubKeyAlgo,
		Hash:              crypto.SHA256,
		CreationTime:      s.now(),
		IssuerKeyId:       &pub.KeyId,
		IssuerKeyVersion:  uint8(pub.Version),
		IssuerFingerprint: pub.Fingerprint,
	}
	h, err := sig.PrepareSign(s.config)
	if err != nil {
		return nil, err
	}
	h.Write(data)
	if err := sig.Sign(h, s.key, s.config); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	var buf bytes.Buffer
	buf.Grow(160)
	if err := sig.Serialize(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Sign signs env in fedmsg's gpg format: Crypto = "gpg" and Signature =
// single-line standard base64 of a binary detached signature over the
// canonical JSON of env.Msg.
func Sign(env *Envelope, s Signer) error {
	env.sealed = nil
	bp := bufPool.Get().(*[]byte)
	defer putBuf(bp)
	data, err := canonicalMsg((*bp)[:0], env)
	*bp = data[:0]
	if err != nil {
		return err
	}
	return signData(env, s, data)
}

// SignSealed signs env like Sign and seals it: env keeps the canonical
// JSON of Msg that was signed, and Marshal (the journal's copy, the
// publisher's body) reuses it instead of encoding Msg again. Msg must not
// change afterwards; Sign unseals. The pipeline's hot path: one encoding
// of Msg per event instead of three.
func SignSealed(env *Envelope, s Signer) error {
	a := arenaPool.Get().(*sealArena)
	defer arenaPool.Put(a)
	data, err := a.encode(env)
	if err != nil {
		return err
	}
	if err := signData(env, s, data); err != nil {
		return err
	}
	env.sealed = a.keep(data)
	return nil
}

// sealArena holds the sealed copies SignSealed makes in chunks of
// arenaChunk bytes: the msg is encoded straight into the free end of the
// current chunk and kept there, one allocation per chunk instead of one
// per envelope, and no copy (encoding into a scratch buffer and cloning
// the result cost a tenth of the signing path outside the signature). A
// chunk lives as long as any envelope sealed in it.
type sealArena struct{ chunk []byte } // chunk[len:cap] is free

const (
	arenaChunk = 1 << 20
	arenaMin   = 64 << 10 // a new chunk is started when less is free
)

var arenaPool = sync.Pool{New: func() any { return new(sealArena) }}

// encode appends the canonical msg of env to the free end of the chunk;
// a msg too large for it ends up in a slice of its own.
func (a *sealArena) encode(env *Envelope) ([]byte, error) {
	if cap(a.chunk)-len(a.chunk) < arenaMin {
		a.chunk = make([]byte, 0, arenaChunk)
	}
	n := len(a.chunk)
	return canonicalMsg(a.chunk[n:n:cap(a.chunk)], env)
}

// keep takes data, the last result of encode, out of the free part of
// the chunk, and returns it with its capacity cut to its length.
func (a *sealArena) keep(data []byte) []byte {
	if n := len(a.chunk); len(data) <= cap(a.chunk)-n {
		a.chunk = a.chunk[:n+len(data)] // encoded in place
	}
	return data[:len(data):len(data)]
}

func signData(env *Envelope, s Signer, data []byte) error {
	sig, err := s.SignDetached(data)
	if err != nil {
		return err
	}
	env.Crypto = "gpg"
	env.Signature = base64.StdEncoding.EncodeToString(sig)
	return nil
}

// bufPool holds scratch buffers for the canonical msg.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 8192); return &b }}

// putBuf returns a scratch buffer to the pool unless a huge msg made it
// too big to keep.
func putBuf(bp *[]byte) {
	if cap(*bp) <= 1<<20 {
		bufPool.Put(bp)
	}
}

// SignMarshal signs env like Sign and returns its wire body like
// Envelope.Marshal, encoding env.Msg only once: the publisher's hot path.
func SignMarshal(env *Envelope, s Signer) ([]byte, error) {
	bp := bufPool.Get().(*[]byte)
	defer putBuf(bp)
	data, err := canonicalMsg((*bp)[:0], env)
	*bp = data[:0]
	if err != nil {
		return nil, err
	}
	if err := signData(env, s, data); err != nil {
		return nil, err
	}
	return env.appendBody(make([]byte, 0, len(data)+len(env.Signature)+len(env.Topic)+160), data)
}

// GenerateKey makes a new v4 OpenPGP signing key for name <email>: Ed25519
// (EdDSA, the form GnuPG 2.2 knows) when rsaBits is 0, else RSA with that
// many bits (at least 2048). The key has no encryption subkey and does not
// expire. It returns both halves ASCII-armored and the fingerprint
// (upper-case hex).
func GenerateKey(name, email string, rsaBits int) (armoredSecret, armoredPublic []byte, fingerprint string, err error) {
	cfg, err := KeyConfig(rsaBits)
	if err != nil {
		return nil, nil, "", err
	}
	return generateKey(name, email, cfg)
}

// KeyConfig is the go-crypto configuration GenerateKey uses: v4 keys,
// EdDSA on Ed25519 or RSA, SHA-256, AES-256, no AEAD (GnuPG 2.2 rejects
// v6 keys and the newer algorithms). Callers may set Time and
// KeyLifetimeSecs on it (tests make expired keys that way).
func KeyConfig(rsaBits int) (*packet.Config, error) {
	cfg := &packet.Config{
		DefaultHash:   crypto.SHA256,
		DefaultCipher: packet.CipherAES256,
		V6Keys:        false,
	}
	switch {
	case rsaBits == 0:
		cfg.Algorithm = packet.PubKeyAlgoEdDSA
		cfg.Curve = packet.Curve25519
	case rsaBits >= 2048 && rsaBits <= 16384:
		cfg.Algorithm = packet.PubKeyAlgoRSA
		cfg.RSABits = rsaBits
	default:
		return nil, fmt.Errorf("RSA key size %d: want 2048 to 16384 bits, or 0 for Ed25519", rsaBits)
	}
	return cfg, nil
}

// GenerateKeyWithConfig is GenerateKey with an explicit go-crypto config
// (see KeyConfig).
func GenerateKeyWithConfig(name, email string, cfg *packet.Config) (armoredSecret, armoredPublic []byte, fingerprint string, err error) {
	return generateKey(name, email, cfg)
}

func generateKey(name, email string, cfg *packet.Config) (sec, pub []byte, fpr string, err error) {
	e, err := openpgp.NewEntity(name, "mailgw signing key", email, cfg)
	if err != nil {
		return nil, nil, "", fmt.Errorf("generate key: %w", err)
	}
	e.Subkeys = nil // signing only; halves RSA generation time
	var sb, pb bytes.Buffer
	w, err := armor.Encode(&sb, openpgp.PrivateKeyType, nil)
	if err != nil {
		return nil, nil, "", err
	}
	if err := e.SerializePrivateWithoutSigning(w, cfg); err != nil {
		return nil, nil, "", fmt.Errorf("serialize secret key: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, nil, "", err
	}
	sb.WriteByte('\n')
	w, err = armor.Encode(&pb, openpgp.PublicKeyType, nil)
	if err != nil {
		return nil, nil, "", err
	}
	if err := e.Serialize(w); err != nil {
		return nil, nil, "", fmt.Errorf("serialize public key: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, nil, "", err
	}
	pb.WriteByte('\n')
	return sb.Bytes(), pb.Bytes(), Fingerprint(e), nil
}

// readKeys parses an ASCII-armored or binary key ring.
func readKeys(data []byte) (openpgp.EntityList, error) {
	if bytes.Contains(data, []byte("-----BEGIN PGP")) {
		var all openpgp.EntityList
		// A file may hold several armored blocks (cat a.asc b.asc).
		for rest := data; ; {
			i := bytes.Index(rest, []byte("-----BEGIN PGP"))
			if i < 0 {
				break
			}
			rest = rest[i:]
			end := bytes.Index(rest, []byte("-----END PGP"))
			if end < 0 {
				return nil, errors.New("armored key block without END line")
			}
			nl := bytes.IndexByte(rest[end:], '\n')
			if nl < 0 {
				nl = len(rest) - end
			}
			el, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(rest[:end+nl]))
			if err != nil {
				return nil, err
			}
			all = append(all, el...)
			rest = rest[end+nl:]
		}
		return all, nil
	}
	return openpgp.ReadKeyRing(bytes.NewReader(data))
}
