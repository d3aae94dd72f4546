// Package authtest helps test DKIM checking: a DNS server on loopback that
// serves DKIM key records made in the test (and can be stopped, started
// again and made to answer junk), keys, and signing with go-msgauth's
// signer. It is for tests only.
package authtest

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/debian/mailgw/internal/auth/dkimkey"
	"github.com/emersion/go-msgauth/dkim"
	"github.com/miekg/dns"
)

// Key is a DKIM signing key and its DNS key record ("v=DKIM1; k=…; p=…").
type Key struct {
	Signer crypto.Signer
	Record string
}

var (
	rsaOnce sync.Once
	rsaKey  *Key
)

// RSAKey returns a 2048-bit RSA key, made once per test binary (Debian's
// DKIM keys are RSA-2048).
func RSAKey(t testing.TB) *Key {
	rsaOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		rec, err := dkimkey.Record(k.Public())
		if err != nil {
			panic(err)
		}
		rsaKey = &Key{Signer: k, Record: rec}
	})
	return rsaKey
}

// Ed25519Key returns a new Ed25519 key.
func Ed25519Key(t testing.TB) *Key {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := dkimkey.Record(pub)
	if err != nil {
		t.Fatal(err)
	}
	return &Key{Signer: priv, Record: rec}
}

// Sign returns raw with a DKIM-Signature of domain and selector prepended,
// made by go-msgauth's signer with relaxed/relaxed canonicalization over
// every header field of raw.
func Sign(t testing.TB, raw []byte, domain, selector string, k *Key) []byte {
	t.Helper()
	var out bytes.Buffer
	err := dkim.Sign(&out, bytes.NewReader(raw), &dkim.SignOptions{
		Domain: domain, Selector: selector, Signer: k.Signer,
		HeaderCanonicalization: dkim.CanonicalizationRelaxed, BodyCanonicalization: dkim.CanonicalizationRelaxed,
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// Resign returns raw (a real mail) signed afresh: a leading mbox "From "
// line and every DKIM-Signature field it had are removed, then it is
// signed as Sign does.
func Resign(t testing.TB, raw []byte, domain, selector string, k *Key) []byte {
	t.Helper()
	if bytes.HasPrefix(raw, []byte("From ")) {
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			raw = raw[i+1:]
		}
	}
	return Sign(t, StripField(raw, "DKIM-Signature"), domain, selector, k)
}

// StripField removes every header field called name (with its
// continuation lines) from raw.
func StripField(raw []byte, name string) []byte {
	var out []byte
	skip := false
	for rest := raw; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n') + 1
		if i == 0 {
			i = len(rest)
		}
		line := rest[:i]
		rest = rest[i:]
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			out = append(out, line...)
			out = append(out, rest...)
			break
		}
		if line[0] != ' ' && line[0] != '\t' {
			k, _, _ := bytes.Cut(line, []byte(":"))
			skip = bytes.EqualFold(bytes.TrimSpace(k), []byte(name))
		}
		if !skip {
			out = append(out, line...)
		}
	}
	return out
}

// KeyName is the DNS name of a DKIM key record.
func KeyName(domain, selector string) string {
	return selector + "._domainkey." + domain
}

// Mode says how the DNS server answers.
type Mode int32

// DNS server modes.
const (
	// Normal answers from the records; NXDOMAIN for other names.
	Normal Mode = iota
	// ServFail answers SERVFAIL to everything.
	ServFail
	// Silent never answers.
	Silent
	// Garbage answers bytes that are not a DNS message.
	Garbage
	// WrongQuestion answers a question that was not asked.
	WrongQuestion
	// WrongType answers with A records instead of TXT.
	WrongType
)

// DNS is a DNS server on a loopback port, UDP and TCP, serving TXT
// records. Queries counts the queries it received.
type DNS struct {
	Addr    string
	Queries atomic.Int64
	mode    atomic.Int32

	mu      sync.Mutex
	records map[string][]string // lower-case fqdn → one TXT record's strings
	servers []*dns.Server
}

