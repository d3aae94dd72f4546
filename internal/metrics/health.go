package metrics

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
)

// /healthz answers 200 "ok" while the pipeline runs and no component
// reports a failure (SetFailing: the AMQP outlet when its broker cannot
// be reached); otherwise 503 with one line per reason.

// health is the failure state behind /healthz.
type health struct {
	mu      sync.Mutex
	failing map[string]string // component → the last error
}

// SetFailing records that component fails with err, or works again when
// err is nil.
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
	h.mu.Unlock()
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
