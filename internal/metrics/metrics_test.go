package metrics

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

// allMetrics are metrics /metrics must list once their probes are set
// (TestEveryMetricDocumented checks that docs/monitoring.md has every
// metric of the source).
var allMetrics = []string{
	"mailgw_mails_received_total",
	"mailgw_mails_spooled_total",
	"mailgw_mails_quarantined_total",
	"mailgw_events_total",
	"mailgw_published_total",
	"mailgw_publish_errors_total",
	"mailgw_duplicates_total",
	"mailgw_bus_drops_total",
	"mailgw_smtp_data_replies_total",
	"mailgw_smtp_connections",
	"mailgw_smtp_connections_rejected_total",
	"mailgw_spool_depth",
	"mailgw_spool_oldest_age_seconds",
	"mailgw_journal_rows",
	"mailgw_journal_last_seq_id",
	"mailgw_pipeline_up",
	"mailgw_ready",
	"mailgw_bus_subscribers",
	"mailgw_journal_bytes",
	"mailgw_quarantine_mails",
	"mailgw_quarantine_bytes",
	"mailgw_probe_errors",
	"mailgw_web_requests_total",
	"mailgw_web_request_duration_seconds",
	"mailgw_web_streams",
	"mailgw_web_streams_refused_total",
	"mailgw_web_streams_dropped_total",
	"mailgw_web_stream_events_skipped_total",
	"mailgw_web_package_index_behind",
}

func serve(t *testing.T, m *Metrics) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx, l, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return "http://" + l.Addr().String()
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

