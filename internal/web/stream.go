package web

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/debian/mailgw/internal/journal"
)

// Live streams (/events, docs/web.md): Server-Sent Events, one per
// event the filter lets through, id = seq_id. A stream starts after the
// seq_id in Last-Event-ID (what a browser sends when it reconnects), or
// in the "after" argument (the page's newest when it was made), or at the
// journal's newest; what lies between comes from the journal, so nothing
// is missed, and nothing is sent twice.
const (
	// heartbeat is how often an idle stream sends a comment, so that
	// proxies and the browser see it alive.
	heartbeat = 15 * time.Second
	// catchUpPage is how many envelopes a stream reads from the journal
	// at a time, and maxCatchUps how many streams read at once: the
	// memory streams use for reading is bounded by their product. Of a
	// page, a stream keeps the rows of at most catchUpBytes to send.
	catchUpPage  = 100
	catchUpBytes = 32 << 10
	maxCatchUps  = 4
	// maxCatchUp is how far behind a stream may fall; past it, it skips
	// to the events the hub still holds and says so (event "skipped").
	maxCatchUp = 10000
	// sinceMax is how many of the hub's events a stream takes at a time.
	sinceMax = 256
)

// serveStream serves /events.
func (s *Server) serveStream(w http.ResponseWriter, r *http.Request) int {
	f, err := parseFilter(r.URL.Query())
	if err != nil {
		return s.errorPage(w, r, http.StatusBadRequest, err.Error())
	}
	last, newest, err := s.startSeq(r)
	if err != nil {
		return s.errorPage(w, r, http.StatusBadRequest, err.Error())
	}
	select {
	case s.streams <- struct{}{}:
		defer func() { <-s.streams }()
	default:
		s.o.Metrics.WebStreamRefused()
		w.Header().Set("Retry-After", "10")
		return s.errorPage(w, r, http.StatusServiceUnavailable, fmt.Sprintf("%d live streams are open, the most this listener serves; retry later", cap(s.streams)))
	}
	s.o.Metrics.WebStreams(1)
	defer s.o.Metrics.WebStreams(-1)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return http.StatusOK
	}
	// What the journal has is there for this stream to catch up with,
	// whether the hub was handed it or not.
	s.hub.seen(newest)
	st := &stream{s: s, w: w, rc: http.NewResponseController(w), f: f, last: last, told: last}
	// retry: the browser reconnects 2 s after losing the stream.
	err = st.write([]byte("retry: 2000\n\n"))
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	for err == nil {
		wake := s.hub.wait()
		if err = st.send(r); err != nil {
			break
		}
		select {
		case <-r.Context().Done():
			return http.StatusOK
		case <-wake:
		case <-tick.C:
			err = st.write([]byte(": \n\n"))
		}
	}
	reason := "closed"
	if errors.Is(err, os.ErrDeadlineExceeded) {
		reason = "slow"
	}
	s.o.Metrics.WebStreamDropped(reason)
	return http.StatusOK
}

// startSeq is the seq_id a stream starts after, and the journal's newest.
func (s *Server) startSeq(r *http.Request) (last, newest int64, err error) {
	if newest, err = s.o.Journal.LastSeq(); err != nil {
		return 0, 0, err
	}
	for _, src := range []struct{ name, v string }{{"Last-Event-ID", r.Header.Get("Last-Event-ID")}, {"after", r.URL.Query().Get("after")}} {
		if src.v == "" {
			continue
		}
		n, err := strconv.ParseInt(src.v, 10, 64)
		if err != nil || n < 0 {
			return 0, 0, fmt.Errorf("%s: want a seq_id (a whole number), not %q", src.name, src.v)
		}
		return min(n, newest), newest, nil
	}
	return newest, newest, nil
}

// stream is one live stream being served.
type stream struct {
	s    *Server
	w    http.ResponseWriter
	rc   *http.ResponseController
	f    filter
	last int64 // the seq_id sent (or passed over) last
	// told is the seq_id the browser last heard of (its Last-Event-ID).
	told int64
	// buf and evs are send's, reused.
	buf []byte
	evs []*liveEvent
	// live: the stream has caught up with the hub once.
	live bool
}

// write writes b and flushes, giving the reader stream_write_timeout to
// take it.
func (st *stream) write(b []byte) error {
	st.rc.SetWriteDeadline(time.Now().Add(st.s.o.StreamWriteTimeout))
	if _, err := st.w.Write(b); err != nil {
		return err
	}
	return st.rc.Flush()
}

