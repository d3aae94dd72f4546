// Package dnsq asks DNS servers directly (github.com/miekg/dns), for the
// two lookups mailgw makes: the SRV records of srv_endpoints
// (internal/replayd) and the DKIM key records of trust (internal/auth).
// Asking the servers itself, rather than through the system's stub
// resolver, gives mailgw what it needs to decide: whether a name does not
// exist (a permanent answer) or the server failed (a temporary one), and
// each record's TTL for caching.
package dnsq

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// ErrNXDomain is matched by a lookup of a name that does not exist.
var ErrNXDomain = errors.New("dns: no such domain (NXDOMAIN)")

// TempError is a failure that may go away: no server answered in time,
// a network error, SERVFAIL or REFUSED, or a reply that does not answer
// the question asked.
type TempError struct{ Err error }

func (e *TempError) Error() string { return e.Err.Error() }

// Unwrap returns the underlying error.
func (e *TempError) Unwrap() error { return e.Err }

// IsTemporary reports whether err is (or wraps) a *TempError.
func IsTemporary(err error) bool {
	var te *TempError
	return errors.As(err, &te)
}

// DefaultTimeout is the timeout of one attempt when Client.Timeout is 0.
const DefaultTimeout = 5 * time.Second

// Client asks Servers ("host:port") in turn, over UDP with a TCP retry
// when the answer is truncated.
type Client struct {
	Servers []string
	// Timeout bounds one attempt at one server (DefaultTimeout when 0).
	Timeout time.Duration
}

// SystemServers returns the name servers of /etc/resolv.conf
// ("host:port") and the timeout it sets.
func SystemServers() ([]string, time.Duration, error) {
	cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
	if err != nil {
		return nil, 0, fmt.Errorf("dns: %w", err)
	}
	var out []string
	for _, s := range cc.Servers {
		out = append(out, net.JoinHostPort(s, cc.Port))
	}
	return out, time.Duration(cc.Timeout) * time.Second, nil
}

// Query asks for the records of type qtype at name and returns the first
// answer that is NOERROR (possibly with no records) or NXDOMAIN (then
// also ErrNXDomain). Every other outcome, from every server, is a
// *TempError.
func (c *Client) Query(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	if len(c.Servers) == 0 {
		return nil, &TempError{errors.New("dns: no name server configured")}
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), qtype)
	// Large answers (a DKIM key of several KiB) come over TCP after a
	// truncated UDP one; EDNS0 lets most of them fit a datagram.
	q.SetEdns0(4096, false)
	var errs []error
	for _, server := range c.Servers {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		cl := &dns.Client{Net: "udp", Timeout: timeout, UDPSize: 4096}
		resp, _, err := cl.ExchangeContext(ctx, q, server)
		if err == nil && resp.Truncated {
			cl.Net = "tcp"
			resp, _, err = cl.ExchangeContext(ctx, q, server)
		}
		if err == nil {
			err = answers(q, resp)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", server, err))
			continue
		}
		switch resp.Rcode {
		case dns.RcodeSuccess:
			return resp, nil
		case dns.RcodeNameError:
			return resp, fmt.Errorf("%s: %w", strings.TrimSuffix(q.Question[0].Name, "."), ErrNXDomain)
		}
		errs = append(errs, fmt.Errorf("%s: %s", server, dns.RcodeToString[resp.Rcode]))
	}
	return nil, &TempError{fmt.Errorf("dns: %s %s: %w", dns.TypeToString[qtype], name, errors.Join(errs...))}
}

// answers checks that resp is a reply to q (miekg/dns checks the id).
func answers(q, resp *dns.Msg) error {
	if !resp.Response || len(resp.Question) != 1 {
		return errors.New("malformed reply")
	}
	a, b := resp.Question[0], q.Question[0]
	if a.Qtype != b.Qtype || a.Qclass != b.Qclass || !strings.EqualFold(a.Name, b.Name) {
		return fmt.Errorf("reply to another question (%s)", a.String())
	}
	return nil
}

// TXT returns the TXT records of name, the strings of each record joined
// (as net.LookupTXT does), and the smallest TTL among them. A name
// without TXT records gives none and no error, with the negative-caching
// TTL of the zone's SOA when the reply carries one (RFC 2308), else 0.
func (c *Client) TXT(ctx context.Context, name string) ([]string, time.Duration, error) {
	resp, err := c.Query(ctx, name, dns.TypeTXT)
	if err != nil {
		if errors.Is(err, ErrNXDomain) {
			return nil, negTTL(resp), err
		}
		return nil, 0, err
	}
	var out []string
	ttl := uint32(0)
	for _, rr := range resp.Answer {
		t, ok := rr.(*dns.TXT)
		if !ok {
			continue
		}
		out = append(out, strings.Join(t.Txt, ""))
		if len(out) == 1 || t.Hdr.Ttl < ttl {
			ttl = t.Hdr.Ttl
		}
	}
	if len(out) == 0 {
		return nil, negTTL(resp), nil
	}
	return out, time.Duration(ttl) * time.Second, nil
}

// negTTL is the negative-caching TTL of a reply: the smaller of its SOA's
// TTL and MINIMUM field, 0 when it has no SOA.
func negTTL(resp *dns.Msg) time.Duration {
	if resp == nil {
		return 0
	}
	for _, rr := range resp.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return time.Duration(min(soa.Hdr.Ttl, soa.Minttl)) * time.Second
		}
	}
	return 0
}
