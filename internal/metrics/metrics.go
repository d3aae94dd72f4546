// Package metrics holds mailgw's Prometheus metrics and the admin HTTP
// listener that serves them (/metrics) with a health check (/healthz).
//
// Every method is safe on a nil *Metrics, so packages that count things
// (smtpd, pipeline, spool) need no "metrics enabled?" branches and unit
// tests may pass nil. Gauges that describe state on disk (spool depth, age
// of the oldest spooled mail, journal size) are computed on scrape from
// probes the daemon installs with SetSpoolProbe and SetJournalProbe.
// docs/monitoring.md documents every metric.
package metrics

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Intake modes, the values of the mode label of mailgw_mails_received_total.
const (
	ModeSMTP    = "smtp"
	ModeLMTP    = "lmtp"
	ModeDeliver = "deliver-pickup" // spooled by "mailgw deliver" or an MTA's Maildir delivery
	ModeReplay  = "replay"
)

// Metrics is the set of mailgw's metrics, registered in its own registry.
type Metrics struct {
	reg *prometheus.Registry

	received     *prometheus.CounterVec
	spooled      prometheus.Counter
	quarantined  *prometheus.CounterVec
	events       *prometheus.CounterVec
	published    prometheus.Counter
	publishErrs  prometheus.Counter
	duplicates   prometheus.Counter
	busDrops     atomic.Uint64
	smtpReplies  *prometheus.CounterVec
	smtpConns    *prometheus.GaugeVec
	smtpRejected prometheus.Counter

	healthy atomic.Bool
	health  health
	probes  *probes
	amqp    amqpProbe
	web     *webMetrics
}

// New makes the metrics and registers them, with Go runtime and process
// collectors, in a fresh registry.
func New() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailgw_mails_received_total",
			Help: "Mails received, by intake mode (smtp, lmtp, deliver-pickup, replay).",
		}, []string{"mode"}),
		spooled: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mailgw_mails_spooled_total",
			Help: "Mails written to the spool and fsynced (acknowledged) by this process.",
		}),
		quarantined: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailgw_mails_quarantined_total",
			Help: "Mails moved to quarantine, by reason class.",
		}, []string{"reason"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailgw_events_total",
			Help: "Events produced from mails and journaled, by full topic.",
		}, []string{"topic"}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mailgw_published_total",
			Help: "Envelopes handed to the ZeroMQ PUB socket.",
		}),
		publishErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mailgw_publish_errors_total",
			Help: "Failed attempts to publish an envelope (it stays pending in the journal).",
		}),
		duplicates: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mailgw_duplicates_total",
			Help: "Events whose msg_id was already journaled (not published again).",
		}),
		smtpReplies: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailgw_smtp_data_replies_total",
			Help: "Final replies to SMTP/LMTP transactions (per recipient for LMTP), by reply code.",
		}, []string{"code"}),
		smtpConns: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "mailgw_smtp_connections",
			Help: "Open SMTP/LMTP connections, by protocol.",
		}, []string{"protocol"}),
		smtpRejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mailgw_smtp_connections_rejected_total",
			Help: "Connections turned away with 421 (connection limit or shutting down).",
		}),
		probes: &probes{},
	}
	m.reg.MustRegister(m.received, m.spooled, m.quarantined, m.events, m.published,
		m.publishErrs, m.duplicates, m.smtpReplies, m.smtpConns, m.smtpRejected,
		newStateCollector(m), newAMQPCollector(m),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.web = newWebMetrics(m.reg)
	for _, mode := range []string{ModeSMTP, ModeLMTP, ModeDeliver, ModeReplay} {
		m.received.WithLabelValues(mode) // export zeros so dashboards see every mode
	}
	return m
}

// Registry is the registry the metrics live in.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Received counts one mail received in mode (one of the Mode constants).
func (m *Metrics) Received(mode string) {
	if m != nil {
		m.received.WithLabelValues(mode).Inc()
	}
}

// Spooled counts one mail fsynced into the spool.
func (m *Metrics) Spooled() {
	if m != nil {
		m.spooled.Inc()
	}
}

// Quarantined counts one mail quarantined for a reason class (a short
// fixed word, pipeline.QuarantineKind: "no-rule", "untrusted", …; never
// free text).
func (m *Metrics) Quarantined(reason string) {
	if m != nil {
		m.quarantined.WithLabelValues(reason).Inc()
	}
}

// Event counts one event journaled under topic.
func (m *Metrics) Event(topic string) {
	if m != nil {
		m.events.WithLabelValues(topic).Inc()
	}
}

// Published counts one envelope handed to the bus.
func (m *Metrics) Published() {
	if m != nil {
		m.published.Inc()
	}
}

// PublishError counts one failed publish attempt.
func (m *Metrics) PublishError() {
	if m != nil {
		m.publishErrs.Inc()
	}
}

// Duplicate counts one event whose msg_id was already journaled.
func (m *Metrics) Duplicate() {
	if m != nil {
		m.duplicates.Inc()
	}
}

// BusDrop counts one envelope dropped by the bus.
func (m *Metrics) BusDrop() {
	if m != nil {
		m.busDrops.Add(1)
	}
}

// SMTPReply counts one final DATA reply with the given code.
func (m *Metrics) SMTPReply(code int) {
	if m != nil {
		m.smtpReplies.WithLabelValues(strconv.Itoa(code)).Inc()
	}
}

