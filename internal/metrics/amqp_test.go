package metrics

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

// amqpMetrics are the AMQP outlet's metrics, present while it runs.
var amqpMetrics = []string{
	"mailgw_amqp_connected",
	"mailgw_amqp_published_total",
	"mailgw_amqp_confirmed_total",
	"mailgw_amqp_nacked_total",
	"mailgw_amqp_skipped_total",
	"mailgw_amqp_connections_total",
	"mailgw_amqp_connection_failures_total",
	"mailgw_amqp_confirmed_seq_id",
	"mailgw_amqp_backlog",
}

// TestAMQPMetrics: absent without the outlet; with it, read from its
// status on each scrape; the backlog left out when the journal failed.
func TestAMQPMetrics(t *testing.T) {
	m := New()
	base := serve(t, m)
	if _, body := get(t, base+"/metrics"); strings.Contains(body, "mailgw_amqp_") {
		t.Fatal("AMQP metrics without an outlet")
	}
	st := AMQPStatus{Connected: true, Published: 12, Confirmed: 10, Nacked: 1, Connects: 2, Failures: 1, Mark: 40, Backlog: 5}
	m.SetAMQPProbe(func() AMQPStatus { return st })
	_, body := get(t, base+"/metrics")
	for _, name := range amqpMetrics {
		if !regexp.MustCompile(`(?m)^# TYPE ` + name + ` `).MatchString(body) {
			t.Errorf("/metrics does not list %s", name)
		}
	}
	for _, want := range []string{"mailgw_amqp_connected 1", "mailgw_amqp_published_total 12", "mailgw_amqp_confirmed_total 10",
		"mailgw_amqp_nacked_total 1", "mailgw_amqp_connection_failures_total 1", "mailgw_amqp_confirmed_seq_id 40", "mailgw_amqp_backlog 5"} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	st = AMQPStatus{BacklogErr: errors.New("journal gone")}
	if _, body := get(t, base+"/metrics"); !strings.Contains(body, "mailgw_amqp_connected 0\n") || strings.Contains(body, "mailgw_amqp_backlog ") {
		t.Errorf("after a failed backlog probe:\n%s", body)
	}
}
