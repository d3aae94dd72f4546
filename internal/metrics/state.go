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
	ready, refused, damaged, busRefused               *prometheus.Desc
	replayClients, replayClosed                       *prometheus.Desc
	controlJobs, controlJobsTotal                     *prometheus.Desc
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
			"1 while the pipeline runs, else 0.", nil, nil),
		ready: prometheus.NewDesc("mailgw_ready",
			"1 while /healthz answers 200 (pipeline running, no failing component, spool not too old), else 0.", nil, nil),
		replayClients: prometheus.NewDesc("mailgw_replay_clients",
			"Clients connected to the replay endpoint.", nil, nil),
		replayClosed: prometheus.NewDesc("mailgw_replay_connections_closed_total",
			"Replay endpoint connections closed by its limits: evicted (the longest idle, to make room for a new client) or refused (over replay_max_clients_per_address, or every connection busy).", []string{"why"}, nil),
		controlJobs: prometheus.NewDesc("mailgw_control_jobs",
			"Backfills (mailgw replay over the control socket) serve runs now.", nil, nil),
		controlJobsTotal: prometheus.NewDesc("mailgw_control_jobs_total",
			"Control socket connections by result: started (a backfill began) or refused (over the connection limit, or another backfill still running).", []string{"result"}, nil),
		busRefused: prometheus.NewDesc("mailgw_bus_subscribers_refused_total",
			"Bus connections closed at once because max_subscribers were connected.", nil, nil),
		damaged: prometheus.NewDesc("mailgw_journal_damaged_bodies_total",
			"Journal bodies found damaged (CRC-32C mismatch, cut short) and left out of replay replies or republishing; mailgw journal check lists them.", nil, nil),
		refused: prometheus.NewDesc("mailgw_spool_refused_entries_total",
			"Recycled tmp/ files found replaced by a symlink, FIFO, hard link or another user's file and left alone.", nil, nil),
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
	for _, d := range []*prometheus.Desc{c.depth, c.oldest, c.rows, c.lastSeq, c.up, c.pe, c.drops, c.subs, c.ready, c.refused, c.damaged, c.busRefused, c.replayClients, c.replayClosed, c.controlJobs, c.controlJobsTotal, c.jbytes, c.qmails, c.qbytes} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.probes.mu.Lock()
	sp, jp, dp, subs, rp := c.m.probes.spool, c.m.probes.journal, c.m.probes.drops, c.m.probes.subs, c.m.probes.refused
	dmg, br, rep := c.m.probes.damaged, c.m.probes.busRefused, c.m.probes.replay
	ctl := c.m.probes.control
	disk := c.m.probes.disk
	c.m.probes.mu.Unlock()

	if rep != nil {
		clients, evicted, refused := rep()
		ch <- prometheus.MustNewConstMetric(c.replayClients, prometheus.GaugeValue, float64(clients))
		ch <- prometheus.MustNewConstMetric(c.replayClosed, prometheus.CounterValue, float64(evicted), "evicted")
		ch <- prometheus.MustNewConstMetric(c.replayClosed, prometheus.CounterValue, float64(refused), "refused")
	}
	if ctl != nil {
		running, started, refused := ctl()
		ch <- prometheus.MustNewConstMetric(c.controlJobs, prometheus.GaugeValue, float64(running))
		ch <- prometheus.MustNewConstMetric(c.controlJobsTotal, prometheus.CounterValue, float64(started), "started")
		ch <- prometheus.MustNewConstMetric(c.controlJobsTotal, prometheus.CounterValue, float64(refused), "refused")
	}
	if br != nil {
		ch <- prometheus.MustNewConstMetric(c.busRefused, prometheus.CounterValue, float64(br()))
	}
	if dmg != nil {
		ch <- prometheus.MustNewConstMetric(c.damaged, prometheus.CounterValue, float64(dmg()))
	}
	if rp != nil {
		ch <- prometheus.MustNewConstMetric(c.refused, prometheus.CounterValue, float64(rp()))
	}
	ready := 0.0
	if len(c.m.NotReady()) == 0 {
		ready = 1
	}
	ch <- prometheus.MustNewConstMetric(c.ready, prometheus.GaugeValue, ready)

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
