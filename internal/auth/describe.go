package auth

import (
	"fmt"
	"strings"

	"github.com/debian/mailgw/internal/config"
)

// Describe returns the effective trust policy in readable lines (serve
// --check-config prints it).
func (v *Verifier) Describe() string {
	var b strings.Builder
	t := &v.cfg
	if v.keys == nil {
		b.WriteString("trust: DKIM checking off (trust.dkim = false)\n")
	} else {
		fmt.Fprintf(&b, "trust: DKIM checked through %s, %s per lookup, at most %d signatures per mail; keys cached up to %s (%d keys)\n",
			orDefault(v.resolver, "system"), t.DNSTimeout.Duration, t.MaxSignatures, t.KeyCacheTTL.Duration, t.KeyCacheSize)
		fmt.Fprintf(&b, "trust: mail held by a DNS failure is retried after %s, backing off to %s\n", t.RetryMin.Duration, t.RetryMax.Duration)
	}
	fmt.Fprintf(&b, "trust: relays trusted for every service: %s\n", list(t.TrustedRelays))
	fmt.Fprintf(&b, "trust: Authentication-Results read from: %s\n", list(t.TrustedAuthservIDs))
	for _, s := range config.Services {
		p := t.Policy(s)
		fmt.Fprintf(&b, "trust.%s: proven by DKIM from %s, senders %s, relays %s; otherwise %s\n",
			s, list(p.DKIMDomains), list(p.Senders), list(p.Relays), p.Action)
	}
	if !t.Configured() {
		b.WriteString("trust: no policy configured: every event is published with auth.trusted = false (except replays with --trust-archive)\n")
	}
	return b.String()
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}
