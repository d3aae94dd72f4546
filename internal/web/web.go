// Package web is serve's read-only web listener ([web] listen,
// docs/web.md): the live view of events at / (Server-Sent Events fed by
// the publisher, resuming by seq_id after a reconnect; a plain paged list
// without JavaScript), one envelope with its signature status at /event,
// the datagrepper-style history API /v2/search and /v2/id, and /stats,
// events per topic per hour or day as an SVG chart and as JSON.
//
// Everything is answered from the journal (internal/journal, whose
// search indexes bound each query's cost) and from Hub, which the
// publisher feeds after journaling. The listener only answers GET and
// HEAD, sends a strict Content-Security-Policy, serves its scripts and
// styles from the binary (no CDN, no external font), holds no secret, and
// bounds what each request may cost: the rows a query examines, the
// queries run at once, the live streams and the memory of each.
package web

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/debian/mailgw/bus"
	"github.com/debian/mailgw/internal/journal"
)

// Journal is what the web listener reads: *journal.Journal.
type Journal interface {
	Search(q journal.Query) (*journal.Found, error)
	ByMsgID(msgID string) (journal.Hit, bool, error)
	After(seq int64, limit int) ([]journal.Entry, error)
	LastSeq() (int64, error)
	Topics() ([]journal.TopicCount, error)
	Hours(lo, hi int64) ([]journal.HourCount, error)
	IndexPackages(limit int) (int, error)
	PackageIndexBehind() (int64, error)
}

// Metrics counts what the listener does: *metrics.Metrics, whose methods
// are safe on nil.
type Metrics interface {
	WebRequest(handler string, code int, d time.Duration)
	WebStreams(delta int)
	WebStreamRefused()
	WebStreamDropped(reason string)
	WebStreamSkipped(events int64)
	WebPackageIndexBehind(n int64)
}

// Options configure a Server.
type Options struct {
	Journal Journal
	// Hub is the live feed; New makes one when nil.
	Hub *Hub
	// Verify checks an envelope's signature and returns the signer's
	// fingerprint; nil means signatures are not checked (and the detail
	// view says so).
	Verify func(env *bus.Envelope) (string, error)
	// MaxStreams, MaxScan, MaxBodies and StreamWriteTimeout are [web]'s
	// max_streams, max_scan, max_bodies and stream_write_timeout.
	MaxStreams         int
	MaxScan, MaxBodies int
	StreamWriteTimeout time.Duration
	Logger             *slog.Logger
	Metrics            Metrics
	// Now is the clock for windows relative to now; nil means time.Now.
	Now func() time.Time
}

// Server is the web listener.
type Server struct {
	o   Options
	hub *Hub
	// streams counts the live streams open (at most o.MaxStreams).
	streams chan struct{}
	// queries bounds the history queries run at once, catchups the
	// live streams reading the journal at once.
	queries, catchups chan struct{}
	mux               *http.ServeMux
}

// maxQueries bounds the history queries (search, pages, stats) that run
// at once; the others wait for one to end, up to queryWait.
const (
	maxQueries = 4
	queryWait  = 5 * time.Second
)

// New returns a Server.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Metrics == nil {
		o.Metrics = nopMetrics{}
	}
	if o.Hub == nil {
		o.Hub = NewHub()
	}
	s := &Server{o: o, hub: o.Hub, streams: make(chan struct{}, max(o.MaxStreams, 1)),
		queries: make(chan struct{}, maxQueries), catchups: make(chan struct{}, maxCatchUps)}
	mux := http.NewServeMux()
	for _, r := range []struct {
		pattern, name string
		h             func(http.ResponseWriter, *http.Request) int
	}{
		{"GET /{$}", "live", s.serveLive},
		{"GET /event", "event", s.serveEvent},
		{"GET /events", "stream", s.serveStream},
		{"GET /stats", "stats", s.serveStats},
		{"GET /stats.json", "stats", s.serveStatsJSON},
		{"GET /stats.svg", "stats", s.serveStatsSVG},
		{"GET /v2/search", "search", s.serveSearch},
		{"GET /v2/search/", "search", s.serveSearch},
		{"GET /v2/id", "id", s.serveID},
		{"GET /v2/id/", "id", s.serveID},
		{"GET /static/{file}", "static", serveStatic},
	} {
		mux.Handle(r.pattern, s.wrap(r.name, r.h))
	}
	mux.Handle("/", s.wrap("other", func(w http.ResponseWriter, r *http.Request) int {
		return s.errorPage(w, r, http.StatusNotFound, "no such page")
	}))
	s.mux = mux
	return s
}

