package replayd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/miekg/dns"
)

// ErrNXDomain is matched by a lookup of a name that does not exist.
var ErrNXDomain = errors.New("dns: no such domain (NXDOMAIN)")

// SRV is one SRV record's target and port.
type SRV struct {
	Target string // as in the record, trailing dot kept
	Port   uint16
}

// Resolver looks up SRV records.
type Resolver interface {
	LookupSRV(ctx context.Context, name string) ([]SRV, error)
}

// DNSResolver queries DNS servers directly (github.com/miekg/dns), trying
// each of Servers ("host:port") in turn, over UDP with a TCP retry when
// the answer is truncated.
type DNSResolver struct {
	Servers []string
	Timeout time.Duration // per server and attempt; 5s when 0
}

// SystemResolver returns a DNSResolver for the name servers in
// /etc/resolv.conf.
func SystemResolver() (*DNSResolver, error) {
	cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
	if err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	r := &DNSResolver{Timeout: time.Duration(cc.Timeout) * time.Second}
	for _, s := range cc.Servers {
		r.Servers = append(r.Servers, net.JoinHostPort(s, cc.Port))
	}
	return r, nil
}

// LookupSRV returns the SRV records of name. NXDOMAIN is ErrNXDomain; a
// name without SRV records gives none and no error.
func (r *DNSResolver) LookupSRV(ctx context.Context, name string) ([]SRV, error) {
	if len(r.Servers) == 0 {
		return nil, errors.New("dns: no name server configured")
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), dns.TypeSRV)
	var errs []error
	for _, server := range r.Servers {
		c := &dns.Client{Net: "udp", Timeout: timeout}
		resp, _, err := c.ExchangeContext(ctx, q, server)
		if err == nil && resp.Truncated {
			c.Net = "tcp"
			resp, _, err = c.ExchangeContext(ctx, q, server)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", server, err))
			continue
		}
		switch resp.Rcode {
		case dns.RcodeSuccess:
		case dns.RcodeNameError:
			return nil, fmt.Errorf("%s: %w", name, ErrNXDomain)
		default:
			errs = append(errs, fmt.Errorf("%s: %s", server, dns.RcodeToString[resp.Rcode]))
			continue
		}
		var out []SRV
		for _, rr := range resp.Answer {
			if srv, ok := rr.(*dns.SRV); ok {
				out = append(out, SRV{Target: srv.Target, Port: srv.Port})
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("dns: SRV %s: %w", name, errors.Join(errs...))
}

// DiscoverSRV looks up _fedmsg._tcp.<domain> for each domain, as fedmsg's
// srv_endpoints does, and returns the endpoints tcp://<target>:<port>
// under the key <domain>, the target keeping its trailing dot (which Go's
// resolver and the bus accept). Priority and weight are ignored. A domain
// that does not exist, times out or has no records is skipped with a
// warning; the error is only for a cancelled ctx.
func DiscoverSRV(ctx context.Context, r Resolver, domains []string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, d := range domains {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		name := "_fedmsg._tcp." + dns.Fqdn(d)
		recs, err := r.LookupSRV(ctx, name)
		if err != nil {
			slog.Warn("srv_endpoints: skipping domain", "domain", d, "err", err)
			continue
		}
		if len(recs) == 0 {
			slog.Warn("srv_endpoints: skipping domain: no SRV records", "domain", d, "name", name)
			continue
		}
		for _, rec := range recs {
			out[d] = append(out[d], "tcp://"+net.JoinHostPort(rec.Target, strconv.Itoa(int(rec.Port))))
		}
	}
	return out, nil
}