// StartDNS starts a DNS server; it stops when the test ends.
func StartDNS(t testing.TB) *DNS {
	t.Helper()
	d := &DNS{records: map[string][]string{}}
	// A free UDP port whose TCP twin is free too (another process may
	// hold it): a few tries.
	for try := 0; ; try++ {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err != nil {
			pc.Close()
			if try < 20 {
				continue
			}
			t.Fatal(err)
		}
		d.Addr = pc.LocalAddr().String()
		d.serve(pc, ln)
		break
	}
	t.Cleanup(d.Stop)
	return d
}

// Set publishes txt as the one TXT record of name, split into strings of
// at most 255 bytes (as DNS needs).
func (d *DNS) Set(name, txt string) {
	var parts []string
	for len(txt) > 255 {
		parts = append(parts, txt[:255])
		txt = txt[255:]
	}
	parts = append(parts, txt)
	d.mu.Lock()
	d.records[dns.Fqdn(strings.ToLower(name))] = parts
	d.mu.Unlock()
}

// SetKey publishes k's record for domain and selector.
func (d *DNS) SetKey(domain, selector string, k *Key) { d.Set(KeyName(domain, selector), k.Record) }

// SetMode changes how the server answers.
func (d *DNS) SetMode(m Mode) { d.mode.Store(int32(m)) }

// Stop shuts the server down; queries then fail (connection refused).
func (d *DNS) Stop() {
	d.mu.Lock()
	servers := d.servers
	d.servers = nil
	d.mu.Unlock()
	for _, s := range servers {
		s.Shutdown()
	}
}

// Start serves again on the same address after Stop.
func (d *DNS) Start(t testing.TB) {
	t.Helper()
	pc, err := net.ListenPacket("udp", d.Addr)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", d.Addr)
	if err != nil {
		pc.Close()
		t.Fatal(err)
	}
	d.serve(pc, ln)
}

func (d *DNS) serve(pc net.PacketConn, ln net.Listener) {
	h := dns.HandlerFunc(d.answer)
	for _, s := range []*dns.Server{{PacketConn: pc, Handler: h}, {Listener: ln, Handler: h}} {
		started := make(chan struct{})
		s.NotifyStartedFunc = func() { close(started) }
		go s.ActivateAndServe()
		<-started
		d.mu.Lock()
		d.servers = append(d.servers, s)
		d.mu.Unlock()
	}
}

func (d *DNS) answer(w dns.ResponseWriter, req *dns.Msg) {
	d.Queries.Add(1)
	m := new(dns.Msg)
	m.SetReply(req)
	if len(req.Question) != 1 {
		m.Rcode = dns.RcodeFormatError
		w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	switch Mode(d.mode.Load()) {
	case ServFail:
		m.Rcode = dns.RcodeServerFailure
	case Silent:
		return
	case Garbage:
		w.Write([]byte("\x00\x01 this is not a DNS message"))
		return
	case WrongQuestion:
		m.Question[0].Name = "other.example."
	case WrongType:
		rr, _ := dns.NewRR(q.Name + " 60 IN A 192.0.2.1")
		m.Answer = append(m.Answer, rr)
	default:
		d.mu.Lock()
		txt, ok := d.records[strings.ToLower(q.Name)]
		d.mu.Unlock()
		switch {
		case !ok:
			m.Rcode = dns.RcodeNameError
		case q.Qtype == dns.TypeTXT:
			m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 300}, Txt: txt})
		}
	}
	if _, udp := w.RemoteAddr().(*net.UDPAddr); udp {
		size := 512
		if o := req.IsEdns0(); o != nil {
			size = int(o.UDPSize())
		}
		m.Truncate(size)
	}
	w.WriteMsg(m)
}

// ClosedAddr returns a loopback UDP address nothing listens on: queries
// to it fail at once, like a DNS server that is down.
func ClosedAddr(t testing.TB) string {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	pc.Close()
	return addr
}
