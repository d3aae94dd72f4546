package dak

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// sigInfo is what an OpenPGP signature packet says about its issuer,
// read without any keyring.
type sigInfo struct {
	version     int
	keyID       string // 16 upper-case hex digits, "" if unknown
	fingerprint string // upper-case hex, "" if the packet has none
	created     time.Time
}

// readSigInfo decodes an armored signature and reads the issuer of its
// first packet. It understands v3 signatures (which go-crypto does not
// parse) and v4/v5/v6 subpackets 2 (creation time), 16 (issuer key ID) and
// 33 (issuer fingerprint).
func readSigInfo(armored string) (sigInfo, error) {
	var si sigInfo
	blk, err := armor.Decode(strings.NewReader(armored))
	if err != nil {
		return si, err
	}
	raw, err := io.ReadAll(io.LimitReader(blk.Body, 64<<10))
	if err != nil {
		return si, err
	}
	body, err := packetBody(raw)
	if err != nil {
		return si, err
	}
	if len(body) < 1 {
		return si, errors.New("empty signature packet")
	}
	si.version = int(body[0])
	switch {
	case si.version == 3 || si.version == 2:
		// version, hashed length (5), type, time (4), key ID (8)
		if len(body) < 15 {
			return si, errors.New("short v3 signature")
		}
		si.created = time.Unix(int64(binary.BigEndian.Uint32(body[3:7])), 0).UTC()
		si.keyID = strings.ToUpper(hex.EncodeToString(body[7:15]))
	case si.version >= 4:
		// version, type, pubkey algo, hash algo, hashed subpackets, unhashed
		p := 4
		for area := 0; area < 2; area++ {
			var n int
			if si.version >= 6 {
				if len(body) < p+4 {
					return si, errors.New("short signature")
				}
				n = int(binary.BigEndian.Uint32(body[p:]))
				p += 4
			} else {
				if len(body) < p+2 {
					return si, errors.New("short signature")
				}
				n = int(binary.BigEndian.Uint16(body[p:]))
				p += 2
			}
			if n < 0 || len(body) < p+n {
				return si, errors.New("short signature subpackets")
			}
			si.subpackets(body[p : p+n])
			p += n
		}
	default:
		return si, fmt.Errorf("signature version %d", si.version)
	}
	return si, nil
}

// subpackets reads the issuer subpackets of one subpacket area.
func (si *sigInfo) subpackets(b []byte) {
	for len(b) > 0 {
		var l int
		switch c := int(b[0]); {
		case c < 192:
			l, b = c, b[1:]
		case c < 255:
			if len(b) < 2 {
				return
			}
			l, b = (c-192)<<8+int(b[1])+192, b[2:]
		default:
			if len(b) < 5 {
				return
			}
			l, b = int(binary.BigEndian.Uint32(b[1:5])), b[5:]
		}
		if l < 1 || l > len(b) {
			return
		}
		typ, data := b[0]&0x7f, b[1:l]
		b = b[l:]
		switch typ {
		case 2:
			if len(data) == 4 {
				si.created = time.Unix(int64(binary.BigEndian.Uint32(data)), 0).UTC()
			}
		case 16:
			if len(data) == 8 && si.keyID == "" {
				si.keyID = strings.ToUpper(hex.EncodeToString(data))
			}
		case 33:
			if len(data) >= 21 {
				si.fingerprint = strings.ToUpper(hex.EncodeToString(data[1:]))
				if len(data) == 21 { // v4: key ID is the fingerprint's tail
					si.keyID = si.fingerprint[24:]
				}
			}
		}
	}
}

