package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// webMetrics are the web listener's (internal/web).
type webMetrics struct {
	requests      *prometheus.CounterVec
	duration      *prometheus.HistogramVec
	streams       prometheus.Gauge
	refused       prometheus.Counter
	dropped       *prometheus.CounterVec
	skipped       prometheus.Counter
	packageBehind prometheus.Gauge
}

func newWebMetrics(reg *prometheus.Registry) *webMetrics {
	w := &webMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailgw_web_requests_total",
			Help: "Requests the web listener answered, by handler and HTTP status code.",
		}, []string{"handler", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "mailgw_web_request_duration_seconds",
			Help:    "Time to answer a web request (a live stream: how long it was open), by handler.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 5, 60, 600, 3600},
		}, []string{"handler"}),
		streams: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mailgw_web_streams",
			Help: "Live streams (/events) open.",
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mailgw_web_streams_refused_total",
			Help: "Live streams refused with 503 because web.max_streams were open.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "mailgw_web_streams_dropped_total",
			Help: "Live streams that ended other than by the server stopping: slow (the reader took nothing for web.stream_write_timeout) or closed (by the client).",
		}, []string{"reason"}),
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "mailgw_web_stream_events_skipped_total",
			Help: "Events live streams skipped because their readers fell behind the events the listener holds (the page says so).",
		}),
		packageBehind: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "mailgw_web_package_index_behind",
			Help: "Journaled envelopes the journal's package index has yet to take in.",
		}),
	}
	reg.MustRegister(w.requests, w.duration, w.streams, w.refused, w.dropped, w.skipped, w.packageBehind)
	return w
}

// WebRequest counts one request the web listener answered with code,
// for handler, in d.
func (m *Metrics) WebRequest(handler string, code int, d time.Duration) {
	if m != nil {
		m.web.requests.WithLabelValues(handler, strconv.Itoa(code)).Inc()
		m.web.duration.WithLabelValues(handler).Observe(d.Seconds())
	}
}

// WebStreams adds delta to the live streams open.
func (m *Metrics) WebStreams(delta int) {
	if m != nil {
		m.web.streams.Add(float64(delta))
	}
}

// WebStreamRefused counts a live stream refused for the limit.
func (m *Metrics) WebStreamRefused() {
	if m != nil {
		m.web.refused.Inc()
	}
}

// WebStreamDropped counts a live stream that ended, for reason ("slow" or
// "closed").
func (m *Metrics) WebStreamDropped(reason string) {
	if m != nil {
		m.web.dropped.WithLabelValues(reason).Inc()
	}
}

// WebStreamSkipped counts events a slow live stream skipped.
func (m *Metrics) WebStreamSkipped(events int64) {
	if m != nil {
		m.web.skipped.Add(float64(events))
	}
}

// WebPackageIndexBehind sets how far the package index is behind.
func (m *Metrics) WebPackageIndexBehind(n int64) {
	if m != nil {
		m.web.packageBehind.Set(float64(n))
	}
}
