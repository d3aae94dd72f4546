// Package dkimkey formats DKIM key records (RFC 6376 section 3.6.1), for
// the tests and the benchmarks that publish their own keys in DNS.
package dkimkey

import (
	"crypto"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"fmt"
)

// Record returns the DKIM key record (RFC 6376 section 3.6.1) that
// publishes pub in DNS: "v=DKIM1; k=rsa; p=…" for an RSA key,
// k=ed25519 (RFC 8463) for an Ed25519 one. Tests and the benchmarks'
// DNS server publish their keys with it.
func Record(pub crypto.PublicKey) (string, error) {
	if k, ok := pub.(ed25519.PublicKey); ok {
		return "v=DKIM1; k=ed25519; p=" + base64.StdEncoding.EncodeToString(k), nil
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("dkim key record: %w", err)
	}
	return "v=DKIM1; k=rsa; p=" + base64.StdEncoding.EncodeToString(der), nil
}