// packetBody returns the body of the first OpenPGP packet in b (old or
// new packet format; partial lengths are not used by signatures).
func packetBody(b []byte) ([]byte, error) {
	if len(b) < 2 || b[0]&0x80 == 0 {
		return nil, errors.New("not an OpenPGP packet")
	}
	var l int
	if b[0]&0x40 == 0 { // old format
		switch b[0] & 3 {
		case 0:
			l, b = int(b[1]), b[2:]
		case 1:
			if len(b) < 3 {
				return nil, errors.New("short packet")
			}
			l, b = int(binary.BigEndian.Uint16(b[1:])), b[3:]
		case 2:
			if len(b) < 5 {
				return nil, errors.New("short packet")
			}
			l, b = int(binary.BigEndian.Uint32(b[1:])), b[5:]
		default:
			l, b = len(b)-1, b[1:]
		}
	} else {
		switch c := int(b[1]); {
		case c < 192:
			l, b = c, b[2:]
		case c < 224:
			if len(b) < 3 {
				return nil, errors.New("short packet")
			}
			l, b = (c-192)<<8+int(b[2])+192, b[3:]
		case c == 255:
			if len(b) < 6 {
				return nil, errors.New("short packet")
			}
			l, b = int(binary.BigEndian.Uint32(b[2:])), b[6:]
		default:
			return nil, errors.New("partial packet length")
		}
	}
	if l < 0 || l > len(b) {
		return nil, errors.New("truncated packet")
	}
	return b[:l], nil
}

// signature builds the payload's signature object for a located .changes.
// raw is the clearsigned text as received (before charset decoding) and
// is read only when a keyring is configured.
func (p *Parser) signature(loc located, raw func() []byte) map[string]any {
	out := map[string]any{"present": loc.signed, "fingerprint": nil, "key_id": nil, "valid": nil, "keyring": nil}
	if !loc.signed {
		if p.opts.Keyring != nil {
			out["valid"] = false
			out["error"] = "not signed"
		}
		return out
	}
	si, err := readSigInfo(loc.armor)
	if err == nil {
		if si.fingerprint != "" {
			out["fingerprint"] = si.fingerprint
		}
		if si.keyID != "" {
			out["key_id"] = si.keyID
		}
	}
	if p.opts.Keyring == nil {
		return out
	}
	out["valid"] = false
	if err != nil {
		out["error"] = "unreadable signature: " + err.Error()
		return out
	}
	if si.version < 4 {
		out["error"] = fmt.Sprintf("v%d signature, not supported", si.version)
		return out
	}
	blk, _ := clearsign.Decode(raw())
	if blk == nil {
		out["error"] = "malformed clearsigned block"
		return out
	}
	// Check validity now, and if the key (or a signature on it) has
	// expired, at signing time: a replayed archive still verifies with
	// today's keyring, and so does a key whose binding was renewed after
	// the upload. Revoked keys and bad signatures fail either way.
	signer, err := blk.VerifySignature(p.opts.Keyring, nil)
	if (errors.Is(err, pgperrors.ErrKeyExpired) || errors.Is(err, pgperrors.ErrSignatureExpired)) && !si.created.IsZero() {
		// The first check consumed the armored signature: decode again.
		if blk, _ = clearsign.Decode(raw()); blk != nil {
			cfg := &packet.Config{Time: func() time.Time { return si.created }}
			signer, err = blk.VerifySignature(p.opts.Keyring, cfg)
		}
	}
	expired := errors.Is(err, pgperrors.ErrKeyExpired) || errors.Is(err, pgperrors.ErrSignatureExpired)
	if expired && signer != nil {
		// The signature itself is good (go-crypto checks expiry only
		// after the cryptographic check); the keyring says the key had
		// expired, which an outdated keyring copy often claims.
		out["warning"] = "key expired according to the keyring: " + err.Error()
		err = nil
	}
	switch {
	case err == nil && signer != nil:
		out["valid"] = true
		out["keyring"] = p.keyringName()
		out["primary_fingerprint"] = strings.ToUpper(hex.EncodeToString(signer.PrimaryKey.Fingerprint))
		if out["fingerprint"] == nil {
			out["fingerprint"] = out["primary_fingerprint"]
		}
		if id := signer.PrimaryIdentity(); id != nil {
			out["signer"] = id.Name
		}
	case errors.Is(err, pgperrors.ErrUnknownIssuer):
		out["error"] = "key not in keyring"
	default:
		out["error"] = err.Error()
	}
	return out
}

func (p *Parser) keyringName() string {
	if p.opts.KeyringName != "" {
		return p.opts.KeyringName
	}
	return "configured"
}
