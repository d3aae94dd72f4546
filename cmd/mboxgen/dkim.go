package main

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/debian/mailgw/internal/auth/dkimkey"
	"github.com/emersion/go-msgauth/dkim"
)

// DKIM signing for benchmarks of mailgw's DKIM checks: with -dkim-key,
// every generated mail that carried DKIM signatures (Debian's dak and
// debbugs mail since about 2019) is signed afresh, after its Message-ID
// and Date are changed, with the key in that file and under the domain
// and selector of its first original signature; the old signatures go.
// The key's DNS record is written to FILE.record, which bench/dkimdns
// serves for every selector.

// loadOrMakeKey reads a PEM (PKCS #8) private key from path, or makes an
// RSA-2048 one there (Debian's DKIM keys are RSA-2048) when the file does
// not exist; either way it writes the key's record to path.record.
func loadOrMakeKey(path string) (crypto.Signer, error) {
	key, err := readOrMakeKey(path)
	if err != nil {
		return nil, err
	}
	rec, err := dkimkey.Record(key.Public())
	if err != nil {
		return nil, err
	}
	return key, os.WriteFile(path+".record", []byte(rec+"\n"), 0o644)
}

func readOrMakeKey(path string) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, err
		}
		return k, os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
	}
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s: no PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: not a signing key", path)
	}
	return s, nil
}

// resigner returns the edit function of archive.GenerateWith that signs
// mails that were signed.
func resigner(key crypto.Signer) func([]byte) ([]byte, error) {
	return func(mail []byte) ([]byte, error) {
		if bytes.HasPrefix(mail, []byte("From ")) { // an mbox From line
			if i := bytes.IndexByte(mail, '\n'); i >= 0 {
				mail = mail[i+1:]
			}
		}
		hdr, body, ok := bytes.Cut(mail, []byte("\n\n"))
		if !ok {
			return mail, nil
		}
		var kept [][]byte
		domain, selector := "", ""
		skip := false
		for _, line := range bytes.SplitAfter(append(hdr, '\n'), []byte("\n")) {
			if len(line) == 0 {
				continue
			}
			if line[0] == ' ' || line[0] == '\t' {
				if skip {
					continue
				}
			} else {
				k, v, _ := bytes.Cut(line, []byte(":"))
				skip = strings.EqualFold(string(bytes.TrimSpace(k)), "DKIM-Signature")
				if skip && domain == "" {
					domain, selector = tag(fieldValue(v, hdr, line), "d"), tag(fieldValue(v, hdr, line), "s")
				}
				if skip {
					continue
				}
			}
			kept = append(kept, line)
		}
		if domain == "" || selector == "" {
			return mail, nil
		}
		unsigned := append(append(bytes.Join(kept, nil), '\n'), body...)
		var out bytes.Buffer
		err := dkim.Sign(&out, bytes.NewReader(unsigned), &dkim.SignOptions{
			Domain: domain, Selector: selector, Signer: key,
			HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
			HeaderKeys: []string{"From", "To", "Cc", "Subject", "Date", "Message-ID", "In-Reply-To", "References", "MIME-Version", "Content-Type", "Content-Transfer-Encoding"},
		})
		return out.Bytes(), err
	}
}

// fieldValue is the unfolded value of the header field that starts with
// line (v is what follows its colon), read from hdr.
func fieldValue(v, hdr, line []byte) string {
	i := bytes.Index(hdr, line)
	if i < 0 {
		return string(v)
	}
	val := []byte(nil)
	for _, l := range bytes.SplitAfter(hdr[i:], []byte("\n"))[1:] {
		if len(l) == 0 || (l[0] != ' ' && l[0] != '\t') {
			break
		}
		val = append(val, l...)
	}
	return string(v) + string(val)
}

// tag returns the value of tag name in a DKIM-Signature value.
func tag(v, name string) string {
	for _, t := range strings.Split(v, ";") {
		k, val, ok := strings.Cut(t, "=")
		if ok && strings.TrimSpace(k) == name {
			return strings.Join(strings.Fields(val), "")
		}
	}
	return ""
}
