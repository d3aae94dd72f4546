package journal

import (
	"cmp"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrTooMany is matched (errors.Is) by the *TooManyError that the query
// functions return when more envelopes match than the caller's limit.
var ErrTooMany = errors.New("journal: too many envelopes match")

// TooManyError says a query matched more than Limit envelopes; nothing is
// returned with it.
type TooManyError struct {
	Limit int
}

func (e *TooManyError) Error() string {
	return fmt.Sprintf("journal: more than %d envelopes match", e.Limit)
}

// Is makes errors.Is(err, ErrTooMany) true.
func (e *TooManyError) Is(target error) bool { return target == ErrTooMany }

// maxParams bounds the parameters of one IN (…) list (SQLite allows
// 32766).
const maxParams = 500

// BySeqRange returns the bodies of the envelopes with lo <= seq_id <= hi,
// in seq_id order, or a *TooManyError when more than limit match.
// A range reaching into pruned seq_ids is a *PrunedError.
func (j *Journal) BySeqRange(lo, hi int64, limit int) ([][]byte, error) {
	limit = max(limit, 0)
	if err := j.checkPruned(func(m PruneMark) bool { return hi >= 1 && lo <= m.Through }); err != nil {
		return nil, err
	}
	return j.bodies(limit, `SELECT seq_id, `+bodyCols+` FROM envelopes WHERE seq_id BETWEEN ? AND ? ORDER BY seq_id LIMIT ?`, lo, hi, limit+1)
}

// checkPruned returns a *PrunedError when pruned(the mark) says the
// query asks for pruned envelopes.
func (j *Journal) checkPruned(pruned func(PruneMark) bool) error {
	m, err := j.Pruned()
	if err != nil {
		return err
	}
	if m.Through > 0 && pruned(m) {
		return &PrunedError{Through: m.Through, Before: m.Before}
	}
	return nil
}

// BySeqIDs returns the bodies of the envelopes with these seq_ids, in
// seq_id order; unknown ids are left out, a pruned one is a
// *PrunedError.
func (j *Journal) BySeqIDs(ids []int64, limit int) ([][]byte, error) {
	err := j.checkPruned(func(m PruneMark) bool {
		return slices.ContainsFunc(ids, func(id int64) bool { return id >= 1 && id <= m.Through })
	})
	if err != nil {
		return nil, err
	}
	return bySeqList(j, ids, limit)
}

// ByMsgIDs returns the bodies of the envelopes with these msg_ids, in
// seq_id order; unknown ids are left out (as are those whose rows
// are pruned), one whose body is pruned is a *PrunedError.
func (j *Journal) ByMsgIDs(ids []string, limit int) ([][]byte, error) {
	q := func(key int64) *sql.Row { return j.has.QueryRow(key) }
	seqs := make([]int64, 0, len(ids))
	for _, id := range ids {
		seq, _, err := findMsgID(q, id)
		if err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		if seq != 0 {
			seqs = append(seqs, seq)
		}
	}
	if err := j.checkPruned(func(m PruneMark) bool { return slices.Min(append(seqs, m.Through+1)) <= m.Through }); err != nil {
		return nil, err
	}
	return bySeqList(j, seqs, limit)
}

// ByTime returns the bodies of the envelopes with t0 <= timestamp <= t1
// (Unix seconds), in seq_id order. A range that starts at or before the
// newest pruned envelope's timestamp is a *PrunedError.
func (j *Journal) ByTime(t0, t1 int64, limit int) ([][]byte, error) {
	limit = max(limit, 0)
	if err := j.checkPruned(func(m PruneMark) bool { return t0 <= m.Before }); err != nil {
		return nil, err
	}
	// Through the index by topic and time (index.go), topic by topic.
	return j.bodies(limit, `SELECT seq_id, `+bodyCols+` FROM envelopes INDEXED BY envelopes_topic
		WHERE topic_id IN (SELECT id FROM topics) AND timestamp BETWEEN ? AND ? ORDER BY seq_id LIMIT ?`, t0, t1, limit+1)
}

// bySeqList runs one IN query per chunk of seq_ids and merges them in
// seq_id order.
func bySeqList(j *Journal, ids []int64, limit int) ([][]byte, error) {
	if limit < 0 {
		limit = 0
	}
	seen := make(map[int64]bool, len(ids))
	uniq := make([]int64, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	type row struct {
		seq  int64
		body []byte
	}
	var rows []row
	for len(uniq) > 0 {
		n := min(len(uniq), maxParams)
		q, args := inList(`SELECT seq_id, `+bodyCols+` FROM envelopes WHERE seq_id IN `, uniq[:n])
		rs, err := j.db.Query(q, args...)
		if err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		for rs.Next() {
			var r row
			var sb storedBody
			if err := rs.Scan(append([]any{&r.seq}, sb.dest()...)...); err != nil {
				rs.Close()
				return nil, fmt.Errorf("journal: %w", err)
			}
			if r.body, err = j.loadRow(r.seq, &sb); err != nil {
				if j.damagedBody(r.seq, err) {
					continue
				}
				rs.Close()
				return nil, err
			}
			rows = append(rows, r)
		}
		err = rs.Err()
		rs.Close()
		if err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		if len(rows) > limit {
			return nil, &TooManyError{Limit: limit}
		}
		uniq = uniq[n:]
	}
	// Chunks come back in seq order each; merge them.
	slices.SortFunc(rows, func(a, b row) int { return cmp.Compare(a.seq, b.seq) })
	out := make([][]byte, len(rows))
	for i, r := range rows {
		out[i] = r.body
	}
	return out, nil
}

func (j *Journal) bodies(limit int, q string, args ...any) ([][]byte, error) {
	rows, err := j.db.Query(q, args...)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var seq int64
		var sb storedBody
		if err := rows.Scan(append([]any{&seq}, sb.dest()...)...); err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		b, err := j.loadRow(seq, &sb)
		if j.damagedBody(seq, err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, b)
		if len(out) > limit {
			return nil, &TooManyError{Limit: limit}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return out, nil
}

// inList appends "(?, ?, …)" for vals to prefix.
func inList(prefix string, vals []int64) (string, []any) {
	var b strings.Builder
	b.WriteString(prefix)
	b.WriteByte('(')
	args := make([]any, len(vals))
	for i, v := range vals {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('?')
		args[i] = v
	}
	b.WriteByte(')')
	return b.String(), args
}

// ErrDamaged is wrapped by the error of a body that fails its CRC-32C or
// cannot be read whole from the bodies file.
var ErrDamaged = errors.New("journal: damaged body")

// damagedBody reports whether err is a damaged body; if so it is counted
// (Damaged) and passed to OnDamage, and the query goes on without it: the
// replay endpoint answers with the undamaged envelopes instead of
// failing every query over the damaged one's range.
func (j *Journal) damagedBody(seq int64, err error) bool {
	if !errors.Is(err, ErrDamaged) {
		return false
	}
	j.damaged.Add(1)
	if j.OnDamage != nil {
		j.OnDamage(seq, err)
	}
	return true
}

// Damaged counts the damaged bodies queries skipped (each time one was
// met) since Open.
func (j *Journal) Damaged() uint64 { return j.damaged.Load() }
