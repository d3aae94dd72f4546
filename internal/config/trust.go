package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// Trust is the [trust] table: how the gateway decides whether a mail
// provably came from the service it claims to come from (docs/trust.md).
// Its facts (DKIM, Authentication-Results, delivery path) are global; what
// proves a mail of one service is that service's Policy.
type Trust struct {
	// TrustedRelays are client networks (CIDR or single addresses) whose
	// SMTP/LMTP deliveries are trusted for every service: the site's own
	// MTAs, which verified the mail before relaying it.
	TrustedRelays []string `toml:"trusted_relays"`
	// TrustedAuthservIDs are the authserv-ids of the site's own verifiers:
	// only Authentication-Results fields (RFC 8601) naming one of them are
	// read; every other such field is ignored.
	TrustedAuthservIDs []string `toml:"trusted_authserv_ids"`
	// DKIM turns DKIM verification (DNS key lookups) on.
	DKIM bool `toml:"dkim"`
	// DNSResolver is the DNS server ("host:port") DKIM keys are asked
	// from; "" means the system's (the nameservers of /etc/resolv.conf).
	DNSResolver string `toml:"dns_resolver"`
	// DNSTimeout bounds one key lookup.
	DNSTimeout Duration `toml:"dns_timeout"`
	// MaxSignatures bounds the DKIM signatures checked per mail.
	MaxSignatures int `toml:"max_signatures"`
	// KeyCacheTTL caps how long a key (or its absence) is cached; a shorter
	// DNS TTL wins. KeyCacheSize bounds the cached keys.
	KeyCacheTTL  Duration `toml:"key_cache_ttl"`
	KeyCacheSize int      `toml:"key_cache_size"`
	// RetryMin and RetryMax bound the backoff with which serve retries a
	// mail held by a temporary DNS failure (DKIM temperror).
	RetryMin Duration `toml:"retry_min"`
	RetryMax Duration `toml:"retry_max"`

	// The per-service policies: [trust.dak], [trust.debbugs], [trust.pts]
	// and [trust.tracker].
	Dak     Policy `toml:"dak"`
	Debbugs Policy `toml:"debbugs"`
	PTS     Policy `toml:"pts"`
	Tracker Policy `toml:"tracker"`
}

// Policy is one service's trust policy: what proves that a mail came from
// it, and what to do with mail that proves nothing.
type Policy struct {
	// DKIMDomains are the signing domains (d=) whose passing DKIM
	// signature proves the mail.
	DKIMDomains []string `toml:"dkim_domains"`
	// Senders are envelope senders (as the MTA passes them to mailgw
	// deliver with -f or $SENDER) that prove the mail: full addresses, or
	// "@domain" for every address of a domain.
	Senders []string `toml:"senders"`
	// Relays are client networks trusted for this service only (beside
	// trust.trusted_relays).
	Relays []string `toml:"relays"`
	// Action for mail that proves nothing: "publish" (marked
	// auth.trusted = false) or "quarantine" (reason "untrusted: …").
	Action string `toml:"action"`
}

// Trust actions.
const (
	ActionPublish    = "publish"
	ActionQuarantine = "quarantine"
)

// Services are the services that have a trust policy, in order.
var Services = []string{"dak", "debbugs", "pts", "tracker"}

// Policy returns the policy of service (nil for a service without one,
// such as debmessenger).
func (t *Trust) Policy(service string) *Policy {
	switch service {
	case "dak":
		return &t.Dak
	case "debbugs":
		return &t.Debbugs
	case "pts":
		return &t.PTS
	case "tracker":
		return &t.Tracker
	}
	return nil
}

// Configured reports whether anything can prove a mail: a trusted relay,
// or a service policy that names DKIM domains, senders or relays. Without
// it every event is published untrusted (except replays the operator
// vouches for with --trust-archive).
func (t *Trust) Configured() bool {
	if len(t.TrustedRelays) > 0 {
		return true
	}
	for _, s := range Services {
		p := t.Policy(s)
		if len(p.DKIMDomains)+len(p.Senders)+len(p.Relays) > 0 {
			return true
		}
	}
	return false
}

// ParsePrefixes parses CIDRs and single addresses (a /32 or /128).
func ParsePrefixes(list []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(list))
	for _, s := range list {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q: want an address or CIDR", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// check validates the [trust] table.
func (t *Trust) check() []error {
	var errs []error
	if _, err := ParsePrefixes(t.TrustedRelays); err != nil {
		errs = append(errs, fmt.Errorf("trust.trusted_relays: %v", err))
	}
	if t.DNSResolver != "" {
		if _, _, err := net.SplitHostPort(t.DNSResolver); err != nil {
			errs = append(errs, fmt.Errorf("trust.dns_resolver %q: want host:port (or \"\" for the system's)", t.DNSResolver))
		}
	}
	if t.DNSTimeout.Duration <= 0 {
		errs = append(errs, errors.New("trust.dns_timeout must be positive"))
	}
	if t.MaxSignatures <= 0 {
		errs = append(errs, errors.New("trust.max_signatures must be positive"))
	}
	if t.KeyCacheSize <= 0 || t.KeyCacheTTL.Duration <= 0 {
		errs = append(errs, errors.New("trust.key_cache_size and trust.key_cache_ttl must be positive"))
	}
	if t.RetryMin.Duration <= 0 || t.RetryMax.Duration < t.RetryMin.Duration {
		errs = append(errs, errors.New("trust.retry_min must be positive and trust.retry_max at least retry_min"))
	}
	for _, s := range Services {
		p := t.Policy(s)
		switch p.Action {
		case ActionPublish, ActionQuarantine:
		default:
			errs = append(errs, fmt.Errorf("trust.%s.action %q: want %q or %q", s, p.Action, ActionPublish, ActionQuarantine))
		}
		if _, err := ParsePrefixes(p.Relays); err != nil {
			errs = append(errs, fmt.Errorf("trust.%s.relays: %v", s, err))
		}
		for _, d := range p.DKIMDomains {
			if d == "" || strings.ContainsAny(d, " @/") {
				errs = append(errs, fmt.Errorf("trust.%s.dkim_domains: %q is not a domain", s, d))
			}
		}
		for _, a := range p.Senders {
			if !strings.Contains(a, "@") {
				errs = append(errs, fmt.Errorf("trust.%s.senders: %q: want an address or @domain", s, a))
			}
		}
	}
	return errs
}
