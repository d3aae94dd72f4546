package web

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"

	"github.com/debian/mailgw/internal/journal"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

var pages = map[string]*template.Template{}

func init() {
	for _, name := range []string{"live", "event", "stats", "error"} {
		pages[name] = template.Must(template.ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}
}

// pageSize is the number of rows of a page of the live view.
const pageSize = 50

// render writes page name with data (a struct with Title and Script).
func (s *Server) render(w http.ResponseWriter, code int, name string, data any) int {
	var b bytes.Buffer
	if err := pages[name].ExecuteTemplate(&b, name+".html", data); err != nil {
		s.o.Logger.Error("web: template", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	w.Write(b.Bytes())
	return code
}

// errorPage answers code with msg: JSON ({"error": msg}) under /v2/ and
// for .json, plain text for streams and files, HTML elsewhere.
func (s *Server) errorPage(w http.ResponseWriter, r *http.Request, code int, msg string) int {
	p := r.URL.Path
	switch {
	case strings.HasPrefix(p, "/v2/") || strings.HasSuffix(p, ".json"):
		return writeJSON(w, code, map[string]string{"error": msg})
	case p == "/events" || strings.HasPrefix(p, "/static/") || strings.HasSuffix(p, ".svg"):
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(code)
		fmt.Fprintln(w, msg)
		return code
	}
	return s.render(w, code, "error", struct {
		Title, Status, Message string
		Code                   int
		Script                 bool
	}{Title: http.StatusText(code), Status: http.StatusText(code), Message: msg, Code: code})
}

// writeJSON answers code with v as JSON.
func writeJSON(w http.ResponseWriter, code int, v any) int {
	// Envelopes go out as journaled: "<", ">" and "&" as themselves.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	b := []byte(`{"error":"cannot encode the answer"}` + "\n")
	if err := enc.Encode(v); err != nil {
		code = http.StatusInternalServerError
	} else {
		b = buf.Bytes()
	}
	return writeRaw(w, code, b)
}

// writeRaw answers code with b, JSON.
func writeRaw(w http.ResponseWriter, code int, b []byte) int {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	// The data is public and read-only: scripts of other sites may read
	// it, as datagrepper lets them.
	h.Set("Access-Control-Allow-Origin", "*")
	w.WriteHeader(code)
	w.Write(b)
	return code
}

// livePage is the data of live.html.
type livePage struct {
	Title                  string
	Script, Live, Filtered bool
	Prefix, Package, Text  string
	Topics                 []string
	Rows                   []row
	Total                  int64
	Page                   int
	Newer, Older           string
	StreamURL              string
	After                  int64
	Error, PrunedNote      string
}

// serveLive serves / : the newest events that match the filter, a page
// at a time; the first page goes live when JavaScript runs.
func (s *Server) serveLive(w http.ResponseWriter, r *http.Request) int {
	v := r.URL.Query()
	f, err := parseFilter(v)
	if err != nil {
		return s.errorPage(w, r, http.StatusBadRequest, err.Error())
	}
	page := 1
	if p := v.Get("page"); p != "" {
		if page, err = strconv.Atoi(p); err != nil || page < 1 || page > maxPage {
			return s.errorPage(w, r, http.StatusBadRequest, fmt.Sprintf("page: want a whole number from 1 to %d", maxPage))
		}
	}
	d := livePage{Title: "events", Script: true, Live: page == 1, Page: page, Filtered: len(f.Prefix)+len(f.Package)+len(f.Text) > 0,
		Prefix: first(f.Prefix), Package: first(f.Package), Text: first(f.Text)}
	code := http.StatusOK
	ok := s.query(r.Context(), func() {
		// The newest seq_id before the query: the stream starts after it,
		// and a row that is in the page too is shown once (the script
		// keeps one row per seq_id).
		if d.After, err = s.o.Journal.LastSeq(); err != nil {
			return
		}
		if ts, err := s.o.Journal.Topics(); err == nil {
			for _, t := range ts {
				d.Topics = append(d.Topics, t.Topic)
			}
		}
		q := f.query()
		q.Desc, q.Offset, q.Limit, q.MaxScan, q.MaxBodies = true, (page-1)*pageSize, pageSize, s.o.MaxScan, s.o.MaxBodies
		var found *journal.Found
		if found, err = s.o.Journal.Search(q); err != nil {
			return
		}
		d.Total = found.Total
		for _, h := range found.Hits {
			rw, _ := rowOf(h)
			d.Rows = append(d.Rows, rw)
		}
		if found.Pruned.Through > 0 {
			d.PrunedNote = fmt.Sprintf("Events journaled up to seq_id %d are pruned (retention): their bodies are gone, and the oldest of them entirely.", found.Pruned.Through)
		}
	})
	if !ok {
		return s.errorPage(w, r, http.StatusServiceUnavailable, "too many queries at once; retry in a moment")
	}
	var ce *journal.CostError
	switch {
	case errors.As(err, &ce):
		d.Error, d.Live, code = "The filter selects too much: "+ce.Reason+".", false, http.StatusBadRequest
	case err != nil:
		s.o.Logger.Error("web: live page", "err", err)
		return s.errorPage(w, r, http.StatusInternalServerError, "the journal could not be read")
	}
	link := func(p int) string {
		lv := f.values()
		if p > 1 {
			lv.Set("page", strconv.Itoa(p))
		}
		if len(lv) == 0 {
			return "/"
		}
		return "/?" + lv.Encode()
	}
	if page > 1 {
		d.Newer = link(page - 1)
	}
	if int64(page*pageSize) < d.Total {
		d.Older = link(page + 1)
	}
	sv := f.values()
	d.StreamURL = "/events"
	if len(sv) > 0 {
		d.StreamURL += "?" + sv.Encode()
	}
	return s.render(w, code, "live", d)
}

// eventPage is the data of event.html.
type eventPage struct {
	Title         string
	Script        bool
	Row           row
	Pretty        string
	Sig, SigClass string
}

// serveEvent serves /event?id=MSG_ID: one envelope, with its signature
// status.
func (s *Server) serveEvent(w http.ResponseWriter, r *http.Request) int {
	id := r.URL.Query().Get("id")
	if id == "" || len(id) > maxValueLen {
		return s.errorPage(w, r, http.StatusBadRequest, "id: give the msg_id of an event")
	}
	h, found, err := s.o.Journal.ByMsgID(id)
	if err != nil {
		s.o.Logger.Error("web: event", "err", err)
		return s.errorPage(w, r, http.StatusInternalServerError, "the journal could not be read")
	}
	if !found {
		return s.errorPage(w, r, http.StatusNotFound, "no event with this msg_id in the journal (or it is pruned)")
	}
	rw, env := rowOf(h)
	d := eventPage{Title: "event " + strconv.FormatInt(rw.Seq, 10), Row: rw}
	switch {
	case rw.Pruned:
		d.Sig, d.SigClass = "unknown: the body is pruned", "unknown"
	case env == nil:
		d.Sig, d.SigClass = "the stored envelope cannot be read", "bad"
	case env.Signature == "":
		d.Sig, d.SigClass = "unsigned", "bad"
	case s.o.Verify == nil:
		d.Sig, d.SigClass = "signed, not checked: no keyring is configured", "unknown"
	default:
		if fpr, err := s.o.Verify(env); err != nil {
			d.Sig, d.SigClass = "NOT valid: "+err.Error(), "bad"
		} else {
			d.Sig, d.SigClass = "valid, signed by "+fpr, "good"
		}
	}
	if !rw.Pruned {
		var b bytes.Buffer
		if json.Indent(&b, h.Body, "", "  ") == nil {
			d.Pretty = b.String()
		}
	}
	return s.render(w, http.StatusOK, "event", d)
}

// serveStatic serves the embedded scripts and styles.
func serveStatic(w http.ResponseWriter, r *http.Request) int {
	name := r.PathValue("file")
	b, err := staticFS.ReadFile("static/" + name)
	if err != nil || strings.Contains(name, "/") {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintln(w, "no such file")
		return http.StatusNotFound
	}
	w.Header().Set("Content-Type", mime.TypeByExtension(path.Ext(name)))
	w.Header().Set("Cache-Control", "max-age=300")
	w.Write(b)
	return http.StatusOK
}
