package journal

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Query selects journaled envelopes for Search: the filters of
// datagrepper's /v2/search (docs/web.md), all of which must hold; within
// one list, any value may match. The indexes (index.go) answer every
// filter but Contains; a query whose cost they cannot bound by MaxScan
// and MaxBodies is refused with a *CostError instead of being run.
type Query struct {
	// Window limits the envelopes to From <= timestamp <= To (Unix
	// seconds); without it, the time is not limited.
	Window   bool
	From, To int64
	// Topics and NotTopics are whole topics; TopicPrefixes match a topic
	// from its start at a boundary between parts (TopicHasPrefix).
	Topics, NotTopics, TopicPrefixes []string
	// Categories and NotCategories are the services of the topics
	// (Category).
	Categories, NotCategories []string
	// Packages and NotPackages are source packages (EventPackages).
	Packages, NotPackages []string
	// Contains are texts looked for in the JSON text of the envelope's
	// msg (MsgContains); an envelope whose body is pruned never matches.
	Contains []string
	// Desc orders the envelopes newest first; either way by timestamp,
	// then seq_id.
	Desc bool
	// Offset and Limit select the page.
	Offset, Limit int
	// MaxScan bounds the index entries a query examines one by one
	// (beyond the per-hour counts); MaxBodies the bodies it reads to look
	// for Contains.
	MaxScan, MaxBodies int
}

// Hit is one envelope a query found.
type Hit struct {
	SeqID     int64
	MsgID     string
	Topic     string
	Timestamp int64
	// Packages are the event's packages as indexed (EventPackages).
	Packages []string
	// Body is the envelope's canonical JSON; nil when it is pruned.
	Body []byte
}

// Found is what Search returns.
type Found struct {
	// Total is how many envelopes match; Hits the page of them.
	Total int64
	Hits  []Hit
	// Pruned is how far pruning went, when the query's window reaches
	// into pruned envelopes (its Through is 0 otherwise): envelopes whose
	// rows are pruned are missing, those whose bodies are pruned are
	// there without Body.
	Pruned PruneMark
}

// CostError says a query would examine more than its bounds allow. Arg
// names the query field to narrow, as docs/web.md's arguments: "package",
// "not_package", "contains", "page", or "start" and "end" for the edges
// of the window.
type CostError struct {
	Arg, Reason string
}

func (e *CostError) Error() string { return e.Arg + ": " + e.Reason }

// topicRow is a row of the topics table.
type topicRow struct {
	id    int64
	topic string
	n     int64
}

// TopicCount is a topic with the number of its journaled envelopes.
type TopicCount struct {
	Topic string
	N     int64
}

// Topics returns every topic the journal has envelopes of, with their
// numbers, in topic order.
func (j *Journal) Topics() ([]TopicCount, error) {
	ts, err := j.topicRows()
	if err != nil {
		return nil, err
	}
	var out []TopicCount
	for _, t := range ts {
		if t.n > 0 {
			out = append(out, TopicCount{t.topic, t.n})
		}
	}
	return out, nil
}

