package web

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/debian/mailgw/internal/journal"
)

// searchArgs are /v2/search's arguments, as datagrepper names and means
// them (docs/web.md).
type searchArgs struct {
	start, end, delta                      *float64
	topics, categories, packages, contains []string
	notTopics, notCategories, notPackages  []string
	page, rowsPerPage                      int
	order                                  string
	meta                                   []string
}

// argError is a bad argument: 400 with a message that names it.
type argError struct{ arg, msg string }

func (e *argError) Error() string { return e.arg + ": " + e.msg }

// listArgs are the repeatable filter arguments, with where they go.
func (a *searchArgs) listArgs() []struct {
	name string
	dst  *[]string
} {
	return []struct {
		name string
		dst  *[]string
	}{
		{"topic", &a.topics}, {"category", &a.categories}, {"package", &a.packages}, {"contains", &a.contains},
		{"not_topic", &a.notTopics}, {"not_category", &a.notCategories}, {"not_package", &a.notPackages},
		{"meta", &a.meta},
	}
}

// unsupported are datagrepper arguments mailgw does not have.
var unsupported = map[string]string{
	"user": "mailgw's events name no FAS users", "not_user": "mailgw's events name no FAS users",
	"agent": "mailgw's events have no agent", "not_agent": "mailgw's events have no agent",
	"callback": "JSONP is not served; the answer allows any origin (CORS)",
	"chrome":   "only JSON is served here; the live view is at /", "size": "only JSON is served here; the live view is at /",
}

// metaFields are the values "meta" may take.
var metaFields = []string{"summary", "url", "packages", "date"}

// parseSearch reads and checks /v2/search's arguments.
func parseSearch(v url.Values) (*searchArgs, error) {
	a := &searchArgs{page: 1, rowsPerPage: 20, order: "desc"}
	known := map[string]bool{"start": true, "end": true, "delta": true, "page": true, "rows_per_page": true, "order": true}
	for _, l := range a.listArgs() {
		known[l.name] = true
		vals, err := values(v, l.name)
		if err != nil {
			return nil, &argError{l.name, strings.TrimPrefix(err.Error(), l.name+": ")}
		}
		*l.dst = vals
	}
	for name := range v {
		if why, ok := unsupported[name]; ok {
			return nil, &argError{name, "not supported: " + why}
		}
		if !known[name] {
			return nil, &argError{name, "unknown argument (docs/web.md lists them)"}
		}
	}
	for _, m := range a.meta {
		if !slices.Contains(metaFields, m) {
			return nil, &argError{"meta", fmt.Sprintf("%q: want one of %s", m, strings.Join(metaFields, ", "))}
		}
	}
	for _, t := range []struct {
		name string
		dst  **float64
	}{{"start", &a.start}, {"end", &a.end}, {"delta", &a.delta}} {
		s := v.Get(t.name)
		if s == "" {
			continue
		}
		f, err := parseTime(s, t.name == "delta")
		if err != nil {
			return nil, &argError{t.name, err.Error()}
		}
		*t.dst = &f
	}
	var err error
	if s := v.Get("page"); s != "" {
		if a.page, err = strconv.Atoi(s); err != nil || a.page < 1 || a.page > maxPage {
			return nil, &argError{"page", fmt.Sprintf("must be a whole number from 1 to %d", maxPage)}
		}
	}
	if s := v.Get("rows_per_page"); s != "" {
		if a.rowsPerPage, err = strconv.Atoi(s); err != nil || a.rowsPerPage < 1 || a.rowsPerPage > 100 {
			return nil, &argError{"rows_per_page", "must be a whole number from 1 to 100"}
		}
	}
	if s := v.Get("order"); s != "" {
		if s != "asc" && s != "desc" {
			return nil, &argError{"order", "must be either 'desc' or 'asc'"}
		}
		a.order = s
	}
	return a, nil
}

// maxPage bounds the page argument (deep pages are refused by cost
// anyway; this keeps the offset's arithmetic far from overflowing).
const maxPage = 1_000_000

// maxTime bounds a time argument's magnitude (seconds).
const maxTime = 1e11

// parseTime reads a time argument: Unix seconds, or for start and end an
// RFC 3339 time or a date (UTC); a delta is seconds, not negative.
func parseTime(s string, delta bool) (float64, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err == nil {
		switch {
		case math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > maxTime:
			return 0, fmt.Errorf("%q is out of range", s)
		case delta && f < 0:
			return 0, fmt.Errorf("must not be negative")
		}
		return f, nil
	}
	if delta {
		return 0, fmt.Errorf("want seconds, not %q", s)
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return float64(t.Unix()), nil
		}
	}
	return 0, fmt.Errorf("want Unix seconds or an RFC 3339 time (2026-12-01T10:00:00Z), not %q", s)
}

// endOnlyWindow is the window of an end without start or delta: the 600
// seconds before it, as datagrepper's reference says.
const endOnlyWindow = 600

// window resolves the time arguments as datagrepper's table does
// (docs/web.md): it fills start, end and delta and returns the query's
// window; ok false means no time limit.
func (a *searchArgs) window(now time.Time) (from, to int64, ok bool) {
	n := float64(now.Unix())
	s, e, d := a.start, a.end, a.delta
	set := func(p **float64, v float64) { *p = &v }
	switch {
	case s == nil && e == nil && d == nil:
		return 0, 0, false
	case s == nil && e == nil:
		set(&a.end, n)
		set(&a.start, n-*d)
	case s == nil && d == nil:
		set(&a.start, *e-endOnlyWindow)
		set(&a.delta, endOnlyWindow)
	case s == nil:
		set(&a.start, *e-*d)
	case e == nil && d == nil:
		set(&a.end, n)
		set(&a.delta, n-*s)
	case e == nil:
		set(&a.end, *s+*d)
	default:
		set(&a.delta, *e-*s)
	}
	return int64(math.Ceil(*a.start)), int64(math.Floor(*a.end)), true
}

// query returns the journal query of a.
func (a *searchArgs) query(now time.Time) journal.Query {
	q := journal.Query{Topics: a.topics, Categories: a.categories, Packages: a.packages, Contains: a.contains,
		NotTopics: a.notTopics, NotCategories: a.notCategories, NotPackages: a.notPackages,
		Desc: a.order == "desc", Offset: (a.page - 1) * a.rowsPerPage, Limit: a.rowsPerPage}
	q.From, q.To, q.Window = a.window(now)
	return q
}

// arguments is the "arguments" object of the answer: every argument with
// the value used (the default when it was not given).
func (a *searchArgs) arguments() map[string]any {
	list := func(l []string) []string {
		if l == nil {
			return []string{}
		}
		return l
	}
	return map[string]any{
		"start": a.start, "end": a.end, "delta": a.delta,
		"topics": list(a.topics), "categories": list(a.categories), "packages": list(a.packages), "contains": list(a.contains),
		"not_topics": list(a.notTopics), "not_categories": list(a.notCategories), "not_packages": list(a.notPackages),
		"page": a.page, "rows_per_page": a.rowsPerPage, "order": a.order, "meta": list(a.meta),
	}
}

// costArg names the argument a user narrows for a journal.CostError on
// arg: the edges of the window are the time arguments that set them.
func (a *searchArgs) costArg(arg string, given url.Values) string {
	has := func(n string) bool { return given.Get(n) != "" }
	switch {
	case arg == "start" && !has("start") && has("delta"):
		return "delta"
	case arg == "start" && !has("start"):
		return "end"
	case arg == "end" && !has("end") && has("delta") && has("start"):
		return "delta"
	}
	return arg
}
