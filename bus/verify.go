package bus

import (
	"bytes"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// Verification failures. Keyring.Verify wraps exactly one of them, so
// callers can test with errors.Is; the error text is one line that says
// what is wrong (which key, which field, which topic).
var (
	ErrUnsigned        = errors.New("unsigned")
	ErrBadEncoding     = errors.New("malformed signature")
	ErrBadSignature    = errors.New("bad signature")
	ErrUnknownKey      = errors.New("unknown key")
	ErrKeyExpired      = errors.New("key expired")
	ErrKeyRevoked      = errors.New("key revoked")
	ErrFutureSignature = errors.New("signature from the future")
	ErrBindingMismatch = errors.New("envelope binding mismatch")
	ErrPolicy          = errors.New("routing policy violation")
	ErrWeakHash        = errors.New("weak signature hash")
)

// ClockSkew is how far in the future a signature's creation time may be
// (the publisher's clock running ahead) and still verify.
var ClockSkew = 5 * time.Minute

// Keyring holds the public keys that verification trusts. Verify is safe
// for concurrent use; Add is not safe concurrently with Verify.
type Keyring struct {
	entities openpgp.EntityList
	// Now is the clock for expiry checks; nil means time.Now.
	Now func() time.Time
	// AllowSHA1 accepts signatures made with SHA-1 (GnuPG 1.4's default
	// of 2013, so in archives of that time); they are refused otherwise,
	// as chosen-prefix collisions make SHA-1 signatures forgeable. MD5 and
	// RIPEMD-160 signatures are always refused.
	AllowSHA1 bool
}

// LoadKeyring reads public keys (ASCII-armored or binary; a file may
// hold several) from files. No files gives an empty keyring.
func LoadKeyring(files ...string) (*Keyring, error) {
	k := &Keyring{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("keyring: %w", err)
		}
		el, err := readKeys(data)
		if err != nil {
			return nil, fmt.Errorf("keyring %s: %w", f, err)
		}
		if len(el) == 0 {
			return nil, fmt.Errorf("keyring %s: no keys", f)
		}
		k.entities = append(k.entities, el...)
	}
	return k, nil
}

// Add adds keys to the keyring.
func (k *Keyring) Add(keys ...*openpgp.Entity) { k.entities = append(k.entities, keys...) }

// Fingerprints lists the primary fingerprints in the keyring.
func (k *Keyring) Fingerprints() []string {
	out := make([]string, len(k.entities))
	for i, e := range k.entities {
		out[i] = Fingerprint(e)
	}
	return out
}

// Policy is the routing policy of docs/wire.md: which keys may sign which
// topics.
type Policy struct {
	// Prefixes maps a topic prefix to the fingerprints allowed to sign
	// topics under it; the longest prefix that matches a topic applies.
	// A prefix matches a topic equal to it or continuing with a dot (or a
	// prefix that itself ends with a dot). Fingerprints are compared
	// without case or spaces; a 16-digit long key ID matches the key whose
	// fingerprint ends with it.
	Prefixes map[string][]string
	// Nitpicky rejects topics that no prefix covers.
	Nitpicky bool
	// RequireBinding lists the topics whose envelopes must carry the
	// msg.mailgw binding: a topic equal to an entry or continuing it with
	// a dot, where an entry's segment "*" stands for any one segment
	// ("org.debian.*.dak" covers org.debian.prod.dak.package.upload).
	// Other topics may be unbound (see Verify).
	RequireBinding []string
}

// decodeSignature decodes fedmsg's base64 leniently: whitespace anywhere
// (2013-era messages wrap at 76 columns and end with a newline) and
// missing padding are accepted.
func decodeSignature(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\r':
			return -1
		}
		return r
	}, s)
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(s, "="))
	}
	return b, err
}

