package main

import (
	"io"
	"log/slog"
	"net/netip"
	"strings"
	"testing"

	"github.com/debian/mailgw/internal/metrics"
	"github.com/debian/mailgw/internal/spool"
)

func TestReasonClass(t *testing.T) {
	for reason, want := range map[string]string{
		"loop: mail carries mailgw's own loop marker (X-Mailgw-Loop)":  "loop",
		"delivery status notification (RFC 3464: multipart/report)":    "dsn",
		"automatic report (RFC 6522: multipart/report; report-type=x)": "auto-reply",
		"auto-reply (RFC 3834: Auto-Submitted: auto-replied)":          "auto-reply",
		`no rule matched (from: "a", subject: "b", headers: none)`:     "no-rule",
		"unreadable mail: malformed header line":                       "unreadable",
		"envelope org.debian.dev.x: float in payload":                  "envelope",
		"dak: Accepted mail without a .changes":                        "parser",
		"over max_message_bytes: 1073741824 bytes":                     "too-big",
		"spool entry is not a regular mail file (fifo)":                "bad-entry",
	} {
		if got := reasonClass(reason); got != want {
			t.Errorf("reasonClass(%q) = %q, want %q", reason, got, want)
		}
	}
}

// TestMailCounter: the pipeline's "mail" lines become metrics, whatever
// the log level, and mail spooled over SMTP is not counted again as a
// deliver pickup.
func TestMailCounter(t *testing.T) {
	m := metrics.New()
	tr := newPickupTracker(m)
	sp, err := spool.Open(mkSpool(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	smtpName, err := sp.DeliverFrom(strings.NewReader("Subject: x\r\n\r\n"), 1000, spool.Origin{Relay: netip.MustParseAddr("127.0.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(tr.handler(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError})))
	log.Info("mail", "spool", smtpName, "topics", []string{"org.debian.dev.debbugs.bug.report"}, "outcome", "published")
	log.Info("mail", "spool", "piped-1", "topics", []string{"a", "b"}, "outcome", "duplicate")
	log.Info("mail", "spool", "1.M1P1Q1R1.host,C127.0.0.2", "topics", []string{}, "outcome", "duplicate")
	log.Info("mail", "spool", "1.M1P1Q2R1.host,R", "topics", []string{}, "outcome", "duplicate")
	log.Info("mail", "spool", "piped-2", "topics", []string{}, "outcome", "quarantined", "reason", "no rule matched (…)")
	log.Info("something else", "spool", "piped-3", "outcome", "quarantined")

	reg := m.Registry()
	for name, want := range map[string]float64{
		"mailgw_mails_received_total":    3, // the two pipe pickups and the replayed one; SMTP/LMTP count in smtpd
		"mailgw_events_total":            1,
		"mailgw_duplicates_total":        2, // 2 topics + the LMTP and replay mails' none
		"mailgw_mails_quarantined_total": 1,
	} {
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var sum float64
		for _, mf := range mfs {
			if mf.GetName() == name {
				for _, mt := range mf.GetMetric() {
					sum += mt.GetCounter().GetValue()
				}
			}
		}
		if sum != want {
			t.Errorf("%s = %v, want %v", name, sum, want)
		}
	}
}

func mkSpool(t *testing.T) string {
	dir := t.TempDir()
	if err := spool.Create(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}
