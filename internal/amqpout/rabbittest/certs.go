package rabbittest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// ClientUser is the common name of the client certificate in Certs, and
// a user of every broker (no password: it logs in with EXTERNAL).
const ClientUser = "mailgw-x509"

// Certs are the PEM files of a broker's TLS setup.
type Certs struct {
	// CA signed the broker's certificate and the client certificate.
	CA string
	// ServerCert and ServerKey are the broker's (for localhost and
	// 127.0.0.1).
	ServerCert, ServerKey string
	// ClientCert and ClientKey name ClientUser.
	ClientCert, ClientKey string
	// OtherCA signed nothing the broker uses: a wrong ca_cert.
	OtherCA string
}

// newCerts makes a CA, the broker's and a client certificate, and an
// unrelated CA, in dir.
func newCerts(dir string) (*Certs, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, err
	}
	c := &Certs{
		CA: filepath.Join(dir, "ca.pem"), OtherCA: filepath.Join(dir, "other-ca.pem"),
		ServerCert: filepath.Join(dir, "server.pem"), ServerKey: filepath.Join(dir, "server.key"),
		ClientCert: filepath.Join(dir, "client.pem"), ClientKey: filepath.Join(dir, "client.key"),
	}
	ca, caKey, err := issue(&x509.Certificate{Subject: pkix.Name{CommonName: "mailgw test CA"}, IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}, nil, nil)
	if err != nil {
		return nil, err
	}
	other, _, err := issue(&x509.Certificate{Subject: pkix.Name{CommonName: "mailgw other CA"}, IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}, nil, nil)
	if err != nil {
		return nil, err
	}
	srv, srvKey, err := issue(&x509.Certificate{Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, ca, caKey)
	if err != nil {
		return nil, err
	}
	cli, cliKey, err := issue(&x509.Certificate{Subject: pkix.Name{CommonName: ClientUser},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, ca, caKey)
	if err != nil {
		return nil, err
	}
	for _, f := range []struct {
		path string
		typ  string
		der  []byte
	}{
		{c.CA, "CERTIFICATE", ca.Raw}, {c.OtherCA, "CERTIFICATE", other.Raw},
		{c.ServerCert, "CERTIFICATE", srv.Raw}, {c.ServerKey, "PRIVATE KEY", pkcs8(srvKey)},
		{c.ClientCert, "CERTIFICATE", cli.Raw}, {c.ClientKey, "PRIVATE KEY", pkcs8(cliKey)},
	} {
		data := pem.EncodeToMemory(&pem.Block{Type: f.typ, Bytes: f.der})
		if err := os.WriteFile(f.path, data, 0o640); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// issue makes tmpl a certificate signed by parent (itself when nil) and
// returns it with its key.
func issue(tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, nil, err
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

// pkcs8 encodes key (an ECDSA key always encodes).
func pkcs8(key *ecdsa.PrivateKey) []byte {
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	return der
}
