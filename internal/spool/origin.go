package spool

import (
	"io"
	"net/netip"
	"strings"
)

// Origin is what mailgw knew about a mail's delivery when it spooled it:
// the facts trust is judged by (internal/auth, docs/trust.md). They are
// carried in the spool file's name, as Maildir-style ",X…" fields after
// the unique part, never in the mail: a sender controls every byte of the
// mail but nothing of the name, and a rename into new/ moves name and
// mail together, so the facts are exactly as durable as the mail.
//
// The fields, in this order:
//
//	,C<addr>    the SMTP/LMTP client's address
//	,F<sender>  the envelope sender given to mailgw deliver, with every
//	            byte outside [A-Za-z0-9.@+=_-] written %XX
//	,A          replayed with --trust-archive
//	,R          delivered by mailgw replay (ReplayedSuffix)
//
// Whoever can write into the spool directory can name files as they
// like: the spool's permissions (0750, the mailgw user) are the trust
// boundary, as they are for the mail itself.
type Origin struct {
	Replayed     bool
	TrustArchive bool
	Relay        netip.Addr
	Sender       string
}

// maxName is the longest file name (NAME_MAX on Linux).
const maxName = 255

// DeliverFrom is Deliver for a mail whose Origin is known: the facts are
// written into its name. A sender too long to fit a file name beside the
// rest is left out, and the mail proves nothing by it.
func (s *Spool) DeliverFrom(r io.Reader, maxBytes int64, o Origin) (string, error) {
	return s.deliver(r, maxBytes, o)
}

// suffix returns the name fields of o for a unique part of n bytes.
func (o Origin) suffix(n int) string {
	var b strings.Builder
	if o.Relay.IsValid() {
		b.WriteString(",C")
		b.WriteString(escape(o.Relay.Unmap().String()))
	}
	if o.Sender != "" {
		f := ",F" + escape(o.Sender)
		if n+b.Len()+len(f)+4 <= maxName {
			b.WriteString(f)
		}
	}
	if o.TrustArchive {
		b.WriteString(",A")
	}
	if o.Replayed {
		b.WriteString(ReplayedSuffix)
	}
	return b.String()
}

// OriginOf reads the Origin out of a spool name. Fields it cannot read
// are ignored: they prove nothing.
func OriginOf(name string) Origin {
	var o Origin
	i := strings.IndexByte(name, ',')
	if i < 0 {
		return o
	}
	for _, f := range strings.Split(name[i+1:], ",") {
		if f == "" {
			continue
		}
		v := f[1:]
		switch f[0] {
		case 'C':
			if s, ok := unescape(v); ok {
				if a, err := netip.ParseAddr(s); err == nil {
					o.Relay = a
				}
			}
		case 'F':
			if s, ok := unescape(v); ok {
				o.Sender = s
			}
		case 'A':
			o.TrustArchive = v == ""
		case 'R':
			o.Replayed = v == ""
		}
	}
	return o
}

// escape writes every byte outside [A-Za-z0-9.@+=_-] as %XX, so that a
// sender never puts a '/', ',' or NUL into a file name.
func escape(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', strings.IndexByte(".@+=_-", c) >= 0:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

func unescape(s string) (string, bool) {
	if !strings.Contains(s, "%") {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		hi, lo := unhex(s[i+1]), unhex(s[i+2])
		if hi < 0 || lo < 0 {
			return "", false
		}
		b.WriteByte(byte(hi<<4 | lo))
		i += 2
	}
	return b.String(), true
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