func (j *Journal) topicRows() ([]topicRow, error) {
	rows, err := j.db.Query(`SELECT id, topic, n FROM topics ORDER BY topic`)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer rows.Close()
	var out []topicRow
	for rows.Next() {
		var t topicRow
		if err := rows.Scan(&t.id, &t.topic, &t.n); err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return out, nil
}

// selectTopics returns the topics q's topic and category filters leave,
// and whether they leave out any.
func (q *Query) selectTopics(all []topicRow) ([]topicRow, bool) {
	constrained := len(q.Topics)+len(q.NotTopics)+len(q.TopicPrefixes)+len(q.Categories)+len(q.NotCategories) > 0
	if !constrained {
		return all, false
	}
	var out []topicRow
	for _, t := range all {
		c := Category(t.topic)
		switch {
		case len(q.Topics) > 0 && !slices.Contains(q.Topics, t.topic):
		case len(q.TopicPrefixes) > 0 && !slices.ContainsFunc(q.TopicPrefixes, func(p string) bool { return TopicHasPrefix(t.topic, p) }):
		case len(q.Categories) > 0 && !slices.Contains(q.Categories, c):
		case slices.Contains(q.NotTopics, t.topic), slices.Contains(q.NotCategories, c):
		default:
			out = append(out, t)
		}
	}
	return out, len(out) < len(all)
}

// Search runs q.
func (j *Journal) Search(q Query) (*Found, error) {
	q.Offset, q.Limit = max(q.Offset, 0), max(q.Limit, 0)
	if !q.Window {
		q.From, q.To = minTime, maxTime
	}
	f := &Found{}
	m, err := j.Pruned()
	if err != nil {
		return nil, err
	}
	if m.Through > 0 && q.From <= m.Before {
		f.Pruned = m
	}
	all, err := j.topicRows()
	if err != nil {
		return nil, err
	}
	sel, constrained := q.selectTopics(all)
	if (constrained && len(sel) == 0) || q.From > q.To {
		return f, nil
	}
	s := &search{j: j, q: &q, f: f, sel: sel, constrained: constrained}
	switch {
	case len(q.Packages) > 0:
		err = s.byPackage()
	case len(q.NotPackages) > 0 || len(q.Contains) > 0:
		err = s.scan()
	default:
		err = s.byTopic()
	}
	if err != nil {
		var ce *CostError
		if errors.As(err, &ce) {
			return nil, err
		}
		return nil, fmt.Errorf("journal: search: %w", err)
	}
	return f, nil
}

// Timestamps of an open window.
const (
	minTime = -1 << 62
	maxTime = 1<<62 - 1
)

// search is one Search in progress.
type search struct {
	j           *Journal
	q           *Query
	f           *Found
	sel         []topicRow
	constrained bool
}

// key is an envelope's place in a query's order.
type key struct{ ts, seq int64 }

// order is the ORDER BY of q over the columns timestamp and seq_id of
// the table alias a.
func (s *search) order(a string) string {
	if s.q.Desc {
		return " ORDER BY " + a + ".timestamp DESC, " + a + ".seq_id DESC"
	}
	return " ORDER BY " + a + ".timestamp, " + a + ".seq_id"
}

// idList returns "(?, ?, …)" and the ids as arguments.
func idList(ids []int64) (string, []any) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return "(" + strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", ") + ")", args
}

func (s *search) topicIDs() []int64 {
	ids := make([]int64, len(s.sel))
	for i, t := range s.sel {
		ids[i] = t.id
	}
	return ids
}

