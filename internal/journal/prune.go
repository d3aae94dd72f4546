package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Pruning (retention, dedup_retention in the config; docs/operations.md).
// Envelopes are pruned in two steps, both in seq_id order from the oldest:
//
//   - bodies: an envelope journaled before the bodies cutoff loses its
//     body (the row keeps seq_id, msg_id, msg_key, topic and timestamp,
//     with body_at, body_len and body_crc NULL and body empty), and the
//     bytes it had in the bodies file are given back to the file system
//     (a hole punched in the file: offsets of the kept bodies do not
//     move, so nothing is rewritten and readers never pause);
//   - keys: an envelope journaled before the keys cutoff loses its row,
//     and with it its dedup key; a redelivery of its mail is then
//     published again. Keys are pruned only where bodies are.
//
// The pruned table records how far each step went, so that a query for
// a pruned envelope is answered "pruned" (PrunedError) rather than "no
// match". Pruning never passes the published watermark nor an outlet's
// (DeliveredThrough: an envelope not yet on the bus, or not yet confirmed
// by the AMQP broker, keeps its body) and never deletes the newest row
// (seq_id continues from it).
const prunedSchema = `
CREATE TABLE IF NOT EXISTS pruned (
	id          INTEGER PRIMARY KEY CHECK (id = 1),
	seq_id      INTEGER NOT NULL, -- bodies of seq_ids up to this are pruned
	timestamp   INTEGER NOT NULL, -- the newest timestamp among them
	bodies_from INTEGER NOT NULL, -- the pruned bodies' bytes: [bodies_from, bodies_cut)
	bodies_cut  INTEGER NOT NULL,
	keys_seq_id INTEGER NOT NULL  -- rows (dedup keys) up to this seq_id are deleted
);
INSERT OR IGNORE INTO pruned (id, seq_id, timestamp, bodies_from, bodies_cut, keys_seq_id) VALUES (1, 0, 0, -1, 0, 0);
`

// ErrPruned is matched (errors.Is) by the *PrunedError of a query that
// asks for pruned envelopes.
var ErrPruned = errors.New("journal: envelopes pruned")

// PrunedError says a query asked for envelopes whose bodies are pruned:
// every seq_id up to Through is, and their timestamps are at most Before.
// Nothing is returned with it; ask again from Through+1.
type PrunedError struct {
	Through int64
	Before  int64
}

func (e *PrunedError) Error() string {
	return fmt.Sprintf("journal: seq_ids up to %d are pruned (retention); the oldest kept is %d", e.Through, e.Through+1)
}

// Is makes errors.Is(err, ErrPruned) true.
func (e *PrunedError) Is(target error) bool { return target == ErrPruned }

// PruneMark is how far pruning went (the pruned table).
type PruneMark struct {
	// Through: bodies of seq_ids up to it are pruned; Before: the newest
	// timestamp among them.
	Through, Before int64
	// KeysThrough: rows (dedup keys) up to this seq_id are deleted.
	KeysThrough int64
	// BodiesFrom and BodiesCut delimit the bytes of the bodies file that
	// held pruned bodies (BodiesFrom -1 before the first prune).
	BodiesFrom, BodiesCut int64
}

const markQuery = `SELECT seq_id, timestamp, keys_seq_id, bodies_from, bodies_cut FROM pruned WHERE id = 1`

func scanMark(r *sql.Row) (PruneMark, error) {
	var m PruneMark
	err := r.Scan(&m.Through, &m.Before, &m.KeysThrough, &m.BodiesFrom, &m.BodiesCut)
	return m, err
}

// Pruned returns how far pruning went.
func (j *Journal) Pruned() (PruneMark, error) {
	m, err := scanMark(j.mark.QueryRow())
	if err != nil {
		return m, fmt.Errorf("journal: %w", err)
	}
	return m, nil
}

// PruneStats says what one Prune did.
type PruneStats struct {
	// Bodies and Keys count the envelopes that lost their body, and
	// those that lost their row (dedup key), in this call.
	Bodies, Keys int64
	// Reclaimed is the size of the bodies file's range given back to the
	// file system in this call.
	Reclaimed int64
	// Mark is how far pruning went after it.
	Mark PruneMark
}

