package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/debian/mailgw/internal/journal"
)

// serveSearch serves /v2/search (docs/web.md): datagrepper's arguments
// and answer; raw_messages are mailgw's envelopes as journaled.
func (s *Server) serveSearch(w http.ResponseWriter, r *http.Request) int {
	v := r.URL.Query()
	a, err := parseSearch(v)
	if err != nil {
		return badArg(w, err)
	}
	q := a.query(s.o.Now())
	q.MaxScan, q.MaxBodies = s.o.MaxScan, s.o.MaxBodies
	var found *journal.Found
	if !s.query(r.Context(), func() { found, err = s.o.Journal.Search(q) }) {
		return s.errorPage(w, r, http.StatusServiceUnavailable, "too many queries at once; retry in a moment")
	}
	var ce *journal.CostError
	if errors.As(err, &ce) {
		return badArg(w, &argError{a.costArg(ce.Arg, v), ce.Reason})
	}
	if err != nil {
		s.o.Logger.Error("web: search", "err", err)
		return s.errorPage(w, r, http.StatusInternalServerError, "the journal could not be read")
	}
	out := map[string]any{
		"count":     len(found.Hits),
		"total":     found.Total,
		"pages":     (found.Total + int64(a.rowsPerPage) - 1) / int64(a.rowsPerPage),
		"arguments": a.arguments(),
	}
	if found.Pruned.Through > 0 {
		out["pruned"] = prunedInfo(found.Pruned)
	}
	rest, err := json.Marshal(out)
	if err != nil {
		return s.errorPage(w, r, http.StatusInternalServerError, "cannot encode the answer")
	}
	// The envelopes go out as journaled, spliced in: canonical JSON is
	// compact already, and encoding/json's checking and compacting of
	// them took a fifth of a query's time.
	b := make([]byte, 0, 256+len(rest)+len(found.Hits)*2048)
	b = append(b, `{"raw_messages":[`...)
	for i, h := range found.Hits {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, rawMessage(h, a.meta)...)
	}
	b = append(b, "],"...)
	b = append(b, rest[1:]...)
	return writeRaw(w, http.StatusOK, append(b, '\n'))
}

// badArg answers 400 naming the argument.
func badArg(w http.ResponseWriter, err error) int {
	var ae *argError
	if errors.As(err, &ae) {
		return writeJSON(w, http.StatusBadRequest, map[string]string{"error": ae.Error(), "argument": ae.arg})
	}
	return writeJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
}

// prunedInfo says how far pruning went (an answer's "pruned").
func prunedInfo(m journal.PruneMark) map[string]any {
	return map[string]any{
		"bodies_through_seq_id": m.Through,
		"rows_through_seq_id":   m.KeysThrough,
		"newest_timestamp":      m.Before,
		"note": "events journaled up to bodies_through_seq_id are pruned (retention): those up to rows_through_seq_id " +
			"are gone, the others are listed without their body (\"pruned\": true)",
	}
}

// rawMessage is one of raw_messages: the envelope as journaled, or for a
// pruned body what the journal still knows of it; with "meta" when
// asked for.
func rawMessage(h journal.Hit, meta []string) json.RawMessage {
	if h.Body != nil && len(meta) == 0 {
		return h.Body
	}
	obj := map[string]any{}
	if h.Body != nil {
		var m map[string]json.RawMessage
		if json.Unmarshal(h.Body, &m) == nil {
			for k, v := range m {
				obj[k] = v
			}
		}
	} else {
		obj = pruned(h)
	}
	if len(meta) > 0 {
		rw, _ := rowOf(h)
		mv := map[string]any{}
		for _, f := range meta {
			switch f {
			case "summary":
				mv["summary"] = rw.Summary
			case "url":
				mv["url"] = rw.URL
			case "packages":
				mv["packages"] = rw.Packages
			case "date":
				mv["date"] = rw.Time
			}
		}
		obj["meta"] = mv
	}
	b, _ := json.Marshal(obj) // made of JSON values and strings
	return b
}

// pruned is what the journal knows of an envelope whose body is pruned.
func pruned(h journal.Hit) map[string]any {
	pkgs := h.Packages
	if pkgs == nil {
		pkgs = []string{}
	}
	return map[string]any{"msg_id": h.MsgID, "topic": h.Topic, "timestamp": h.Timestamp, "seq_id": h.SeqID,
		"packages": pkgs, "pruned": true}
}

// serveID serves /v2/id?id=MSG_ID: the envelope; 404 when the journal has
// no row for it, 410 (with what is known) when its body is pruned.
func (s *Server) serveID(w http.ResponseWriter, r *http.Request) int {
	v := r.URL.Query()
	for name := range v {
		if name != "id" {
			return badArg(w, &argError{name, "unknown argument (/v2/id takes id only)"})
		}
	}
	id := v.Get("id")
	if id == "" || len(id) > maxValueLen || strings.ContainsAny(id, "\x00") {
		return badArg(w, &argError{"id", "give the msg_id of an event"})
	}
	var h journal.Hit
	var found bool
	var err error
	if !s.query(r.Context(), func() { h, found, err = s.o.Journal.ByMsgID(id) }) {
		return s.errorPage(w, r, http.StatusServiceUnavailable, "too many queries at once; retry in a moment")
	}
	switch {
	case err != nil:
		s.o.Logger.Error("web: id", "err", err)
		return s.errorPage(w, r, http.StatusInternalServerError, "the journal could not be read")
	case !found:
		return writeJSON(w, http.StatusNotFound, map[string]string{"error": "id: no event with this msg_id in the journal (or it is pruned)", "argument": "id"})
	case h.Body == nil:
		p := pruned(h)
		p["error"] = "the body of this event is pruned (retention)"
		return writeJSON(w, http.StatusGone, p)
	}
	return writeRaw(w, http.StatusOK, append(h.Body, '\n'))
}