// sendChunk bounds what a stream writes at once: a reader that takes
// nothing holds at most about this much of the stream's memory, beside
// the connection's own buffers.
const sendChunk = 4 << 10

// send sends the events after st.last the filter lets through: from the
// hub, or from the journal where the hub cannot say.
func (st *stream) send(r *http.Request) error {
	if st.buf == nil {
		st.buf, st.evs = make([]byte, 0, 2*sendChunk), make([]*liveEvent, 0, sinceMax)
	}
	buf := st.buf[:0]
	defer func() { clear(st.evs[:cap(st.evs)]) }() // no event kept alive
	for r.Context().Err() == nil {
		evs, where := st.s.hub.since(st.evs[:0], st.last, sinceMax)
		fromRing := where == inRing
		switch {
		case where == behind && st.live:
			// A reader slower than the events: it skips to those the hub
			// still holds, rather than make serve read the journal for
			// it again and again.
			if err := st.skip(st.s.hub.oldest()); err != nil {
				return err
			}
			continue
		case !fromRing:
			var err error
			if evs, err = st.fromJournal(r); err != nil {
				return err
			}
		default:
			st.live = true
		}
		if len(evs) == 0 {
			break
		}
		for _, e := range evs {
			// The journal's events are filtered already (fromJournal).
			if (!fromRing && e.data != nil) || (fromRing && st.f.match(e)) {
				buf = fmt.Appendf(buf, "id: %d\ndata: %s\n\n", e.seq, e.data)
				st.told = e.seq
			}
			st.last = e.seq
			if len(buf) >= sendChunk {
				if err := st.write(buf); err != nil {
					return err
				}
				buf = buf[:0]
			}
		}
		if len(buf) > 0 {
			if err := st.write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	if st.told != st.last {
		// An id alone moves the browser's Last-Event-ID past the events
		// the filter held back, without an event.
		st.told = st.last
		return st.write(fmt.Appendf(buf, "id: %d\n\n", st.last))
	}
	return nil
}

// skip moves the stream to to, telling the browser which events it
// passed over (event "skipped", whose id moves its Last-Event-ID).
func (st *stream) skip(to int64) error {
	from := st.last + 1
	st.last, st.told = to, to
	st.s.o.Metrics.WebStreamSkipped(to - from + 1)
	return st.write(fmt.Appendf(nil, "event: skipped\nid: %d\ndata: {\"from\":%d,\"to\":%d}\n\n", to, from, to))
}

// fromJournal reads the next events after st.last from the journal: a
// stream starting behind the hub (a browser resuming after a
// reconnection), or events the hub dropped. They are filtered here: an
// event the filter holds back has no data, and none keeps its text or
// body, so that a stream blocked on a slow reader holds a page of short
// rows, not of envelopes. A stream more than maxCatchUp behind first
// skips to the events the hub holds.
func (st *stream) fromJournal(r *http.Request) ([]*liveEvent, error) {
	if st.s.hub.newest()-st.last > maxCatchUp {
		if err := st.skip(st.s.hub.oldest()); err != nil {
			return nil, err
		}
	}
	select {
	case st.s.catchups <- struct{}{}:
		defer func() { <-st.s.catchups }()
	case <-r.Context().Done():
		return nil, r.Context().Err()
	}
	hits, err := st.s.o.Journal.After(st.last, catchUpPage)
	var pe *journal.PrunedError
	if errors.As(err, &pe) {
		// Retention took them: the stream passes over them, saying so.
		return nil, st.skip(pe.Through)
	}
	if err != nil {
		st.s.o.Logger.Warn("live stream: journal", "err", err)
		return nil, err
	}
	evs := make([]*liveEvent, 0, len(hits))
	size := 0
	for i, h := range hits {
		e := newLiveEvent(journal.Hit{SeqID: h.SeqID, MsgID: h.MsgID, Topic: h.Topic, Timestamp: h.Timestamp, Body: h.Body})
		if !st.f.match(e) {
			e.data = nil
		}
		e.text, hits[i].Body = nil, nil
		evs = append(evs, e)
		// The rest of the page is read again next time.
		if size += len(e.data); size >= catchUpBytes {
			break
		}
	}
	return evs, nil
}
