package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// AMQPStatus is what the AMQP outlet reports on each scrape.
type AMQPStatus struct {
	// Connected is true while the outlet has a connection to the broker.
	Connected bool
	// Published, Confirmed, Nacked and Skipped count messages since the
	// process started: sent, confirmed by the broker, refused by it (and
	// sent again), and envelopes that could not be made into a message.
	Published, Confirmed, Nacked, Skipped uint64
	// Connects and Failures count connections made, and connection
	// attempts or connections that failed.
	Connects, Failures uint64
	// Mark is the outlet's watermark (every seq_id up to it confirmed);
	// Backlog the journaled envelopes above it; BacklogErr says the
	// journal could not be read for it.
	Mark, Backlog int64
	BacklogErr    error
}

// AMQPProbe reports the AMQP outlet's state.
type AMQPProbe func() AMQPStatus

type amqpProbe struct {
	mu sync.Mutex
	p  AMQPProbe
}

// SetAMQPProbe installs the function the mailgw_amqp_* metrics are read
// from on each scrape; without one (AMQP off) they are absent.
func (m *Metrics) SetAMQPProbe(p AMQPProbe) {
	if m != nil {
		m.amqp.mu.Lock()
		m.amqp.p = p
		m.amqp.mu.Unlock()
	}
}

// amqpCollector exports the AMQP outlet's state (docs/monitoring.md).
type amqpCollector struct {
	m                                                      *Metrics
	up, pub, conf, nack, skip, conns, fails, mark, backlog *prometheus.Desc
}

func newAMQPCollector(m *Metrics) *amqpCollector {
	d := func(name, help string) *prometheus.Desc { return prometheus.NewDesc(name, help, nil, nil) }
	return &amqpCollector{
		m:       m,
		up:      d("mailgw_amqp_connected", "1 while the AMQP outlet is connected to the broker, else 0."),
		pub:     d("mailgw_amqp_published_total", "Messages sent to the AMQP broker (a resend counts again)."),
		conf:    d("mailgw_amqp_confirmed_total", "Messages the AMQP broker confirmed (publisher confirms)."),
		nack:    d("mailgw_amqp_nacked_total", "Messages the AMQP broker refused (nack); they are sent again."),
		skip:    d("mailgw_amqp_skipped_total", "Journaled envelopes that could not be made into an AMQP message (damaged); logged."),
		conns:   d("mailgw_amqp_connections_total", "Connections made to the AMQP broker."),
		fails:   d("mailgw_amqp_connection_failures_total", "Connection attempts that failed and connections that broke."),
		mark:    d("mailgw_amqp_confirmed_seq_id", "The AMQP outlet's watermark: every seq_id up to it is confirmed by the broker."),
		backlog: d("mailgw_amqp_backlog", "Journaled envelopes the AMQP broker has not confirmed yet."),
	}
}

// Describe implements prometheus.Collector.
func (c *amqpCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.up, c.pub, c.conf, c.nack, c.skip, c.conns, c.fails, c.mark, c.backlog} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *amqpCollector) Collect(ch chan<- prometheus.Metric) {
	c.m.amqp.mu.Lock()
	p := c.m.amqp.p
	c.m.amqp.mu.Unlock()
	if p == nil {
		return
	}
	st := p()
	up := 0.0
	if st.Connected {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up)
	for _, v := range []struct {
		d *prometheus.Desc
		n uint64
	}{{c.pub, st.Published}, {c.conf, st.Confirmed}, {c.nack, st.Nacked}, {c.skip, st.Skipped},
		{c.conns, st.Connects}, {c.fails, st.Failures}} {
		ch <- prometheus.MustNewConstMetric(v.d, prometheus.CounterValue, float64(v.n))
	}
	ch <- prometheus.MustNewConstMetric(c.mark, prometheus.GaugeValue, float64(st.Mark))
	if st.BacklogErr == nil {
		ch <- prometheus.MustNewConstMetric(c.backlog, prometheus.GaugeValue, float64(st.Backlog))
	}
}