// Hub returns the live feed the publisher feeds.
func (s *Server) Hub() *Hub { return s.hub }

// Handler returns the listener's handler.
func (s *Server) Handler() http.Handler { return s.mux }

// headers are sent with every response.
var headers = map[string]string{
	// Only the listener's own scripts, styles and connections; inline
	// SVG is markup, not a script or a style.
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
		"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
	"X-Content-Type-Options":       "nosniff",
	"Referrer-Policy":              "no-referrer",
	"X-Frame-Options":              "DENY",
	"Cross-Origin-Opener-Policy":   "same-origin",
	"Cross-Origin-Resource-Policy": "same-site",
}

// maxQueryBytes bounds a request's query string.
const maxQueryBytes = 4096

// wrap adds the security headers, refuses what no GET needs, counts the
// request and logs a failure.
func (s *Server) wrap(name string, h func(http.ResponseWriter, *http.Request) int) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		for k, v := range headers {
			w.Header().Set(k, v)
		}
		var code int
		switch {
		case r.Method != http.MethodGet && r.Method != http.MethodHead:
			w.Header().Set("Allow", "GET, HEAD")
			code = s.errorPage(w, r, http.StatusMethodNotAllowed, "only GET and HEAD")
		case len(r.URL.RawQuery) > maxQueryBytes:
			code = s.errorPage(w, r, http.StatusRequestURITooLong, "the query string is longer than 4096 bytes")
		default:
			code = h(w, r)
		}
		s.o.Metrics.WebRequest(name, code, time.Since(start))
	})
}

// query runs f as one of the at most maxQueries history queries at a
// time; false when none ended within queryWait (the caller answers 503).
func (s *Server) query(ctx context.Context, f func()) bool {
	t := time.NewTimer(queryWait)
	defer t.Stop()
	select {
	case s.queries <- struct{}{}:
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
	defer func() { <-s.queries }()
	f()
	return true
}

// Serve runs the listener on l until ctx ends, then shuts it down (live
// streams are cut). It returns nil after a shutdown caused by ctx.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	srv := &http.Server{
		Handler:           s.mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Second,
		IdleTimeout:       60 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.o.Logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	if last, err := s.o.Journal.LastSeq(); err == nil {
		s.hub.seen(last)
	}
	go s.indexPackages(ctx)
	go s.hub.Run(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		srv.Shutdown(sctx)
		srv.Close()
	}()
	s.o.Logger.Info("web listening", "addr", l.Addr().String())
	err := srv.Serve(sendBuffers{l})
	if errors.Is(err, http.ErrServerClosed) {
		<-done
		return nil
	}
	return err
}

// indexPackages keeps the journal's package index up to date
// (internal/journal pkgindex.go): at most once a second after the hub is
// told of new events, and once a minute for what other processes
// journal.
func (s *Server) indexPackages(ctx context.Context) {
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		pause := time.After(time.Second)
		wake := s.hub.wait()
		for ctx.Err() == nil {
			n, err := s.o.Journal.IndexPackages(5000)
			if err != nil {
				s.o.Logger.Warn("package index", "err", err)
				break
			}
			if n == 0 {
				break
			}
		}
		if b, err := s.o.Journal.PackageIndexBehind(); err == nil {
			s.o.Metrics.WebPackageIndexBehind(b)
		}
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-tick.C:
		}
		select {
		case <-ctx.Done():
			return
		case <-pause:
		}
	}
}

// sendBuffer is the kernel's send buffer of a web connection. Left to
// grow (Linux lets it reach 4 MiB), every live stream whose reader stops
// would hold that much kernel memory; 256 KiB is plenty for a page, and
// a stream's writes block once its reader is that far behind.
const sendBuffer = 256 << 10

// sendBuffers is a listener whose TCP connections get sendBuffer.
type sendBuffers struct{ net.Listener }

func (l sendBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetWriteBuffer(sendBuffer)
	}
	return c, err
}

type nopMetrics struct{}

func (nopMetrics) WebRequest(string, int, time.Duration) {}
func (nopMetrics) WebStreams(int)                        {}
func (nopMetrics) WebStreamRefused()                     {}
func (nopMetrics) WebStreamDropped(string)               {}
func (nopMetrics) WebStreamSkipped(int64)                {}
func (nopMetrics) WebPackageIndexBehind(int64)           {}
