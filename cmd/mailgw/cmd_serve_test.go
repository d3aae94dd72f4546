package main

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/metrics"
	"github.com/debian/mailgw/internal/pipeline"
	"github.com/debian/mailgw/internal/spool"
	"github.com/prometheus/client_golang/prometheus"
)

// TestCountMailQuarantineKinds: each quarantine kind is counted under its
// own reason label, the kind's word.
func TestCountMailQuarantineKinds(t *testing.T) {
	m := metrics.New()
	count := countMail(m)
	for i, k := range pipeline.QuarantineKinds {
		for range i + 1 { // kind i counted i+1 times: no two labels alike
			count("piped", &pipeline.Result{Quarantine: "why", QuarantineKind: k})
		}
	}
	got := counters(t, m.Registry(), "mailgw_mails_quarantined_total", "reason")
	for i, k := range pipeline.QuarantineKinds {
		if got[string(k)] != float64(i+1) {
			t.Errorf("reason=%q: %v, want %d", k, got[string(k)], i+1)
		}
	}
	if len(got) != len(pipeline.QuarantineKinds) {
		t.Errorf("labels %v, want one per kind", got)
	}
}

// TestCountMail: the pipeline's Results become metrics: events by topic
// for what the journal added, duplicates for the rest, and mail spooled
// over SMTP is not counted again as a deliver pickup.
func TestCountMail(t *testing.T) {
	m := metrics.New()
	sp, err := spool.Open(mkSpool(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	smtpName, err := sp.DeliverFrom(strings.NewReader("Subject: x\r\n\r\n"), 1000, spool.Origin{Relay: netip.MustParseAddr("127.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	env := func(topic string) *bus.Envelope { return &bus.Envelope{Topic: topic} }
	report, upload, closed := env("org.debian.dev.debbugs.bug.report"), env("org.debian.dev.dak.package.upload"), env("org.debian.dev.debbugs.bug.close")
	count := countMail(m)
	count(smtpName, &pipeline.Result{Envelopes: []*bus.Envelope{report}, Added: []*bus.Envelope{report}, Published: true})
	count("piped-1", &pipeline.Result{Envelopes: []*bus.Envelope{env("a"), env("b")}})                                              // duplicate
	count("piped-2", &pipeline.Result{Envelopes: []*bus.Envelope{upload, closed}, Added: []*bus.Envelope{upload}, Published: true}) // one new, one duplicate
	count("1.M1P1Q1R1.host,C127.0.0.2", &pipeline.Result{})                                                                         // LMTP, nothing new
	count("1.M1P1Q2R1.host,R", &pipeline.Result{})                                                                                  // replayed
	count("piped-3", &pipeline.Result{Quarantine: "no rule matched (…)", QuarantineKind: pipeline.QuarantineNoRule})
	count("piped-4", &pipeline.Result{Held: "DNS down"}) // held: counted once decided

	reg := m.Registry()
	for name, want := range map[string]float64{
		"mailgw_mails_received_total":    4, // three pipe pickups and the replayed one; SMTP/LMTP count in smtpd
		"mailgw_events_total":            2, // the report and the upload
		"mailgw_duplicates_total":        3, // a, b and the close
		"mailgw_mails_quarantined_total": 1,
	} {
		var sum float64
		for _, v := range counters(t, reg, name, "") {
			sum += v
		}
		if sum != want {
			t.Errorf("%s = %v, want %v", name, sum, want)
		}
	}
	if got := counters(t, reg, "mailgw_events_total", "topic"); got[upload.Topic] != 1 || got[report.Topic] != 1 || got[closed.Topic] != 0 {
		t.Errorf("events by topic %v", got)
	}
	if got := counters(t, reg, "mailgw_mails_received_total", "mode"); got[metrics.ModeReplay] != 1 || got[metrics.ModeDeliver] != 3 || got[metrics.ModeSMTP] != 0 {
		t.Errorf("received by mode %v", got)
	}
}

// counters returns the values of the counter name by the value of label
// (all under "" when label is "").
func counters(t *testing.T, reg *prometheus.Registry, name, label string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, mt := range mf.GetMetric() {
			key := ""
			for _, lp := range mt.GetLabel() {
				if lp.GetName() == label {
					key = lp.GetValue()
				}
			}
			out[key] += mt.GetCounter().GetValue()
		}
	}
	return out
}

func mkSpool(t *testing.T) string {
	dir := t.TempDir()
	if err := spool.Create(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}
