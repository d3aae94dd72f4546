package dak

import (
	"bytes"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
)

// Keyring is the public keys of keyring files, read lazily: loading only
// walks the packet headers and hashes the key packets, indexing each key
// ID (primary and subkeys) to the bytes of its certificate; a certificate
// is parsed the first time a signature names one of its keys, and kept.
//
// Why: go-crypto parses a whole keyring eagerly, every certification
// included. Debian's debian-keyring.gpg (2022.12.24: 28 MB, 901 keys) took
// 18.8 s to load that way on the loaded 2-core test machine, at every
// serve start and reload; indexed, it loads in well under a second
// (TestDebianKeyring logs both figures), and an upload mail parses the one
// certificate it needs.
//
// Keyring implements openpgp.KeyRing.
type Keyring struct {
	certs  [][]byte         // one certificate's packets each
	byID   map[uint64][]int // key ID → indexes into certs
	mu     sync.Mutex       // guards parsed
	parsed map[int]openpgp.EntityList
}

// LoadKeyrings reads OpenPGP public keyrings, binary (debian-keyring's
// .gpg files) or ASCII-armored, into one Keyring.
func LoadKeyrings(files ...string) (*Keyring, error) {
	k := &Keyring{byID: map[uint64][]int{}, parsed: map[int]openpgp.EntityList{}}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("upload keyring: %w", err)
		}
		if bytes.Contains(data[:min(len(data), 1024)], []byte("-----BEGIN PGP")) {
			blk, err := armor.Decode(bytes.NewReader(data))
			if err == nil {
				data, err = io.ReadAll(blk.Body)
			}
			if err != nil {
				return nil, fmt.Errorf("upload keyring %s: %w", f, err)
			}
		}
		if err := k.index(data); err != nil {
			return nil, fmt.Errorf("upload keyring %s: %w", f, err)
		}
	}
	return k, nil
}

// Len is the number of certificates (primary keys).
func (k *Keyring) Len() int { return len(k.certs) }

// OpenPGP packet tags the index looks at (RFC 9580 section 5).
const (
	tagSecretKey    = 5
	tagPublicKey    = 6
	tagSecretSubkey = 7
	tagPublicSubkey = 14
)

var errNoKeys = errors.New("no public key found")

// index walks the packets of a binary keyring: each primary key packet
// starts a certificate, which runs to the next one.
func (k *Keyring) index(b []byte) error {
	start, cert := -1, -1
	for off := 0; off < len(b); {
		tag, hdr, n, err := packetHeader(b[off:])
		if err != nil {
			return fmt.Errorf("offset %d: %w", off, err)
		}
		body := b[off+hdr : off+hdr+n]
		switch tag {
		case tagPublicKey, tagSecretKey:
			if start >= 0 {
				k.certs[cert] = b[start:off]
			}
			start, cert = off, len(k.certs)
			k.certs = append(k.certs, nil)
			fallthrough
		case tagPublicSubkey, tagSecretSubkey:
			if cert < 0 {
				return errors.New("subkey before any primary key")
			}
			if id, ok := keyID(body); ok {
				k.byID[id] = append(k.byID[id], cert)
			} else {
				// A version whose key ID is not computed here: found by
				// parsing the certificate, below.
				k.byID[0] = append(k.byID[0], cert)
			}
		}
		off += hdr + n
	}
	if cert < 0 {
		return errNoKeys
	}
	k.certs[cert] = b[start:]
	// Certificates with keys of other versions are parsed now.
	for _, c := range k.byID[0] {
		for _, e := range k.entities(c) {
			for _, key := range append([]openpgp.Key{{PublicKey: e.PrimaryKey}}, subkeys(e)...) {
				k.byID[key.PublicKey.KeyId] = append(k.byID[key.PublicKey.KeyId], c)
			}
		}
	}
	delete(k.byID, 0)
	return nil
}

func subkeys(e *openpgp.Entity) []openpgp.Key {
	out := make([]openpgp.Key, 0, len(e.Subkeys))
	for _, s := range e.Subkeys {
		out = append(out, openpgp.Key{PublicKey: s.PublicKey})
	}
	return out
}