// pruneBatch bounds the envelopes one prune transaction handles, so that
// an Add waits for at most one batch (well under a second) rather than
// for the whole prune.
const pruneBatch = 5000

// Prune prunes the bodies of the published envelopes journaled before
// bodiesBefore, and the rows (dedup keys) of those journaled before
// keysBefore (never further than bodies); a zero time prunes nothing of
// that kind. It runs in batches of pruneBatch envelopes, each its own
// transaction, so serve keeps journaling meanwhile, and is safe to run
// concurrently with other processes using the journal. It stops between
// batches when ctx ends, with ctx's error; what it pruned stays pruned.
func (j *Journal) Prune(ctx context.Context, bodiesBefore, keysBefore time.Time) (PruneStats, error) {
	var st PruneStats
	// Bytes of an earlier prune whose process died between its commit and
	// its hole punch are given back first.
	m, err := j.Pruned()
	if err != nil {
		return st, err
	}
	if err := j.bfile.punch(m.BodiesFrom, m.BodiesCut); err != nil {
		return st, err
	}
	if !bodiesBefore.IsZero() {
		for ctx.Err() == nil {
			n, reclaimed, err := j.pruneBodies(bodiesBefore.Unix(), -1)
			st.Bodies += n
			st.Reclaimed += reclaimed
			if err != nil {
				return st, fmt.Errorf("journal: prune: %w", err)
			}
			if n < pruneBatch {
				break
			}
		}
	}
	if !keysBefore.IsZero() {
		for ctx.Err() == nil {
			n, more, err := j.pruneKeys(keysBefore.Unix())
			st.Keys += n
			if err != nil {
				return st, fmt.Errorf("journal: prune keys: %w", err)
			}
			if !more {
				break
			}
		}
	}
	if st.Mark, err = j.Pruned(); err == nil {
		err = ctx.Err()
	}
	return st, err
}

