package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// stateCollector computes the gauges that describe state (spool, journal,
// health) at scrape time, so they are never stale.
type stateCollector struct {
	m                                                 *Metrics
	depth, oldest, rows, lastSeq, up, pe, drops, subs *prometheus.Desc
	jbytes, qmails, qbytes                            *prometheus.Desc
}

func newStateCollector(m *Metrics) *stateCollector {
	return &stateCollector{
		m: m,
		depth: prometheus.NewDesc("mailgw_spool_depth",
			"Mails in the spool waiting to be processed (new/ and cur/).", nil, nil),
		oldest: prometheus.NewDesc("mailgw_spool_oldest_age_seconds",
			"Age of the oldest mail waiting in the spool (0 when empty).", nil, nil),
		rows: prometheus.NewDesc("mailgw_journal_rows",
			"Envelopes stored in the journal.", nil, nil),
		lastSeq: prometheus.NewDesc("mailgw_journal_last_seq_id",
			"Highest seq_id assigned by the journal.", nil, nil),
		up: prometheus.NewDesc("mailgw_pipeline_up",
			"1 while the pipeline runs (what /healthz reports), else 0.", nil, nil),
		drops: prometheus.NewDesc("mailgw_bus_drops_total",
			"Envelopes the bus dropped (a subscriber's queue was at the high-water mark); replay can fill the gap.", nil, nil),
		subs: prometheus.NewDesc("mailgw_bus_subscribers",
			"Subscribers connected to the bus PUB socket.", nil, nil),
		jbytes: prometheus.NewDesc("mailgw_journal_bytes",
			"Bytes the journal's files take on disk (blocks, so the pruned part of the sparse bodies file does not count), by file: database, wal, bodies.", []string{"file"}, nil),
		qmails: prometheus.NewDesc("mailgw_quarantine_mails",
			"Mails in quarantine.", nil, nil),
		qbytes: prometheus.NewDesc("mailgw_quarantine_bytes",
			"Bytes of the quarantine directory's files (mails and their reason files).", nil, nil),
		pe: prometheus.NewDesc("mailgw_probe_errors",
			"1 when a state probe failed on this scrape, by probe.", []string{"probe"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.depth, c.oldest, c.rows, c.lastSeq, c.up, c.pe, c.drops, c.subs, c.jbytes, c.qmails, c.qbytes} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.probes.mu.Lock()
	sp, jp, dp, subs := c.m.probes.spool, c.m.probes.journal, c.m.probes.drops, c.m.probes.subs
	disk := c.m.probes.disk
	c.m.probes.mu.Unlock()

	if disk != nil {
		diskErr := 0.0
		if u, err := disk(); err != nil {
			diskErr = 1
		} else {
			for file, n := range u.Journal {
				ch <- prometheus.MustNewConstMetric(c.jbytes, prometheus.GaugeValue, float64(n), file)
			}
			ch <- prometheus.MustNewConstMetric(c.qmails, prometheus.GaugeValue, float64(u.QuarantineMails))
			ch <- prometheus.MustNewConstMetric(c.qbytes, prometheus.GaugeValue, float64(u.QuarantineBytes))
		}
		ch <- prometheus.MustNewConstMetric(c.pe, prometheus.GaugeValue, diskErr, "disk")
	}

	if subs != nil {
		ch <- prometheus.MustNewConstMetric(c.subs, prometheus.GaugeValue, float64(subs()))
	}

	drops := c.m.busDrops.Load()
	if dp != nil {
		drops += dp()
	}
	ch <- prometheus.MustNewConstMetric(c.drops, prometheus.CounterValue, float64(drops))

	up := 0.0
	if c.m.Healthy() {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up)

	spoolErr, journalErr := 0.0, 0.0
	if sp != nil {
		depth, oldest, err := sp()
		if err != nil {
			spoolErr = 1
		} else {
			age := 0.0
			if !oldest.IsZero() && depth > 0 {
				age = time.Since(oldest).Seconds()
				if age < 0 {
					age = 0
				}
			}
			ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(depth))
			ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age)
		}
	}
	if jp != nil {
		rows, last, err := jp()
		if err != nil {
			journalErr = 1
		} else {
			ch <- prometheus.MustNewConstMetric(c.rows, prometheus.GaugeValue, float64(rows))
			ch <- prometheus.MustNewConstMetric(c.lastSeq, prometheus.GaugeValue, float64(last))
		}
	}
	ch <- prometheus.MustNewConstMetric(c.pe, prometheus.GaugeValue, spoolErr, "spool")
	ch <- prometheus.MustNewConstMetric(c.pe, prometheus.GaugeValue, journalErr, "journal")
}