func TestMetricsListed(t *testing.T) {
	m := New()
	m.Received(ModeSMTP)
	m.Received(ModeSMTP)
	m.Spooled()
	m.Quarantined("no-rule")
	m.Event("org.debian.dev.dak.package.upload")
	m.Published()
	m.PublishError()
	m.Duplicate()
	m.BusDrop()
	m.SMTPReply(250)
	m.ConnOpened("smtp")
	m.ConnRejected()
	m.WebRequest("search", 400, 3*time.Millisecond)
	m.WebStreams(2)
	m.WebStreams(-1)
	m.WebStreamRefused()
	m.WebStreamDropped("slow")
	m.WebStreamSkipped(3)
	m.WebPackageIndexBehind(12)
	m.SetSpoolProbe(func() (int, time.Time, error) { return 3, time.Now().Add(-90 * time.Second), nil })
	m.SetJournalProbe(func() (int64, int64, error) { return 42, 41, nil })
	m.SetBusDropProbe(func() uint64 { return 6 })
	m.SetBusSubscribersProbe(func() int { return 2 })
	m.SetDiskProbe(func() (DiskUsage, error) {
		return DiskUsage{Journal: map[string]int64{"database": 4096, "wal": 0, "bodies": 8192}, QuarantineMails: 2, QuarantineBytes: 777}, nil
	})
	base := serve(t, m)

	code, body := get(t, base+"/metrics")
	if code != 200 {
		t.Fatalf("/metrics: status %d", code)
	}
	for _, name := range allMetrics {
		if !regexp.MustCompile(`(?m)^# TYPE ` + name + ` `).MatchString(body) {
			t.Errorf("/metrics does not list %s", name)
		}
	}
	for _, want := range []string{
		`mailgw_mails_received_total{mode="smtp"} 2`,
		`mailgw_mails_received_total{mode="replay"} 0`,
		`mailgw_mails_quarantined_total{reason="no-rule"} 1`,
		`mailgw_events_total{topic="org.debian.dev.dak.package.upload"} 1`,
		`mailgw_spool_depth 3`,
		`mailgw_journal_rows 42`,
		`mailgw_journal_last_seq_id 41`,
		`mailgw_pipeline_up 0`,
		`mailgw_bus_drops_total 7`,
		`mailgw_bus_subscribers 2`,
		`mailgw_journal_bytes{file="bodies"} 8192`,
		`mailgw_journal_bytes{file="database"} 4096`,
		`mailgw_quarantine_mails 2`,
		`mailgw_quarantine_bytes 777`,
		`mailgw_probe_errors{probe="disk"} 0`,
		`mailgw_web_requests_total{code="400",handler="search"} 1`,
		`mailgw_web_request_duration_seconds_count{handler="search"} 1`,
		`mailgw_web_streams 1`,
		`mailgw_web_streams_refused_total 1`,
		`mailgw_web_streams_dropped_total{reason="slow"} 1`,
		`mailgw_web_stream_events_skipped_total 3`,
		`mailgw_web_package_index_behind 12`,
	} {
		if !strings.Contains(body, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	age := regexp.MustCompile(`(?m)^mailgw_spool_oldest_age_seconds (\S+)$`).FindStringSubmatch(body)
	if age == nil || !strings.HasPrefix(age[1], "9") {
		t.Errorf("oldest age = %v, want about 90", age)
	}
}

func TestProbeError(t *testing.T) {
	m := New()
	m.SetSpoolProbe(func() (int, time.Time, error) { return 0, time.Time{}, errors.New("gone") })
	base := serve(t, m)
	_, body := get(t, base+"/metrics")
	if !strings.Contains(body, `mailgw_probe_errors{probe="spool"} 1`) {
		t.Errorf("spool probe error not reported")
	}
	if strings.Contains(body, "\nmailgw_spool_depth ") {
		t.Errorf("spool depth reported despite probe error")
	}
}

func TestHealthz(t *testing.T) {
	m := New()
	base := serve(t, m)
	if code, _ := get(t, base+"/healthz"); code != http.StatusServiceUnavailable {
		t.Errorf("healthz before start: %d, want 503", code)
	}
	m.SetHealthy(true)
	if code, body := get(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("healthz running: %d %q", code, body)
	}
	m.SetFailing("amqp", errors.New("broker unreachable"))
	if code, body := get(t, base+"/healthz"); code != http.StatusServiceUnavailable || body != "amqp: broker unreachable\n" {
		t.Errorf("healthz with a failing component: %d %q", code, body)
	}
	m.SetFailing("amqp", nil)
	if code, body := get(t, base+"/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("healthz once it works again: %d %q", code, body)
	}
	m.SetHealthy(false)
	if code, _ := get(t, base+"/healthz"); code != http.StatusServiceUnavailable {
		t.Errorf("healthz after stop: %d, want 503", code)
	}
}

func TestNilSafe(t *testing.T) {
	var m *Metrics
	m.Received(ModeLMTP)
	m.Spooled()
	m.Quarantined("x")
	m.Event("t")
	m.Published()
	m.PublishError()
	m.Duplicate()
	m.BusDrop()
	m.SMTPReply(451)
	m.ConnOpened("smtp")
	m.ConnClosed("smtp")
	m.ConnRejected()
	m.SetHealthy(true)
	m.SetSpoolProbe(nil)
	m.SetJournalProbe(nil)
	m.SetBusDropProbe(nil)
	m.SetBusSubscribersProbe(nil)
	if m.Healthy() {
		t.Error("nil Metrics reports healthy")
	}
}

// TestHealthzReasons: /healthz is 503 with one line per reason (pipeline
// down, a failing component, an old spool) and 200 once they are gone;
// /livez stays 200.
func TestHealthzReasons(t *testing.T) {
	m := New()
	h := m.Handler()
	get := func(path string) (int, string) {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", path, nil))
		return w.Code, w.Body.String()
	}
	if c, body := get("/healthz"); c != 503 || body != "pipeline: not running\n" {
		t.Errorf("before start: %d %q", c, body)
	}
	m.SetHealthy(true)
	oldest := time.Now().Add(-time.Hour)
	m.SetSpoolProbe(func() (int, time.Time, error) { return 3, oldest, nil })
	m.SetMaxSpoolAge(10 * time.Minute)
	m.SetFailing("journal", errors.New("disk full"))
	c, body := get("/healthz")
	if c != 503 || !strings.Contains(body, "journal: disk full\n") || !strings.Contains(body, "spool: oldest of 3 mails waiting for 1h0m0s (max_spool_age 10m0s)") {
		t.Errorf("failing: %d %q", c, body)
	}
	if c, _ := get("/livez"); c != 200 {
		t.Errorf("/livez = %d", c)
	}
	m.SetFailing("journal", nil)
	oldest = time.Now()
	if c, body := get("/healthz"); c != 200 || body != "ok\n" {
		t.Errorf("recovered: %d %q", c, body)
	}
}
