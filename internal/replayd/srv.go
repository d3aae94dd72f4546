package replayd

import (
	"context"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/debian/mailgw/internal/dnsq"
	"github.com/miekg/dns"
)

// ErrNXDomain is matched by a lookup of a name that does not exist.
var ErrNXDomain = dnsq.ErrNXDomain

// SRV is one SRV record's target and port.
type SRV struct {
	Target string // as in the record, trailing dot kept
	Port   uint16
}

// Resolver looks up SRV records.
type Resolver interface {
	LookupSRV(ctx context.Context, name string) ([]SRV, error)
}

// DNSResolver queries DNS servers directly (internal/dnsq), trying each
// of Servers ("host:port") in turn, over UDP with a TCP retry when the
// answer is truncated.
type DNSResolver struct {
	Servers []string
	Timeout time.Duration // per server and attempt; 5s when 0
}

// SystemResolver returns a DNSResolver for the name servers in
// /etc/resolv.conf.
func SystemResolver() (*DNSResolver, error) {
	servers, timeout, err := dnsq.SystemServers()
	if err != nil {
		return nil, err
	}
	return &DNSResolver{Servers: servers, Timeout: timeout}, nil
}

// LookupSRV returns the SRV records of name. NXDOMAIN is ErrNXDomain; a
// name without SRV records gives none and no error.
func (r *DNSResolver) LookupSRV(ctx context.Context, name string) ([]SRV, error) {
	c := dnsq.Client{Servers: r.Servers, Timeout: r.Timeout}
	resp, err := c.Query(ctx, name, dns.TypeSRV)
	if err != nil {
		return nil, err
	}
	var out []SRV
	for _, rr := range resp.Answer {
		if srv, ok := rr.(*dns.SRV); ok {
			out = append(out, SRV{Target: srv.Target, Port: srv.Port})
		}
	}
	return out, nil
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
