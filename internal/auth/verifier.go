package auth

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/dnsq"
	"github.com/debian/mailgw/parsers"
)

// Verifier authenticates mail against one trust configuration. It is
// immutable and safe for concurrent use; a new policy (SIGHUP) is a new
// Verifier, swapped in whole by its user.
type Verifier struct {
	relays   []netip.Prefix
	authserv map[string]bool
	policies map[string]*policy
	// keys is nil when DKIM checking is off.
	keys     *keyCache
	maxSigs  int
	resolver string // for Describe
	cfg      config.Trust
}

// policy is a parsed config.Policy.
type policy struct {
	domains    map[string]bool
	senders    []string // lower case; "@domain" matches the domain
	relays     []netip.Prefix
	quarantine bool
}

// New builds a Verifier from the [trust] table. r looks up DKIM keys; nil
// means a DNS client for trust.dns_resolver, or for the name servers of
// /etc/resolv.conf when that is "".
func New(t config.Trust, r Resolver) (*Verifier, error) {
	v := &Verifier{authserv: map[string]bool{}, policies: map[string]*policy{}, maxSigs: t.MaxSignatures, cfg: t}
	var err error
	if v.relays, err = config.ParsePrefixes(t.TrustedRelays); err != nil {
		return nil, fmt.Errorf("trust.trusted_relays: %w", err)
	}
	for _, id := range t.TrustedAuthservIDs {
		v.authserv[strings.ToLower(id)] = true
	}
	for _, s := range config.Services {
		cp := t.Policy(s)
		p := &policy{domains: map[string]bool{}, quarantine: cp.Action == config.ActionQuarantine}
		for _, d := range cp.DKIMDomains {
			p.domains[strings.ToLower(strings.TrimSuffix(d, "."))] = true
		}
		for _, a := range cp.Senders {
			p.senders = append(p.senders, strings.ToLower(a))
		}
		if p.relays, err = config.ParsePrefixes(cp.Relays); err != nil {
			return nil, fmt.Errorf("trust.%s.relays: %w", s, err)
		}
		v.policies[s] = p
	}
	if !t.DKIM {
		return v, nil
	}
	v.resolver = t.DNSResolver
	if r == nil {
		c := &dnsq.Client{Servers: []string{t.DNSResolver}, Timeout: t.DNSTimeout.Duration}
		if t.DNSResolver == "" {
			servers, _, err := dnsq.SystemServers()
			if err != nil {
				return nil, fmt.Errorf("trust.dns_resolver: the system's: %w", err)
			}
			c.Servers = servers
			v.resolver = "system (" + strings.Join(servers, ", ") + ")"
		}
		r = c
	}
	v.keys = &keyCache{
		r: r, timeout: t.DNSTimeout.Duration, maxTTL: t.KeyCacheTTL.Duration,
		tempTTL: min(t.RetryMin.Duration, maxTempTTL), size: t.KeyCacheSize,
		now: time.Now, m: map[string]keyEntry{},
	}
	return v, nil
}

// NewOffline is New with DKIM checking off: the policy's relays, senders,
// archives and Authentication-Results still count, no DNS is asked.
func NewOffline(t config.Trust) (*Verifier, error) {
	t.DKIM = false
	return New(t, nil)
}

// Check authenticates m, which yields evs and reached the gateway as in
// says, and judges it by the policy of the mail's service (that of its
// first event that is not a debmessenger compatibility event). Call it
// once per mail, before signing.
func (v *Verifier) Check(m *parsers.Message, in Intake, evs []parsers.Event) *Decision {
	d := &Decision{Service: serviceOf(evs)}
	pol := v.policies[d.Service]
	if pol == nil {
		pol = &policy{}
	}
	switch {
	case in.Archive:
		d.Trusted, d.By = true, "archive"
	case in.Relay.IsValid() && (contains(v.relays, in.Relay) || contains(pol.relays, in.Relay)):
		d.Trusted, d.By = true, "relay:"+in.Relay.Unmap().String()
	case in.Sender != "" && pol.sender(in.Sender):
		d.Trusted, d.By = true, "pipe:"+strings.ToLower(in.Sender)
	}
	var h header
	if m.Header.Has("DKIM-Signature") {
		h = scanHeader(m.Raw)
		if v.keys != nil {
			d.DKIM = v.verifyDKIM(m, &h)
		}
	}
	if !d.Trusted {
		for _, s := range d.DKIM {
			if s.Result == ResultPass && pol.domains[s.Domain] {
				d.Trusted, d.By = true, "dkim:"+s.Domain
				break
			}
		}
	}
	if !d.Trusted {
		for _, dom := range v.authResultsPass(m) {
			if pol.domains[dom] && h.covered(dom, m) {
				d.Trusted, d.By = true, "dkim:"+dom
				break
			}
		}
	}
	if d.Trusted {
		return d
	}
	for _, s := range d.DKIM {
		if s.Result == ResultTempError && pol.domains[s.Domain] {
			d.Retry = fmt.Sprintf("DKIM key of d=%s s=%s: %s", s.Domain, s.Selector, s.Reason)
			return d
		}
	}
	if pol.quarantine {
		d.Quarantine = "untrusted: " + v.why(d, in)
	}
	return d
}

// covered reports whether a DKIM-Signature of domain in the mail vouches
// for what the parsers read (sigField.covers): an Authentication-Results
// pass for a domain counts only then.
func (h *header) covered(domain string, m *parsers.Message) bool {
	for i := range h.sigs {
		if h.sigs[i].domain == domain && h.sigs[i].covers(h, m) {
			return true
		}
	}
	return false
}

// why says what the mail lacked, for the quarantine reason.
func (v *Verifier) why(d *Decision, in Intake) string {
	cp := v.cfg.Policy(d.Service)
	var b strings.Builder
	fmt.Fprintf(&b, "nothing proves this %s mail", orUnknown(d.Service))
	if cp != nil {
		fmt.Fprintf(&b, " (accepted: DKIM %s, senders %s, relays %s)", list(cp.DKIMDomains), list(cp.Senders), list(append(append([]string(nil), v.cfg.TrustedRelays...), cp.Relays...)))
	}
	if len(d.DKIM) == 0 {
		b.WriteString("; no DKIM signature")
	}
	for i, s := range d.DKIM {
		if i == 4 {
			fmt.Fprintf(&b, "; %d more signatures", len(d.DKIM)-i)
			break
		}
		fmt.Fprintf(&b, "; DKIM d=%s s=%s %s", s.Domain, s.Selector, s.Result)
	}
	if in.Relay.IsValid() {
		fmt.Fprintf(&b, "; relay %s", in.Relay.Unmap())
	}
	if in.Sender != "" {
		fmt.Fprintf(&b, "; sender %s", in.Sender)
	}
	return b.String()
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown service"
	}
	return s
}

func list(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ",")
}

// serviceOf is the service whose policy judges a mail with events evs.
func serviceOf(evs []parsers.Event) string {
	for i := range evs {
		if evs[i].Service != "debmessenger" {
			return evs[i].Service
		}
	}
	return ""
}

func contains(ps []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// sender reports whether the envelope sender a is one of the policy's.
func (p *policy) sender(a string) bool {
	a = strings.ToLower(a)
	for _, s := range p.senders {
		if s == a || (strings.HasPrefix(s, "@") && strings.HasSuffix(a, s)) {
			return true
		}
	}
	return false
}