// Verify checks env's gpg signature over the canonical JSON of env.Msg
// against the keyring, rejecting expired and revoked keys and weak hashes
// (AllowSHA1); then the binding: when msg carries "mailgw", its topic,
// msg_id and timestamp must equal the envelope's, and when it does not
// (a foreign fedmsg envelope, which signs msg only) the topic must not be
// one that p.RequireBinding covers; then the routing policy p (nil: no
// policy, no binding required). It returns the signer's primary
// fingerprint (also with a binding or policy error).
//
// An envelope that verifies without msg.mailgw is unbound (env.Bound()
// is false): its msg is proven, its topic, msg_id and timestamp are not,
// exactly as with fedmsg's own validator.
func (k *Keyring) Verify(env *Envelope, p *Policy) (fingerprint string, err error) {
	if env.Signature == "" {
		return "", fmt.Errorf("%w: no signature", ErrUnsigned)
	}
	if env.Crypto != "" && env.Crypto != "gpg" {
		return "", fmt.Errorf("%w: crypto %q is not supported (want \"gpg\")", ErrBadEncoding, env.Crypto)
	}
	sigBytes, err := decodeSignature(env.Signature)
	if err != nil {
		return "", fmt.Errorf("%w: signature is not base64: %v", ErrBadEncoding, err)
	}
	pkt, err := packet.Read(bytes.NewReader(sigBytes))
	if err != nil {
		return "", fmt.Errorf("%w: not an OpenPGP signature: %v", ErrBadEncoding, err)
	}
	sigPkt, ok := pkt.(*packet.Signature)
	if !ok || sigPkt.IssuerKeyId == nil {
		return "", fmt.Errorf("%w: not an OpenPGP signature packet with an issuer", ErrBadEncoding)
	}
	bp := bufPool.Get().(*[]byte)
	defer putBuf(bp)
	data, err := canonicalMsg((*bp)[:0], env)
	*bp = data[:0]
	if err != nil {
		return "", fmt.Errorf("%w: msg has no canonical form: %v", ErrBadSignature, err)
	}
	now := time.Now
	if k.Now != nil {
		now = k.Now
	}
	cfg := &packet.Config{Time: now}
	sig, signer, err := openpgp.VerifyDetachedSignature(k.entities, bytes.NewReader(data), bytes.NewReader(sigBytes), cfg)
	if ahead := sigPkt.CreationTime.Sub(now()); errors.Is(err, pgperrors.ErrSignatureExpired) && ahead > 0 && ahead <= ClockSkew {
		// go-crypto counts a signature from the future as expired; a
		// publisher whose clock is slightly ahead is not an attack.
		cfg.Time = func() time.Time { return sigPkt.CreationTime }
		sig, signer, err = openpgp.VerifyDetachedSignature(k.entities, bytes.NewReader(data), bytes.NewReader(sigBytes), cfg)
	}
	if signer != nil {
		fingerprint = Fingerprint(signer)
	}
	if ahead := sigPkt.CreationTime.Sub(now()); errors.Is(err, pgperrors.ErrSignatureExpired) && ahead > ClockSkew {
		return fingerprint, fmt.Errorf("%w: made %s after this host's time by %s (clock skew?)", ErrFutureSignature, ahead.Round(time.Second), issuer(sigPkt))
	}
	if err != nil {
		return fingerprint, verifyErr(err, sigPkt, fingerprint)
	}
	// go-crypto's v1 API applies its message hash policy only when
	// reading signed messages, not to detached signatures: checked here.
	if err := k.checkHash(sig, fingerprint); err != nil {
		return fingerprint, err
	}
	if err := checkBinding(env, p); err != nil {
		return fingerprint, err
	}
	if p != nil {
		if err := p.check(env.Topic, fingerprint); err != nil {
			return fingerprint, err
		}
	}
	return fingerprint, nil
}

// checkHash refuses a signature made with a broken hash function.
func (k *Keyring) checkHash(sig *packet.Signature, fpr string) error {
	switch sig.Hash {
	case crypto.SHA1:
		if k.AllowSHA1 {
			return nil
		}
		return fmt.Errorf("%w: key %s signed with SHA-1, which is refused (allow_sha1_signatures = true accepts it, for 2013-era archives)", ErrWeakHash, fpr)
	case crypto.MD5, crypto.RIPEMD160:
		return fmt.Errorf("%w: key %s signed with %v, which is refused", ErrWeakHash, fpr, sig.Hash)
	}
	return nil
}

// verifyErr turns go-crypto's verification errors into one-line errors
// that wrap this package's sentinels.
func verifyErr(err error, sig *packet.Signature, fpr string) error {
	who := issuer(sig)
	if fpr != "" {
		who = "key " + fpr
	}
	var sigErr pgperrors.SignatureError
	switch {
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		return fmt.Errorf("%w: signed by %s, which is not in the keyring", ErrUnknownKey, issuer(sig))
	case errors.Is(err, pgperrors.ErrKeyExpired):
		return fmt.Errorf("%w: signing %s has expired", ErrKeyExpired, who)
	case errors.Is(err, pgperrors.ErrSignatureExpired):
		return fmt.Errorf("%w: signature or key binding of %s has expired", ErrKeyExpired, who)
	case errors.Is(err, pgperrors.ErrKeyRevoked):
		return fmt.Errorf("%w: signing %s is revoked", ErrKeyRevoked, who)
	case errors.As(err, &sigErr):
		return fmt.Errorf("%w by %s: the signature does not match the canonical msg (%v)", ErrBadSignature, who, err)
	}
	return fmt.Errorf("%w by %s: %v", ErrBadSignature, who, err)
}

