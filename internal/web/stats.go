package web

import (
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/debian/mailgw/internal/journal"
)

// stats is events per topic per bucket (hour or day, UTC) over a window:
// /stats (HTML with an SVG chart), /stats.json and /stats.svg. It reads
// the journal's per-hour counts only (never rows), so its cost is bounded
// by the buckets shown (at most maxBuckets) times the topics.
type stats struct {
	Bucket  string           `json:"bucket"` // "hour" or "day"
	Start   int64            `json:"start"`  // Unix time of the first bucket
	End     int64            `json:"end"`    // Unix time just after the last
	Buckets []int64          `json:"buckets"`
	Topics  map[string][]int `json:"topics"` // per topic, one count per bucket
	Totals  []int            `json:"totals"`
	Total   int              `json:"total"`
	// order is the topics by total, largest first.
	order []string
}

// maxBuckets bounds the buckets of one answer.
const maxBuckets = 1000

// statsArgs are the arguments of /stats.
type statsArgs struct {
	bucket string
	days   int
	end    time.Time
	prefix []string
}

func parseStats(v url.Values, now time.Time) (*statsArgs, error) {
	a := &statsArgs{bucket: "hour", end: now}
	for name := range v {
		if !slices.Contains([]string{"bucket", "days", "end", "prefix"}, name) {
			return nil, &argError{name, "unknown argument (bucket, days, end and prefix are)"}
		}
	}
	if b := v.Get("bucket"); b != "" {
		if b != "hour" && b != "day" {
			return nil, &argError{"bucket", "must be hour or day"}
		}
		a.bucket = b
	}
	a.days = 1
	if a.bucket == "day" {
		a.days = 30
	}
	if d := v.Get("days"); d != "" {
		n, err := strconv.Atoi(d)
		per := 1
		if a.bucket == "hour" {
			per = 24
		}
		if err != nil || n < 1 || n*per > maxBuckets {
			return nil, &argError{"days", fmt.Sprintf("must be a whole number from 1 to %d for buckets of an %s", maxBuckets/per, a.bucket)}
		}
		a.days = n
	}
	if e := v.Get("end"); e != "" {
		f, err := parseTime(e, false)
		if err != nil {
			return nil, &argError{"end", err.Error()}
		}
		a.end = time.Unix(int64(f), 0)
	}
	var err error
	if a.prefix, err = values(v, "prefix"); err != nil {
		return nil, &argError{"prefix", strings.TrimPrefix(err.Error(), "prefix: ")}
	}
	return a, nil
}

// compute reads the counts of a's window.
func (a *statsArgs) compute(j Journal) (*stats, error) {
	size := int64(3600)
	if a.bucket == "day" {
		size = 86400
	}
	// The window ends with the bucket holding a.end.
	endB := a.end.Unix()/size + 1
	n := int64(a.days) * 86400 / size
	st := &stats{Bucket: a.bucket, Start: (endB - n) * size, End: endB * size, Topics: map[string][]int{}}
	for i := int64(0); i < n; i++ {
		st.Buckets = append(st.Buckets, st.Start+i*size)
	}
	st.Totals = make([]int, n)
	hs, err := j.Hours(st.Start/3600, st.End/3600-1)
	if err != nil {
		return nil, err
	}
	sums := map[string]int{}
	for _, h := range hs {
		if len(a.prefix) > 0 && !slices.ContainsFunc(a.prefix, func(p string) bool { return journal.TopicHasPrefix(h.Topic, p) }) {
			continue
		}
		i := (h.Hour*3600 - st.Start) / size
		if i < 0 || i >= n {
			continue
		}
		c := st.Topics[h.Topic]
		if c == nil {
			c = make([]int, n)
			st.Topics[h.Topic] = c
		}
		c[i] += int(h.N)
		st.Totals[i] += int(h.N)
		st.Total += int(h.N)
		sums[h.Topic] += int(h.N)
	}
	for t := range st.Topics {
		st.order = append(st.order, t)
	}
	slices.SortFunc(st.order, func(x, y string) int {
		if sums[x] != sums[y] {
			return sums[y] - sums[x]
		}
		return strings.Compare(x, y)
	})
	return st, nil
}

// statsData runs the arguments of r; the code and message on error.
func (s *Server) statsData(w http.ResponseWriter, r *http.Request) (*stats, *statsArgs, int) {
	a, err := parseStats(r.URL.Query(), s.o.Now())
	if err != nil {
		return nil, nil, badArgFor(s, w, r, err)
	}
	var st *stats
	if !s.query(r.Context(), func() { st, err = a.compute(s.o.Journal) }) {
		return nil, nil, s.errorPage(w, r, http.StatusServiceUnavailable, "too many queries at once; retry in a moment")
	}
	if err != nil {
		s.o.Logger.Error("web: stats", "err", err)
		return nil, nil, s.errorPage(w, r, http.StatusInternalServerError, "the journal could not be read")
	}
	return st, a, 0
}

// badArgFor answers a bad argument in the form of r's page.
func badArgFor(s *Server, w http.ResponseWriter, r *http.Request, err error) int {
	if strings.HasSuffix(r.URL.Path, ".json") {
		return badArg(w, err)
	}
	return s.errorPage(w, r, http.StatusBadRequest, err.Error())
}