// ConnOpened and ConnClosed track open connections for protocol ("smtp"
// or "lmtp").
func (m *Metrics) ConnOpened(protocol string) {
	if m != nil {
		m.smtpConns.WithLabelValues(protocol).Inc()
	}
}

// ConnClosed is the counterpart of ConnOpened.
func (m *Metrics) ConnClosed(protocol string) {
	if m != nil {
		m.smtpConns.WithLabelValues(protocol).Dec()
	}
}

// ConnRejected counts a connection turned away with 421.
func (m *Metrics) ConnRejected() {
	if m != nil {
		m.smtpRejected.Inc()
	}
}

// SetHealthy sets what /healthz reports: true while the pipeline runs.
func (m *Metrics) SetHealthy(ok bool) {
	if m != nil {
		m.healthy.Store(ok)
	}
}

// Healthy reports the last value given to SetHealthy.
func (m *Metrics) Healthy() bool { return m != nil && m.healthy.Load() }

// SpoolProbe reports the number of mails waiting in the spool and the
// modification time of the oldest (zero when the spool is empty).
type SpoolProbe func() (depth int, oldest time.Time, err error)

// JournalProbe reports the journal's row count and its last seq_id.
type JournalProbe func() (rows, lastSeqID int64, err error)

// SetSpoolProbe installs the function the spool gauges are computed from
// on each scrape.
func (m *Metrics) SetSpoolProbe(p SpoolProbe) {
	if m != nil {
		m.probes.mu.Lock()
		m.probes.spool = p
		m.probes.mu.Unlock()
	}
}

// SetBusDropProbe installs a function returning the drops the bus
// publisher counted itself; mailgw_bus_drops_total adds it to BusDrop's.
func (m *Metrics) SetBusDropProbe(p func() uint64) {
	if m != nil {
		m.probes.mu.Lock()
		m.probes.drops = p
		m.probes.mu.Unlock()
	}
}

// SetBusSubscribersProbe installs a function returning how many
// subscribers are connected to the bus (mailgw_bus_subscribers).
func (m *Metrics) SetBusSubscribersProbe(p func() int) {
	if m != nil {
		m.probes.mu.Lock()
		m.probes.subs = p
		m.probes.mu.Unlock()
	}
}

// SetJournalProbe installs the function the journal gauges are computed
// from on each scrape.
func (m *Metrics) SetJournalProbe(p JournalProbe) {
	if m != nil {
		m.probes.mu.Lock()
		m.probes.journal = p
		m.probes.mu.Unlock()
	}
}

// SetSpoolRefusedProbe installs a function returning how many spool
// entries were refused and left in place
// (mailgw_spool_refused_entries_total).
func (m *Metrics) SetSpoolRefusedProbe(p func() uint64) {
	if m != nil {
		m.probes.mu.Lock()
		m.probes.refused = p
		m.probes.mu.Unlock()
	}
}

// SetJournalDamageProbe installs a function returning how many damaged
// journal bodies queries left out (mailgw_journal_damaged_bodies_total).
func (m *Metrics) SetJournalDamageProbe(p func() uint64) {
	if m != nil {
		m.probes.mu.Lock()
		m.probes.damaged = p
		m.probes.mu.Unlock()
	}
}

// SetBusRefusedProbe installs a function returning how many bus
// connections were closed because max_subscribers were connected
// (mailgw_bus_subscribers_refused_total).
func (m *Metrics) SetBusRefusedProbe(p func() uint64) {
	if m != nil {
		m.probes.mu.Lock()
		m.probes.busRefused = p
		m.probes.mu.Unlock()
	}
}

// DiskUsage is what a DiskProbe reports: the bytes on disk of each of
// the journal's files (by name: "database", "wal", "bodies"), and the
// quarantined mails and the bytes of the quarantine's files.
type DiskUsage struct {
	Journal         map[string]int64
	QuarantineMails int
	QuarantineBytes int64
}

// DiskProbe reports the disk usage gauges.
type DiskProbe func() (DiskUsage, error)

// SetDiskProbe installs the function the journal-bytes and quarantine
// gauges are computed from on each scrape.
func (m *Metrics) SetDiskProbe(p DiskProbe) {
	if m != nil {
		m.probes.mu.Lock()
		m.probes.disk = p
		m.probes.mu.Unlock()
	}
}

// SetReplayProbe installs a function returning the replay endpoint's
// connected clients and the connections it evicted and refused
// (mailgw_replay_clients, mailgw_replay_connections_closed_total).
func (m *Metrics) SetReplayProbe(p func() (clients int, evicted, refused uint64)) {
	if m != nil {
		m.probes.mu.Lock()
		m.probes.replay = p
		m.probes.mu.Unlock()
	}
}

// SetControlProbe installs a function returning the control socket's
// backfills running now and those started and refused so far
// (mailgw_control_jobs, mailgw_control_jobs_total).
func (m *Metrics) SetControlProbe(p func() (running int, started, refused int64)) {
	if m != nil {
		m.probes.mu.Lock()
		m.probes.control = p
		m.probes.mu.Unlock()
	}
}

type probes struct {
	replay     func() (int, uint64, uint64)
	control    func() (int, int64, int64)
	busRefused func() uint64
	refused    func() uint64
	damaged    func() uint64
	mu         sync.Mutex
	spool      SpoolProbe
	disk       DiskProbe
	journal    JournalProbe
	drops      func() uint64
	subs       func() int
}
