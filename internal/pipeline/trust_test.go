package pipeline

import (
	"bytes"
	"context"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/debian/mailgw/internal/auth"
	"github.com/debian/mailgw/internal/auth/authtest"
	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/spool"
	"github.com/debian/mailgw/parsers"
)

// trustRig is a rig whose pipeline judges mail by a debbugs policy that
// accepts DKIM from bugs.debian.org (keys from a DNS server in the test)
// and relay 192.0.2.25, quarantining what proves nothing.
func trustRig(t *testing.T, dns *authtest.DNS) *rig {
	r := newRig(t)
	tc := &r.opts.Config.Trust
	tc.DNSResolver = dns.Addr
	tc.DNSTimeout.Duration = time.Second
	tc.RetryMin.Duration, tc.RetryMax.Duration = 50*time.Millisecond, 200*time.Millisecond
	tc.Debbugs = config.Policy{DKIMDomains: []string{"bugs.debian.org"}, Relays: []string{"192.0.2.25"}, Action: config.ActionQuarantine}
	v, err := auth.New(*tc, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.opts.Verifier = v
	r.p = New(r.opts)
	return r
}

// debbugsMail is a real debbugs mail (bugs.debian.org signs those) signed
// again with the test's key under bugs.debian.org's selector.
func debbugsMail(t *testing.T, key *authtest.Key) []byte {
	raw, err := os.ReadFile(corpusDir + "/117-done-1000974-by-done-mail.eml")
	if err != nil {
		t.Fatal(err)
	}
	return authtest.Resign(t, raw, "bugs.debian.org", "smtpauto.buxtehude", key)
}

// With the DNS server down, a mail whose proof is a DKIM signature of an
// accepted domain is held: it stays in the spool, retried with backoff,
// neither published untrusted nor quarantined. Once DNS is back it is
// published, trusted, and nothing is lost.
func TestTemperrorHoldsMail(t *testing.T) {
	dns := authtest.StartDNS(t)
	key := authtest.RSAKey(t)
	dns.SetKey("bugs.debian.org", "smtpauto.buxtehude", key)
	r := trustRig(t, dns)
	dns.Stop()
	name, err := r.sp.Deliver(bytes.NewReader(debbugsMail(t, key)), 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.p.Run(ctx) }()
	waitFor(t, "three held attempts", func() bool { return strings.Count(r.log.String(), "mail held") >= 3 })
	if pend, _ := r.sp.Pending(); len(pend) != 1 || pend[0] != name {
		t.Fatalf("spool while DNS is down: %v", pend)
	}
	if q, _ := r.sp.List(); len(q) != 0 || len(r.pub.Envelopes()) != 0 {
		t.Fatalf("held mail quarantined (%v) or published (%d)", q, len(r.pub.Envelopes()))
	}
	for _, want := range []string{"attempt=1", "attempt=2", "attempt=3", "d=bugs.debian.org s=smtpauto.buxtehude", "retry_in="} {
		if !strings.Contains(r.log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, r.log.String())
		}
	}
	dns.Start(t)
	waitFor(t, "publication once DNS is back", func() bool { return len(r.pub.Envelopes()) > 0 })
	waitFor(t, "the spool to drain", func() bool { p, _ := r.sp.Pending(); return len(p) == 0 })
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	envs := r.pub.Envelopes()
	if len(envs) != 2 { // debbugs.bug.close and its debmessenger copy
		t.Fatalf("%d envelopes", len(envs))
	}
	a := envs[0].Msg["mail"].(parsers.Object).Get("auth").(parsers.Object)
	if a.Get("trusted") != true || a.Get("by") != "dkim:bugs.debian.org" {
		t.Fatalf("auth %v", a)
	}
	if q, _ := r.sp.List(); len(q) != 0 {
		t.Errorf("quarantined: %v", q)
	}
}

// The delivery facts ride in the spool name: the relay's address proves
// the mail; the same bytes delivered otherwise prove nothing, whatever
// headers they carry (a forged Received or Authentication-Results line
// is just text), and are quarantined as untrusted.
func TestOriginForgery(t *testing.T) {
	dns := authtest.StartDNS(t)
	r := trustRig(t, dns)
	raw, err := os.ReadFile(corpusDir + "/117-done-1000974-by-done-mail.eml")
	if err != nil {
		t.Fatal(err)
	}
	raw = authtest.StripField(raw, "DKIM-Signature")
	forged := append([]byte("Received: from buxtehude.debian.org [192.0.2.25] by gateway\r\nAuthentication-Results: gateway; dkim=pass header.d=bugs.debian.org\r\nX-Mailgw-Origin: ,C192.0.2.25\r\n"), raw...)
	relayed, err := r.sp.DeliverFrom(bytes.NewReader(raw), 0, spool.Origin{Relay: netip.MustParseAddr("192.0.2.25")})
	if err != nil {
		t.Fatal(err)
	}
	other, err := r.sp.DeliverFrom(bytes.NewReader(forged), 0, spool.Origin{Relay: netip.MustParseAddr("198.51.100.7"), Sender: "owner@bugs.debian.org"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := r.p.ProcessSpooled(ctx, relayed); err != nil {
		t.Fatal(err)
	}
	if err := r.p.ProcessSpooled(ctx, other); err != nil {
		t.Fatal(err)
	}
	envs := r.pub.Envelopes()
	if len(envs) != 2 {
		t.Fatalf("%d envelopes published, want the relayed mail's 2", len(envs))
	}
	if a := envs[0].Msg["mail"].(parsers.Object).Get("auth").(parsers.Object); a.Get("by") != "relay:192.0.2.25" {
		t.Errorf("relayed: %v", a)
	}
	q, _ := r.sp.List()
	if len(q) != 1 || q[0].Name != other || !strings.HasPrefix(q[0].Reason, "untrusted: nothing proves this debbugs mail") {
		t.Fatalf("quarantine %+v", q)
	}
}
