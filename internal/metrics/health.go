package metrics

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Readiness. /livez answers 200 while the process serves HTTP at all
// (the liveness probe: restart when it fails); /healthz answers 200 only
// while serve is doing its job (the readiness probe: alert, route mail
// elsewhere): the pipeline runs, no component reports a failure
// (SetFailing: journal writes, spool writes, quarantine moves) and the
// oldest mail in the spool is younger than SetMaxSpoolAge's bound.
// Otherwise it answers 503 with one line per reason.

// health is the failure state behind /healthz.
type health struct {
	mu      sync.Mutex
	failing map[string]string // component → the last error
	maxAge  time.Duration
}

// SetFailing records that component (journal, spool, quarantine …)
// fails with err, or works again when err is nil.
func (m *Metrics) SetFailing(component string, err error) {
	if m == nil {
		return
	}
	h := &m.health
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		delete(h.failing, component)
		return
	}
	if h.failing == nil {
		h.failing = map[string]string{}
	}
	h.failing[component] = err.Error()
}

// SetMaxSpoolAge makes /healthz fail while the oldest spooled mail is
// older than d (0: no bound).
func (m *Metrics) SetMaxSpoolAge(d time.Duration) {
	if m != nil {
		m.health.mu.Lock()
		m.health.maxAge = d
		m.health.mu.Unlock()
	}
}

// NotReady returns the reasons /healthz fails, sorted; none when ready.
func (m *Metrics) NotReady() []string {
	if m == nil {
		return []string{"no metrics"}
	}
	var out []string
	if !m.Healthy() {
		out = append(out, "pipeline: not running")
	}
	h := &m.health
	h.mu.Lock()
	for c, e := range h.failing {
		out = append(out, fmt.Sprintf("%s: %s", c, e))
	}
	maxAge := h.maxAge
	h.mu.Unlock()
	if maxAge > 0 {
		m.probes.mu.Lock()
		sp := m.probes.spool
		m.probes.mu.Unlock()
		if sp != nil {
			if depth, oldest, err := sp(); err != nil {
				out = append(out, fmt.Sprintf("spool: cannot list: %v", err))
			} else if age := time.Since(oldest); depth > 0 && !oldest.IsZero() && age > maxAge {
				out = append(out, fmt.Sprintf("spool: oldest of %d mails waiting for %s (max_spool_age %s)",
					depth, age.Round(time.Second), maxAge))
			}
		}
	}
	sort.Strings(out)
	return out
}

// healthz answers /healthz.
func (m *Metrics) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if reasons := m.NotReady(); len(reasons) > 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(strings.Join(reasons, "\n") + "\n"))
		return
	}
	w.Write([]byte("ok\n"))
}

// livez answers /livez.
func livez(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("alive\n"))
}
