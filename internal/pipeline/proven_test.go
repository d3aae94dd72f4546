package pipeline

import (
	"bytes"
	"context"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/auth"
	"github.com/debian/mailgw/internal/auth/authtest"
	"github.com/debian/mailgw/internal/config"
	"github.com/debian/mailgw/internal/spool"
	"github.com/debian/mailgw/parsers"
)

// provenRig is trustRig whose pipeline also judges dak mail, by a
// policy that accepts DKIM from ftp-master.debian.org (keys from dns)
// and the relay 192.0.2.25, and publishes, marked untrusted, what proves
// nothing (the default action).
func provenRig(t *testing.T, dns *authtest.DNS) *rig {
	r := trustRig(t, dns)
	tc := &r.opts.Config.Trust
	tc.DNSTimeout.Duration = 10 * time.Second // a loaded machine is no DNS failure here
	tc.Dak = config.Policy{DKIMDomains: []string{"ftp-master.debian.org"}, Relays: []string{"192.0.2.25"}, Action: config.ActionPublish}
	v, err := auth.New(*tc, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.p.SetVerifier(v)
	return r
}

// spoolAndProcess delivers raw into the rig's spool as o says and
// processes it, which must leave neither it in the spool nor anything in
// quarantine.
func (r *rig) spoolAndProcess(t *testing.T, raw []byte, o spool.Origin) {
	t.Helper()
	name, err := r.sp.DeliverFrom(bytes.NewReader(raw), 0, o)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.p.ProcessSpooled(context.Background(), name); err != nil {
		t.Fatal(err)
	}
	p, _ := r.sp.Pending()
	q, _ := r.sp.List()
	if len(p) != 0 || len(q) != 0 {
		t.Fatalf("spool %v, quarantine %+v", p, q)
	}
}

// published returns the envelopes published on topics ending in name,
// with their msg.mail.auth.trusted (false for a debmessenger event,
// whose mail has no auth).
func (r *rig) published(name string) ([]*bus.Envelope, []bool) {
	var envs []*bus.Envelope
	var trusted []bool
	for _, e := range r.pub.Envelopes() {
		if !strings.HasSuffix(e.Topic, "."+name) {
			continue
		}
		a, _ := e.Msg["mail"].(parsers.Object).Get("auth").(parsers.Object)
		envs = append(envs, e)
		trusted = append(trusted, a.Get("trusted") == true)
	}
	return envs, trusted
}

// TestForgedCopyOfUpload: a mail anyone can write that names a real
// upload (dak's debian-devel-changes announce of xfsprogs 5.0.0-1,
// unsigned, from a host the policy does not know) and dak's proven
// maintainer copy of the same upload (DKIM-signed by
// ftp-master.debian.org, or from the trusted relay), through serve's
// pipeline under a policy that publishes unproven mail:
//   - forged first: both are published; the proven event is trusted and
//     has another msg_id, the one the forged event names as ProvenMsgID;
//     the debmessenger events follow their mails' proof the same way;
//   - proven first: the forged copy yields nothing new;
//   - a replay after the proven copy, without proof (the archive's
//     signatures no longer verify: dak's key was rotated), publishes
//     nothing again, from either copy.
func TestForgedCopyOfUpload(t *testing.T) {
	dns := authtest.StartDNS(t)
	key := authtest.RSAKey(t)
	maint := readFile(t, filepath.Join(corpusDir, "002-xfsprogs-accepted-maintainer-2019.eml"))
	forged := authtest.StripField(readFile(t, "../../testdata/copies/xfsprogs-5.0.0-1-announce.eml"), "DKIM-Signature")
	forgedFrom := spool.Origin{Relay: netip.MustParseAddr("198.51.100.7")}
	proofs := []struct {
		name   string
		raw    []byte
		origin spool.Origin
		by     string
	}{
		{"dkim", authtest.Resign(t, maint, "ftp-master.debian.org", "smtpauto.fasolo", key), spool.Origin{}, "dkim:ftp-master.debian.org"},
		{"relay", authtest.StripField(maint, "DKIM-Signature"), spool.Origin{Relay: netip.MustParseAddr("192.0.2.25")}, "relay:192.0.2.25"},
	}
	for _, proof := range proofs {
		t.Run(proof.name+"/forged first", func(t *testing.T) {
			dns.SetKey("ftp-master.debian.org", "smtpauto.fasolo", key)
			r := provenRig(t, dns)
			r.spoolAndProcess(t, forged, forgedFrom)
			r.spoolAndProcess(t, proof.raw, proof.origin)
			ups, trusted := r.published("dak.package.upload")
			if len(ups) != 2 || trusted[0] || !trusted[1] {
				t.Fatalf("%d uploads published, trusted %v; want the forged one untrusted, then the proven one", len(ups), trusted)
			}
			a := ups[1].Msg["mail"].(parsers.Object).Get("auth").(parsers.Object)
			if a.Get("by") != proof.by {
				t.Errorf("proven by %v, want %s", a.Get("by"), proof.by)
			}
			if ups[0].MsgID == ups[1].MsgID || ups[1].MsgID != ups[0].ProvenMsgID || !ups[1].Proven {
				t.Errorf("msg_ids: forged %s (proven one named %s), proven %s", ups[0].MsgID, ups[0].ProvenMsgID, ups[1].MsgID)
			}
			compat, _ := r.published("debmessenger.package.upload")
			if len(compat) != 2 || compat[1].MsgID != compat[0].ProvenMsgID || compat[0].MsgID == compat[1].MsgID {
				t.Errorf("%d debmessenger uploads published", len(compat))
			}
		})
		t.Run(proof.name+"/proven first, then forged, then replayed unproven", func(t *testing.T) {
			dns.SetKey("ftp-master.debian.org", "smtpauto.fasolo", key)
			r := provenRig(t, dns)
			r.spoolAndProcess(t, proof.raw, proof.origin)
			r.spoolAndProcess(t, forged, forgedFrom)
			ups, trusted := r.published("dak.package.upload")
			if n := len(r.pub.Envelopes()); n != 2 || len(ups) != 1 || !trusted[0] {
				t.Fatalf("%d envelopes published (%d uploads, trusted %v); want the proven mail's 2", n, len(ups), trusted)
			}
			// dak's key rotated: a replay of the archive (a new process,
			// with no key cached) proves nothing.
			dns.Set(authtest.KeyName("ftp-master.debian.org", "smtpauto.fasolo"), "v=DKIM1; k=rsa; p=")
			v, err := auth.New(r.opts.Config.Trust, nil)
			if err != nil {
				t.Fatal(err)
			}
			r.p.SetVerifier(v)
			res, err := r.p.ProcessBatch(context.Background(), [][]byte{proof.raw, forged}, true)
			if err != nil {
				t.Fatal(err)
			}
			for i, re := range res {
				if re.Trust == nil || re.Trust.Trusted || len(re.Envelopes) != 2 || len(re.Added) != 0 {
					t.Errorf("replayed copy %d: trust %+v, %d envelopes, %d added; want 2 unproven duplicates", i, re.Trust, len(re.Envelopes), len(re.Added))
				}
			}
			if n := len(r.pub.Envelopes()); n != 2 {
				t.Errorf("%d envelopes published after the replay, want still 2", n)
			}
		})
	}
}