func (s *Server) serveStatsJSON(w http.ResponseWriter, r *http.Request) int {
	st, _, code := s.statsData(w, r)
	if st == nil {
		return code
	}
	return writeJSON(w, http.StatusOK, st)
}

func (s *Server) serveStatsSVG(w http.ResponseWriter, r *http.Request) int {
	st, _, code := s.statsData(w, r)
	if st == nil {
		return code
	}
	w.Header().Set("Content-Type", "image/svg+xml")
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte(st.svg()))
	return http.StatusOK
}

// statsPage is the data of stats.html.
type statsPage struct {
	Title, Bucket, Prefix, From, To, JSON, SVG, Error string
	Script                                            bool
	Days, Total                                       int
	Chart                                             template.HTML
}

func (s *Server) serveStats(w http.ResponseWriter, r *http.Request) int {
	st, a, code := s.statsData(w, r)
	if st == nil {
		return code
	}
	q := r.URL.RawQuery
	if q != "" {
		q = "?" + q
	}
	return s.render(w, http.StatusOK, "stats", statsPage{Title: "stats", Bucket: st.Bucket, Days: a.days, Prefix: first(a.prefix),
		Total: st.Total, From: time.Unix(st.Start, 0).UTC().Format("2006-01-02 15:04"), To: time.Unix(st.End, 0).UTC().Format("2006-01-02 15:04"),
		JSON: "/stats.json" + q, SVG: "/stats.svg" + q,
		// svg escapes every text it writes (html.EscapeString).
		Chart: template.HTML(st.svg())})
}

// palette colours the largest topics; the others are "other", in grey.
var palette = []string{"#a80030", "#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#17becf", "#8c564b", "#e377c2", "#bcbd22"}

// svg draws st as stacked bars, one per bucket, with a legend.
func (st *stats) svg() string {
	const w, h, left, top, bottom = 960.0, 300.0, 56.0, 12.0, 40.0
	plotW, plotH := w-left-12, h-top-bottom
	named := st.order[:min(len(st.order), len(palette))]
	rows := (len(named) + 2) / 2
	total := h + 18*float64(rows) + 10
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" role="img" font-family="sans-serif" font-size="11">`, w, total, w, total)
	fmt.Fprintf(&b, `<title>events per %s, %d in all</title>`, st.Bucket, st.Total)
	peak := slices.Max(append([]int{1}, st.Totals...))
	scale := niceCeil(peak)
	for i := 0; i <= 4; i++ {
		y := top + plotH - plotH*float64(i)/4
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.1f" x2="%.0f" y2="%.1f" stroke="#ddd"/>`, left, y, w-12, y)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.1f" text-anchor="end" fill="#666">%d</text>`, left-4, y+4, scale*i/4)
	}
	n := len(st.Buckets)
	bw := plotW / float64(max(n, 1))
	layout := "01-02 15h"
	if st.Bucket == "day" {
		layout = "2006-01-02"
	}
	every := max(1, n/8)
	for i, t := range st.Buckets {
		x := left + float64(i)*bw
		y := top + plotH
		label := time.Unix(t, 0).UTC().Format(layout)
		for k, topic := range st.order {
			c := st.Topics[topic][i]
			if c == 0 {
				continue
			}
			hh := plotH * float64(c) / float64(scale)
			y -= hh
			colour := "#999"
			if k < len(named) {
				colour = palette[k]
			}
			fmt.Fprintf(&b, `<rect x="%.2f" y="%.2f" width="%.2f" height="%.2f" fill="%s"><title>%s %s: %d</title></rect>`,
				x+bw*0.1, y, max(bw*0.8, 0.5), hh, colour, esc(label), esc(topic), c)
		}
		if i%every == 0 {
			fmt.Fprintf(&b, `<text x="%.1f" y="%.0f" text-anchor="middle" fill="#666">%s</text>`, x+bw/2, top+plotH+16, esc(label))
		}
	}
	for k, topic := range append(named, "other") {
		if k == len(named) && len(st.order) <= len(named) {
			break
		}
		colour := "#999"
		if k < len(named) {
			colour = palette[k]
		}
		x := left + float64(k%2)*(plotW/2)
		y := h + float64(k/2)*18
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="10" height="10" fill="%s"/><text x="%.0f" y="%.0f">%s</text>`, x, y-9, colour, x+14, y, esc(topic))
	}
	if st.Total == 0 {
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle" fill="#666">no events in this window</text>`, left+plotW/2, top+plotH/2)
	}
	b.WriteString(`</svg>`)
	return b.String()
}

// niceCeil rounds n up to 1, 2 or 5 times a power of ten, at least 4.
func niceCeil(n int) int {
	p := math.Pow(10, math.Floor(math.Log10(float64(max(n, 1)))))
	for _, m := range []float64{1, 2, 5, 10} {
		if v := int(m * p); v >= n {
			return max(v, 4)
		}
	}
	return n
}

// esc escapes text for SVG (XML) content.
func esc(s string) string { return template.HTMLEscapeString(s) }
