package auth

import (
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"
)

// pubKey is a DKIM key record (RFC 6376 section 3.6.1) parsed.
type pubKey struct {
	algo string // k=: "rsa" or "ed25519"
	rsa  *rsa.PublicKey
	ed   ed25519.PublicKey
	// hashes are the hash algorithms of h=; nil allows any.
	hashes []string
	// email is set when s= allows email ("email" or "*", or no s=).
	email bool
	// strict is the flag t=s: i= must not name a subdomain of d=.
	strict bool
}

func (k *pubKey) hashOK(h string) bool {
	if k.hashes == nil {
		return true
	}
	for _, x := range k.hashes {
		if x == h {
			return true
		}
	}
	return false
}

// minRSABits is the smallest RSA key whose signatures count (RFC 8301
// section 3.2).
const minRSABits = 1024

// parseKeyRecords parses the answer to a key lookup: exactly one record
// (RFC 6376 section 3.6.2.2 leaves several undefined; they are refused).
func parseKeyRecords(txts []string) (*pubKey, *keyError) {
	switch len(txts) {
	case 0:
		return nil, &keyError{msg: "no key for signature: no record"}
	case 1:
		return parseKeyRecord(txts[0])
	}
	return nil, &keyError{msg: "multiple TXT records found for key"}
}

func parseKeyRecord(rec string) (*pubKey, *keyError) {
	perm := func(format string, args ...any) (*pubKey, *keyError) {
		return nil, &keyError{msg: fmt.Sprintf(format, args...)}
	}
	tags := map[string]string{}
	for seg := range strings.SplitSeq(rec, ";") {
		k, v, ok := strings.Cut(seg, "=")
		if !ok {
			if strings.TrimSpace(seg) != "" {
				return perm("key record error: a tag without \"=\"")
			}
			continue
		}
		k = strings.TrimSpace(k)
		if _, dup := tags[k]; dup {
			return perm("key record error: tag %q twice", k)
		}
		tags[k] = strings.TrimSpace(v)
	}
	if v, ok := tags["v"]; ok && v != "DKIM1" {
		return perm("incompatible public key version")
	}
	p, ok := tags["p"]
	if !ok {
		return perm("key syntax error: missing public key data")
	}
	p = stripSpace(p)
	if p == "" {
		return perm("key revoked")
	}
	der, err := base64.StdEncoding.DecodeString(p)
	if err != nil {
		return perm("key syntax error: %v", err)
	}
	k := &pubKey{email: true}
	switch tags["k"] {
	case "rsa", "":
		pub, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			// RFC 6376 names SubjectPublicKeyInfo and RSAPublicKey
			// both (erratum 3017): both are read.
			if pub, err = x509.ParsePKCS1PublicKey(der); err != nil {
				return perm("key syntax error: %v", err)
			}
		}
		r, ok := pub.(*rsa.PublicKey)
		if !ok {
			return perm("key syntax error: not an RSA public key")
		}
		if r.N.BitLen() < minRSABits {
			return perm("key is too short: %d bits, want at least %d", r.N.BitLen(), minRSABits)
		}
		k.algo, k.rsa = "rsa", r
	case "ed25519":
		if len(der) != ed25519.PublicKeySize {
			return perm("invalid Ed25519 public key size: %d bytes", len(der))
		}
		k.algo, k.ed = "ed25519", ed25519.PublicKey(der)
	default:
		return perm("unsupported key algorithm")
	}
	if h, ok := tags["h"]; ok {
		k.hashes = []string{}
		for x := range strings.SplitSeq(h, ":") {
			k.hashes = append(k.hashes, stripSpace(x))
		}
	}
	if s, ok := tags["s"]; ok {
		k.email = false
		for x := range strings.SplitSeq(s, ":") {
			x = stripSpace(x)
			k.email = k.email || x == "email" || x == "*"
		}
	}
	for x := range strings.SplitSeq(tags["t"], ":") {
		k.strict = k.strict || stripSpace(x) == "s"
	}
	return k, nil
}
