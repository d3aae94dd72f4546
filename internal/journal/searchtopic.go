package journal

import (
	"container/heap"
	"fmt"
)

// byTopic answers a query with topic, category and time filters only:
// the total comes from the per-hour counts, the page from the topic
// index: one topic's rows, or a merge of each selected topic's first
// rows (every topic's, without a topic filter).
func (s *search) byTopic() error {
	q := s.q
	total, err := s.count()
	if err != nil {
		return err
	}
	s.f.Total = total
	if int64(q.Offset) >= total || q.Limit == 0 {
		return nil
	}
	want := q.Offset + q.Limit
	var keys []key
	switch {
	case len(s.sel) == 1:
		if want > q.MaxScan {
			return s.tooDeep()
		}
		keys, err = s.keys(`SELECT timestamp, seq_id FROM envelopes e INDEXED BY envelopes_topic
			WHERE topic_id = ? AND timestamp BETWEEN ? AND ?`+s.order("e")+` LIMIT ? OFFSET ?`,
			s.sel[0].id, q.From, q.To, q.Limit, q.Offset)
	case len(s.sel)*want <= q.MaxScan:
		keys, err = s.merge(want)
		if err == nil {
			keys = keys[min(q.Offset, len(keys)):]
		}
	case total <= int64(q.MaxScan):
		tin, targs := idList(s.topicIDs())
		keys, err = s.keys(`SELECT timestamp, seq_id FROM envelopes e WHERE timestamp BETWEEN ? AND ? AND topic_id IN `+tin+
			s.order("e")+` LIMIT ? OFFSET ?`, append(append([]any{q.From, q.To}, targs...), q.Limit, q.Offset)...)
	default:
		return s.tooDeep()
	}
	if err != nil {
		return err
	}
	return s.load(keys)
}

func (s *search) tooDeep() error {
	return &CostError{"page", fmt.Sprintf("this page lies deeper than %d events into the selected topics' events; narrow the window with start, end or delta", s.q.MaxScan)}
}

// merge returns the first want keys, in q's order, of the selected
// topics together: each topic's first want from the topic index, merged.
func (s *search) merge(want int) ([]key, error) {
	h := &keyHeap{desc: s.q.Desc}
	for _, t := range s.sel {
		ks, err := s.keys(`SELECT timestamp, seq_id FROM envelopes e INDEXED BY envelopes_topic
			WHERE topic_id = ? AND timestamp BETWEEN ? AND ?`+s.order("e")+` LIMIT ?`, t.id, s.q.From, s.q.To, want)
		if err != nil {
			return nil, err
		}
		if len(ks) > 0 {
			h.runs = append(h.runs, ks)
		}
	}
	return h.mergeDistinct(want), nil
}

// mergeDistinct returns the first want keys of the runs together, in
// order, each once (an event may be in two runs: two of its packages).
func (h *keyHeap) mergeDistinct(want int) []key {
	heap.Init(h)
	var out []key
	for len(out) < want && h.Len() > 0 {
		r := h.runs[0]
		if len(out) == 0 || out[len(out)-1] != r[0] {
			out = append(out, r[0])
		}
		if len(r) == 1 {
			heap.Pop(h)
		} else {
			h.runs[0] = r[1:]
			heap.Fix(h, 0)
		}
	}
	return out
}

// keyHeap orders runs of keys (each in the query's order) by their first.
type keyHeap struct {
	runs [][]key
	desc bool
}

func (h *keyHeap) Len() int { return len(h.runs) }
func (h *keyHeap) Less(i, j int) bool {
	a, b := h.runs[i][0], h.runs[j][0]
	if h.desc {
		a, b = b, a
	}
	return a.ts < b.ts || (a.ts == b.ts && a.seq < b.seq)
}
func (h *keyHeap) Swap(i, j int) { h.runs[i], h.runs[j] = h.runs[j], h.runs[i] }
func (h *keyHeap) Push(x any)    { h.runs = append(h.runs, x.([]key)) }
func (h *keyHeap) Pop() any {
	r := h.runs[len(h.runs)-1]
	h.runs = h.runs[:len(h.runs)-1]
	return r
}

// count returns the exact number of the selected topics' envelopes in the
// window: the per-hour counts of the hours the window covers whole, and
// the envelopes of the hours it cuts counted one by one (at most MaxScan
// of them, or the query is refused naming the edge).
func (s *search) count() (int64, error) {
	q := s.q
	if q.From == minTime && q.To == maxTime {
		var n int64
		for _, t := range s.sel {
			n += t.n
		}
		return n, nil
	}
	lo, hi := hourOf(q.From), hourOf(q.To)
	fullLo, fullHi := lo, hi
	type edge struct {
		arg      string
		hour     int64
		from, to int64
	}
	var edges []edge
	if q.From > lo*3600 {
		fullLo = lo + 1
		edges = append(edges, edge{"start", lo, q.From, min(q.To, lo*3600+3599)})
	}
	if q.To < hi*3600+3599 && !(hi == lo && len(edges) == 1) {
		fullHi = hi - 1
		edges = append(edges, edge{"end", hi, max(q.From, hi*3600), q.To})
	} else if q.To < hi*3600+3599 {
		fullHi = hi - 1 // the one hour, cut at both ends: counted as the start's edge
	}
	n, err := s.hourSum(fullLo, fullHi)
	if err != nil {
		return 0, err
	}
	for _, e := range edges {
		inHour, err := s.hourSum(e.hour, e.hour)
		if err != nil {
			return 0, err
		}
		if inHour == 0 {
			continue
		}
		if inHour > int64(q.MaxScan) {
			return 0, &CostError{e.arg, fmt.Sprintf("the window's %s falls inside an hour with %d events of the selected topics, more than %d to count one by one; "+
				"put it on a whole hour (a multiple of 3600) or select fewer topics", e.arg, inHour, q.MaxScan)}
		}
		c, err := s.countRange(e.from, e.to)
		if err != nil {
			return 0, err
		}
		n += c
	}
	return n, nil
}

// hourSum is the number of the selected topics' envelopes in the hours
// lo to hi, from topic_hours.
func (s *search) hourSum(lo, hi int64) (int64, error) {
	if lo > hi || len(s.sel) == 0 {
		return 0, nil
	}
	tin, targs := idList(s.topicIDs())
	var n int64
	err := s.j.db.QueryRow(`SELECT COALESCE(SUM(n), 0) FROM topic_hours WHERE topic_id IN `+tin+` AND hour BETWEEN ? AND ?`,
		append(targs, lo, hi)...).Scan(&n)
	return n, err
}

// estimate is an upper bound of the selected topics' envelopes in the
// window: the per-hour counts of every hour it touches.
func (s *search) estimate() (int64, error) {
	if s.q.From == minTime && s.q.To == maxTime {
		return s.count()
	}
	return s.hourSum(hourOf(s.q.From), hourOf(s.q.To))
}

// countRange counts the selected topics' envelopes with from <= timestamp
// <= to, row by row.
func (s *search) countRange(from, to int64) (int64, error) {
	var n int64
	tin, targs := idList(s.topicIDs())
	err := s.j.db.QueryRow(`SELECT COUNT(*) FROM envelopes INDEXED BY envelopes_topic WHERE topic_id IN `+tin+` AND timestamp BETWEEN ? AND ?`,
		append(targs, from, to)...).Scan(&n)
	return n, err
}
