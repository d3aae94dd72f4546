package main

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/debian/mailgw/internal/metrics"
	"github.com/debian/mailgw/internal/smtpd/smtpdtest"
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
	sp := tr.spooler(&smtpdtest.FakeSpooler{})
	smtpName, err := sp.DeliverFrom(strings.NewReader("Subject: x\r\n\r\n"), 1000, spool.Origin{})
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(tr.handler(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError})))
	log.Info("mail", "spool", smtpName, "topics", []string{"org.debian.dev.debbugs.bug.report"}, "outcome", "published")
	log.Info("mail", "spool", "piped-1", "topics", []string{"a", "b"}, "outcome", "duplicate")
	log.Info("mail", "spool", "piped-2", "topics", []string{}, "outcome", "quarantined", "reason", "no rule matched (…)")
	log.Info("something else", "spool", "piped-3", "outcome", "quarantined")

	reg := m.Registry()
	for name, want := range map[string]float64{
		"mailgw_mails_received_total":    2, // the two pipe pickups; SMTP counts in smtpd
		"mailgw_events_total":            1,
		"mailgw_duplicates_total":        2,
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