// issuer names the key that made sig: its fingerprint when the signature
// carries one, else its 64-bit key ID.
func issuer(sig *packet.Signature) string {
	if len(sig.IssuerFingerprint) > 0 {
		return fmt.Sprintf("key %X (key ID %016X)", sig.IssuerFingerprint, *sig.IssuerKeyId)
	}
	return fmt.Sprintf("key with ID %016X", *sig.IssuerKeyId)
}

// Bound reports whether msg carries mailgw's binding, msg.mailgw. Once
// Keyring.Verify has accepted e, true means that topic, msg_id and
// timestamp are signed along with msg; false means e is unbound: only msg
// is signed, as in every fedmsg envelope.
func (e *Envelope) Bound() bool {
	_, ok := e.Msg["mailgw"]
	return ok
}

// checkBinding compares msg.mailgw's signed copy of topic, msg_id and
// timestamp with the envelope's unsigned fields. An envelope without
// msg.mailgw passes unless p requires a binding for its topic.
func checkBinding(env *Envelope, p *Policy) error {
	if !env.Bound() {
		if pattern, ok := p.BindingRequired(env.Topic); ok {
			return fmt.Errorf("%w: msg.mailgw is missing, but topics under %q must be bound (topic, msg_id and timestamp signed)", ErrBindingMismatch, pattern)
		}
		return nil
	}
	mg, ok := env.Msg["mailgw"].(map[string]any)
	if !ok {
		return fmt.Errorf("%w: msg.mailgw is %s, want an object", ErrBindingMismatch, jsonKind(env.Msg["mailgw"]))
	}
	if t, _ := mg["topic"].(string); t != env.Topic {
		return fmt.Errorf("%w: topic %q differs from the signed msg.mailgw.topic %q", ErrBindingMismatch, env.Topic, t)
	}
	if id, _ := mg["msg_id"].(string); id != env.MsgID {
		return fmt.Errorf("%w: msg_id %q differs from the signed msg.mailgw.msg_id %q", ErrBindingMismatch, env.MsgID, id)
	}
	if ts, ok := asInt(mg["timestamp"]); !ok || ts != env.Timestamp {
		return fmt.Errorf("%w: timestamp %d differs from the signed msg.mailgw.timestamp %v", ErrBindingMismatch, env.Timestamp, mg["timestamp"])
	}
	return nil
}

// asInt reads an integer that may come from Go (int kinds) or from
// ParseEnvelope (json.Number).
func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case json.Number:
		i, err := strconv.ParseInt(string(x), 10, 64)
		return i, err == nil
	}
	return 0, false
}

// normFpr upper-cases a fingerprint and drops spaces and a 0x prefix.
func normFpr(s string) string {
	s = strings.ToUpper(strings.ReplaceAll(s, " ", ""))
	return strings.TrimPrefix(s, "0X")
}

// check applies the policy to topic signed by fpr.
func (p *Policy) check(topic, fpr string) error {
	best, found := "", false
	for prefix := range p.Prefixes {
		if !prefixMatches(prefix, topic) {
			continue
		}
		if !found || len(prefix) > len(best) {
			best, found = prefix, true
		}
	}
	if !found {
		if p.Nitpicky {
			return fmt.Errorf("%w: topic %q is not covered by the routing policy (nitpicky), signed by %s", ErrPolicy, topic, fpr)
		}
		return nil
	}
	want := normFpr(fpr)
	for _, allowed := range p.Prefixes[best] {
		a := normFpr(allowed)
		if a == want || (len(a) >= 16 && strings.HasSuffix(want, a)) {
			return nil
		}
	}
	return fmt.Errorf("%w: key %s may not sign topic %q (prefix %q)", ErrPolicy, fpr, topic, best)
}

// BindingRequired reports whether p requires the msg.mailgw binding on
// topic, and the RequireBinding entry that covers it. A nil Policy
// requires none.
func (p *Policy) BindingRequired(topic string) (string, bool) {
	if p == nil {
		return "", false
	}
	for _, pattern := range p.RequireBinding {
		if patternMatches(pattern, topic) {
			return pattern, true
		}
	}
	return "", false
}

// patternMatches is prefixMatches segment by segment, where a pattern
// segment "*" matches any one topic segment.
func patternMatches(pattern, topic string) bool {
	pattern = strings.TrimSuffix(pattern, ".")
	if pattern == "" {
		return true
	}
	ps := strings.Split(pattern, ".")
	ts := strings.SplitN(topic, ".", len(ps)+1)
	if len(ts) < len(ps) {
		return false
	}
	for i, seg := range ps {
		if seg != "*" && seg != ts[i] {
			return false
		}
	}
	return true
}

func prefixMatches(prefix, topic string) bool {
	if prefix == "" || topic == prefix {
		return true
	}
	if !strings.HasPrefix(topic, prefix) {
		return false
	}
	return strings.HasSuffix(prefix, ".") || topic[len(prefix)] == '.'
}