// pruneBodies prunes the bodies of up to pruneBatch published envelopes
// after the mark, in seq_id order, stopping at the first journaled at or
// after before (and after through, when it is not -1). It returns how
// many it pruned and the bytes it punched.
func (j *Journal) pruneBodies(before, through int64) (int64, int64, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	var m PruneMark
	var n int64
	err := inTx(j.w, func(tx *sql.Tx) error {
		var err error
		if m, err = scanMark(tx.QueryRow(markQuery)); err != nil {
			return err
		}
		rows, err := tx.Query(`SELECT seq_id, timestamp, body_at, body_len FROM envelopes
			WHERE seq_id > ? AND seq_id <= `+DeliveredThrough+`
			AND (? < 0 OR seq_id <= ?)
			ORDER BY seq_id LIMIT ?`, m.Through, through, through, pruneBatch)
		if err != nil {
			return err
		}
		last, newest := m.Through, m.Before
		from, cut := m.BodiesFrom, m.BodiesCut
		for rows.Next() {
			var seq, ts int64
			var at, ln sql.NullInt64
			if err := rows.Scan(&seq, &ts, &at, &ln); err != nil {
				rows.Close()
				return err
			}
			if ts >= before {
				break
			}
			last, newest = seq, max(newest, ts)
			if at.Valid {
				if from < 0 {
					from = at.Int64
				}
				cut = at.Int64 + ln.Int64 + 1 // the body and its newline
			}
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil || n == 0 {
			return err
		}
		if _, err := tx.Exec(`UPDATE envelopes SET body = x'', body_at = NULL, body_len = NULL, body_crc = NULL
			WHERE seq_id > ? AND seq_id <= ?`, m.Through, last); err != nil {
			return err
		}
		m.Through, m.Before, m.BodiesFrom, m.BodiesCut = last, newest, from, cut
		_, err = tx.Exec(`UPDATE pruned SET seq_id = ?, timestamp = ?, bodies_from = ?, bodies_cut = ? WHERE id = 1`,
			m.Through, m.Before, m.BodiesFrom, m.BodiesCut)
		return err
	})
	if err != nil || n == 0 {
		return 0, 0, err
	}
	// After the commit: a reader that still holds an old row and reads
	// its body now finds the hole, fails the CRC check and learns from
	// the mark that it is pruned (loadRow).
	before0 := j.bfile.allocated()
	if err := j.bfile.punch(m.BodiesFrom, m.BodiesCut); err != nil {
		return n, 0, err
	}
	return n, max(before0-j.bfile.allocated(), 0), nil
}

// pruneKeys deletes the rows of up to pruneBatch envelopes whose bodies
// are pruned and that were journaled before before, in seq_id order, and
// reports whether there may be more. The newest row is never deleted:
// seq_id continues from it. A row whose key is followed by an occupied
// key stays (a probe chain may pass through it, msgkey.go: deleting it
// would hide the msg_ids further down the chain); with 64-bit keys that
// is next to never.
func (j *Journal) pruneKeys(before int64) (int64, bool, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	var n, scanned int64
	var ix *indexer
	err := inTx(j.w, func(tx *sql.Tx) error {
		m, err := scanMark(tx.QueryRow(markQuery))
		if err != nil {
			return err
		}
		rows, err := tx.Query(`SELECT seq_id, timestamp FROM envelopes
			WHERE seq_id > ? AND seq_id <= ? AND seq_id < (SELECT MAX(seq_id) FROM envelopes)
			ORDER BY seq_id LIMIT ?`, m.KeysThrough, m.Through, pruneBatch)
		if err != nil {
			return err
		}
		hi := m.KeysThrough
		for rows.Next() {
			var seq, ts int64
			if err := rows.Scan(&seq, &ts); err != nil {
				rows.Close()
				return err
			}
			if ts >= before {
				break
			}
			hi = seq
			scanned++
		}
		rows.Close()
		if err := rows.Err(); err != nil || scanned == 0 {
			return err
		}
		// The largest key has no next key in SQL (the sum overflows to a
		// float) while Go's key++ wraps: that row always stays.
		// The deleted rows leave the search indexes too (index.go).
		del, err := tx.Query(`DELETE FROM envelopes WHERE seq_id > ? AND seq_id <= ?
			AND IFNULL(msg_key, 0) <> 9223372036854775807
			AND NOT EXISTS (SELECT 1 FROM envelopes e WHERE e.msg_key = envelopes.msg_key + 1)
			RETURNING seq_id, topic_id, timestamp, packages`, m.KeysThrough, hi)
		if err != nil {
			return err
		}
		type gone struct {
			seq, topic, ts int64
			pkgs           sql.NullString
		}
		var deleted []gone
		for del.Next() {
			var g gone
			if err := del.Scan(&g.seq, &g.topic, &g.ts, &g.pkgs); err != nil {
				del.Close()
				return err
			}
			deleted = append(deleted, g)
		}
		err = del.Err()
		del.Close()
		if err != nil {
			return err
		}
		var pkgThrough int64
		if err := tx.QueryRow(`SELECT through FROM package_index WHERE id = 1`).Scan(&pkgThrough); err != nil {
			return err
		}
		ix = j.newIndexer(tx)
		for _, g := range deleted {
			if err := ix.remove(g.seq, g.topic, g.ts, g.pkgs, pkgThrough); err != nil {
				return err
			}
		}
		if err := ix.flush(); err != nil {
			return err
		}
		n = int64(len(deleted))
		_, err = tx.Exec(`UPDATE pruned SET keys_seq_id = ? WHERE id = 1`, hi)
		return err
	})
	if err == nil && ix != nil {
		ix.commit()
	}
	return n, scanned == pruneBatch, err
}

// migratePruned adds the pruned table to a journal that lacks it.
func migratePruned(db *sql.DB) error {
	var n int
	if err := db.QueryRow(prunedExists).Scan(&n); err != nil || n > 0 {
		return err
	}
	return inTx(db, migratePrunedTx)
}

const prunedExists = `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'pruned'`

// migratePrunedTx is migratePruned's work, in tx.
func migratePrunedTx(tx *sql.Tx) error {
	_, err := tx.Exec(prunedSchema)
	return err
}