// packetHeader reads an OpenPGP packet header (old or new format) and
// returns the tag, the header's length and the body's length. Partial
// body lengths, which no key packet uses, are an error.
func packetHeader(b []byte) (tag, hdr, n int, err error) {
	if len(b) == 0 || b[0]&0x80 == 0 {
		return 0, 0, 0, errors.New("not an OpenPGP packet")
	}
	if b[0]&0x40 == 0 { // old format
		tag = int(b[0]>>2) & 0xf
		switch b[0] & 3 {
		case 0:
			hdr = 2
		case 1:
			hdr = 3
		case 2:
			hdr = 5
		default:
			hdr, n = 1, len(b)-1 // indeterminate: to the end
			return tag, hdr, n, nil
		}
		if len(b) < hdr {
			return 0, 0, 0, io.ErrUnexpectedEOF
		}
		for _, c := range b[1:hdr] {
			n = n<<8 | int(c)
		}
	} else {
		tag = int(b[0] & 0x3f)
		if len(b) < 2 {
			return 0, 0, 0, io.ErrUnexpectedEOF
		}
		switch c := int(b[1]); {
		case c < 192:
			hdr, n = 2, c
		case c < 224:
			if len(b) < 3 {
				return 0, 0, 0, io.ErrUnexpectedEOF
			}
			hdr, n = 3, (c-192)<<8+int(b[2])+192
		case c == 255:
			if len(b) < 6 {
				return 0, 0, 0, io.ErrUnexpectedEOF
			}
			hdr, n = 6, int(binary.BigEndian.Uint32(b[2:6]))
		default:
			return 0, 0, 0, errors.New("partial body length in a keyring")
		}
	}
	if n < 0 || n > len(b)-hdr {
		return 0, 0, 0, io.ErrUnexpectedEOF
	}
	return tag, hdr, n, nil
}

// keyID computes the key ID of a v4, v5 or v6 key packet body (RFC 9580
// section 5.5.4): the low 64 bits of the SHA-1 fingerprint for v4, the
// high 64 bits of the SHA-256 one for v5 and v6.
func keyID(body []byte) (uint64, bool) {
	if len(body) == 0 {
		return 0, false
	}
	switch body[0] {
	case 4:
		h := sha1.New()
		h.Write([]byte{0x99, byte(len(body) >> 8), byte(len(body))})
		h.Write(body)
		return binary.BigEndian.Uint64(h.Sum(nil)[12:20]), true
	case 5, 6:
		h := sha256.New()
		prefix := byte(0x9a)
		if body[0] == 6 {
			prefix = 0x9b
		}
		h.Write([]byte{prefix, byte(len(body) >> 24), byte(len(body) >> 16), byte(len(body) >> 8), byte(len(body))})
		h.Write(body)
		return binary.BigEndian.Uint64(h.Sum(nil)[:8]), true
	}
	return 0, false
}

// entities parses certificate c once; one that does not parse has no
// keys (as go-crypto's ReadKeyRing skips it).
func (k *Keyring) entities(c int) openpgp.EntityList {
	k.mu.Lock()
	defer k.mu.Unlock()
	if el, ok := k.parsed[c]; ok {
		return el
	}
	el, _ := openpgp.ReadKeyRing(bytes.NewReader(k.certs[c]))
	k.parsed[c] = el
	return el
}

// list is the parsed certificates that hold key id.
func (k *Keyring) list(id uint64) openpgp.EntityList {
	var out openpgp.EntityList
	for _, c := range k.byID[id] {
		out = append(out, k.entities(c)...)
	}
	return out
}

// KeysById implements openpgp.KeyRing.
func (k *Keyring) KeysById(id uint64) []openpgp.Key { return k.list(id).KeysById(id) }

// KeysByIdUsage implements openpgp.KeyRing.
func (k *Keyring) KeysByIdUsage(id uint64, usage byte) []openpgp.Key {
	return k.list(id).KeysByIdUsage(id, usage)
}

// DecryptionKeys implements openpgp.KeyRing: public keys decrypt nothing.
func (k *Keyring) DecryptionKeys() []openpgp.Key { return nil }