// lookupPackages returns the ids of the named packages the journal knows
// ("src:" dropped, as EventPackages drops it).
func (j *Journal) lookupPackages(names []string) ([]int64, error) {
	var ids []int64
	for _, n := range names {
		var id int64
		err := j.db.QueryRow(`SELECT id FROM packages WHERE name = ?`, strings.TrimPrefix(n, "src:")).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// scan answers a query with NotPackages or Contains but no Packages: the
// envelopes of the selected topics in the window are examined one by
// one, as many as the per-hour counts say there are at most.
func (s *search) scan() error {
	q := s.q
	est, err := s.estimate()
	if err != nil {
		return err
	}
	arg, limit := "not_package", q.MaxScan
	if len(q.Contains) > 0 {
		arg, limit = "contains", q.MaxBodies
	}
	if est > int64(limit) {
		return &CostError{arg, fmt.Sprintf("the query would examine %d events, more than %d; narrow it with start, end or delta, topic, category or package", est, limit)}
	}
	return s.filtered(` FROM envelopes e WHERE e.timestamp BETWEEN ? AND ?`, []any{q.From, q.To}, "e", "e.packages")
}

// filtered finishes a query over base (a FROM and WHERE of rows with the
// columns timestamp, seq_id and topic_id, as table alias a, and pcol
// their packages column): with the topic and NotPackages filters, the
// total and the page, or, with Contains, the bodies read one by one.
func (s *search) filtered(base string, args []any, a, pcol string) error {
	q := s.q
	if s.constrained {
		tin, targs := idList(s.topicIDs())
		base += ` AND ` + a + `.topic_id IN ` + tin
		args = append(args, targs...)
	}
	np, npargs, err := s.notPackages(a, pcol)
	if err != nil {
		return err
	}
	base += np
	args = append(args, npargs...)
	sel := `SELECT ` + a + `.timestamp, ` + a + `.seq_id` + base + s.order(a)
	if len(q.Contains) > 0 {
		return s.matchBodies(sel, args)
	}
	if err := s.j.db.QueryRow(`SELECT COUNT(*)`+base, args...).Scan(&s.f.Total); err != nil {
		return err
	}
	keys, err := s.keys(sel+` LIMIT ? OFFSET ?`, append(args, q.Limit, q.Offset)...)
	if err != nil {
		return err
	}
	return s.load(keys)
}

// matchBodies reads the bodies of the envelopes query lists, in order,
// and keeps those with one of Contains: the total and the page.
func (s *search) matchBodies(query string, args []any) error {
	q := s.q
	keys, err := s.keys(query, args...)
	if err != nil {
		return err
	}
	if len(keys) > q.MaxBodies {
		return &CostError{"contains", fmt.Sprintf("the query would read %d events, more than %d; narrow it with start, end or delta, topic, category or package", len(keys), q.MaxBodies)}
	}
	var page []Hit
	for len(keys) > 0 {
		n := min(len(keys), maxParams)
		hits, err := s.j.hits(keys[:n])
		if err != nil {
			return err
		}
		for _, h := range hits {
			if h.Body == nil || !MsgContains(h.Body, q.Contains) {
				continue
			}
			if s.f.Total >= int64(q.Offset) && len(page) < q.Limit {
				page = append(page, h)
			}
			s.f.Total++
		}
		keys = keys[n:]
	}
	s.f.Hits = page
	return nil
}

// keys runs a query of (timestamp, seq_id) rows.
func (s *search) keys(query string, args ...any) ([]key, error) {
	rows, err := s.j.db.Query(query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []key
	for rows.Next() {
		var k key
		if err := rows.Scan(&k.ts, &k.seq); err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// load fills the page with the envelopes of keys, in their order.
func (s *search) load(keys []key) error {
	hits, err := s.j.hits(keys)
	s.f.Hits = hits
	return err
}

// hits returns the envelopes of keys (at most maxParams), in their
// order; a pruned body is nil.
func (j *Journal) hits(keys []key) ([]Hit, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	seqs := make([]int64, len(keys))
	for i, k := range keys {
		seqs[i] = k.seq
	}
	in, args := idList(seqs)
	rows, err := j.db.Query(`SELECT seq_id, msg_id, topic, timestamp, packages, `+bodyCols+` FROM envelopes WHERE seq_id IN `+in, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	got := make(map[int64]Hit, len(keys))
	for rows.Next() {
		var h Hit
		var pk sql.NullString
		var sb storedBody
		if err := rows.Scan(append([]any{&h.SeqID, &h.MsgID, &h.Topic, &h.Timestamp, &pk}, sb.dest()...)...); err != nil {
			return nil, err
		}
		h.Packages = strings.Fields(pk.String)
		h.Body, err = j.loadRow(h.SeqID, &sb)
		if errors.Is(err, errNoBody) || errors.Is(err, ErrPruned) {
			h.Body, err = nil, nil
		}
		if err != nil {
			return nil, err
		}
		got[h.SeqID] = h
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]Hit, 0, len(keys))
	for _, k := range keys {
		if h, ok := got[k.seq]; ok { // gone: pruned meanwhile
			out = append(out, h)
		}
	}
	return out, nil
}

// ByMsgID returns the envelope with msgID, found false when the journal
// has no row for it.
func (j *Journal) ByMsgID(msgID string) (h Hit, found bool, err error) {
	seq, _, err := findMsgID(func(key int64) *sql.Row { return j.has.QueryRow(key) }, msgID)
	if err != nil || seq == 0 {
		return h, false, err
	}
	var ts int64
	if err := j.db.QueryRow(`SELECT timestamp FROM envelopes WHERE seq_id = ?`, seq).Scan(&ts); err != nil {
		if errors.Is(err, sql.ErrNoRows) { // pruned meanwhile
			return h, false, nil
		}
		return h, false, fmt.Errorf("journal: %w", err)
	}
	hs, err := j.hits([]key{{ts, seq}})
	if err != nil || len(hs) == 0 {
		return h, false, err
	}
	return hs[0], true, nil
}
