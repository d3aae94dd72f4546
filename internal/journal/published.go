package journal

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"slices"
)

// Which envelopes are published is kept apart from the envelopes, so that
// marking them does not rewrite their rows (bodies included): the
// watermark in published_mark is the highest seq_id up to which every
// envelope is published, and published_above holds the seq_ids above it
// that were published out of order (another process sharing the journal,
// or a caller marking a later batch first). MarkPublished advances the
// watermark over a contiguous published prefix only, so an envelope is
// never taken for published before it was.
const publishedSchema = `
CREATE TABLE IF NOT EXISTS published_mark (
	id     INTEGER PRIMARY KEY CHECK (id = 1),
	seq_id INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS published_above (seq_id INTEGER PRIMARY KEY);
`

// migratePublished creates the published_* tables of a journal that has
// none: empty for a new journal; for a journal written before them, with
// a per-row "published" column, from that column. The column stays (an
// older mailgw may still open the file) but is no longer read or
// written, and its partial index, which every insert would now grow, is
// dropped. It runs in an immediate transaction, so concurrent Opens
// migrate once.
func migratePublished(db *sql.DB) error {
	var n int
	if err := db.QueryRow(publishedExists).Scan(&n); err != nil || n > 0 {
		return err
	}
	return inTx(db, migratePublishedTx)
}

const publishedExists = `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'published_mark'`

// migratePublishedTx is migratePublished's work, in tx; it does nothing
// when the tables exist (made meanwhile by another process).
func migratePublishedTx(tx *sql.Tx) error {
	var n int
	if err := tx.QueryRow(publishedExists).Scan(&n); err != nil || n > 0 {
		return err
	}
	if _, err := tx.Exec(publishedSchema); err != nil {
		return err
	}
	var old int
	if err := tx.QueryRow(`SELECT COUNT(*) FROM pragma_table_info('envelopes') WHERE name = 'published'`).Scan(&old); err != nil {
		return err
	}
	var mark int64
	if old > 0 {
		// Everything below the first unpublished envelope is published.
		err := tx.QueryRow(`SELECT COALESCE((SELECT MIN(seq_id) FROM envelopes WHERE published = 0) - 1,
			(SELECT MAX(seq_id) FROM envelopes), 0)`).Scan(&mark)
		if err != nil {
			return err
		}
		for _, q := range []string{
			`INSERT INTO published_above (seq_id) SELECT seq_id FROM envelopes WHERE seq_id > ? AND published = 1`,
			`DROP INDEX IF EXISTS envelopes_unpublished`,
		} {
			if _, err := tx.Exec(q, mark); err != nil {
				return err
			}
		}
	}
	_, err := tx.Exec(`INSERT INTO published_mark (id, seq_id) VALUES (1, ?)`, mark)
	return err
}

// Unpublished returns up to limit journaled envelopes that were not marked
// published, in seq_id order.
func (j *Journal) Unpublished(limit int) ([]Entry, error) {
	return j.entries(`SELECT seq_id, msg_id, topic, timestamp, `+bodyCols+` FROM envelopes
		WHERE seq_id > (SELECT seq_id FROM published_mark WHERE id = 1)
		AND NOT EXISTS (SELECT 1 FROM published_above p WHERE p.seq_id = envelopes.seq_id)
		ORDER BY seq_id LIMIT ?`, limit)
}

// PublishedThrough returns the watermark: every envelope with a seq_id up
// to it is marked published (those above it may be too, when marked out
// of order).
func (j *Journal) PublishedThrough() (int64, error) {
	var n int64
	if err := j.db.QueryRow(`SELECT seq_id FROM published_mark WHERE id = 1`).Scan(&n); err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	return n, nil
}

// MarkPublished records that the envelopes with these seq_ids were handed
// to the bus, in one transaction. Marking the envelopes right above the
// watermark, as publishers in seq_id order do, only moves the watermark:
// the cost does not grow with the number of envelopes. Unknown and
// already marked seq_ids are ignored.
//
// The transaction commits with synchronous(NORMAL), without an fsync:
// losing a "published" mark in a power cut only republishes (which
// consumers drop by msg_id), and the next Add's commit makes it durable
// anyway (lightTx).
func (j *Journal) MarkPublished(seqIDs ...int64) error {
	if len(seqIDs) == 0 {
		return nil
	}
	return j.lightTx(func(tx *sql.Tx) error { return markTx(tx, seqIDs) })
}

// lightTx runs f in a transaction on the writer connection w (see
// Journal) that commits with synchronous(NORMAL), without an fsync, for
// marks whose loss in a power cut only delivers again; the pragma is
// switched for this commit only.
func (j *Journal) lightTx(f func(*sql.Tx) error) (err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	ctx := context.Background()
	if _, err := j.w.ExecContext(ctx, `PRAGMA synchronous = NORMAL`); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer func() {
		if _, rerr := j.w.ExecContext(ctx, `PRAGMA synchronous = FULL`); rerr != nil {
			// Never let a later Add commit without its fsync.
			j.w.Raw(func(any) error { return driver.ErrBadConn })
			err = errors.Join(err, fmt.Errorf("journal: restoring synchronous(FULL): %w", rerr))
		}
	}()
	tx, err := j.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// markTx is MarkPublished's transaction.
func markTx(tx *sql.Tx, seqIDs []int64) error {
	var mark, last int64
	if err := tx.QueryRow(`SELECT seq_id FROM published_mark WHERE id = 1`).Scan(&mark); err != nil {
		return err
	}
	if err := tx.QueryRow(`SELECT COALESCE(MAX(seq_id), 0) FROM envelopes`).Scan(&last); err != nil {
		return err
	}
	ids := slices.Clone(seqIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	next := mark
	var above int
	for _, id := range ids {
		switch {
		case id <= next || id > last:
		case id == next+1:
			next++
		default:
			if _, err := tx.Exec(`INSERT OR IGNORE INTO published_above (seq_id) VALUES (?)`, id); err != nil {
				return err
			}
			above++
		}
	}
	if next == mark && above == 0 {
		return nil
	}
	next, err := absorb(tx, next)
	if err != nil {
		return err
	}
	if next == mark {
		return nil
	}
	_, err = tx.Exec(`UPDATE published_mark SET seq_id = ? WHERE id = 1`, next)
	return err
}

// absorb moves the watermark next over the seq_ids of published_above
// that continue it, drops those at or below it, and returns it.
func absorb(tx *sql.Tx, next int64) (int64, error) {
	rows, err := tx.Query(`SELECT seq_id FROM published_above ORDER BY seq_id`)
	if err != nil {
		return 0, err
	}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		if id > next+1 {
			break
		}
		next = max(next, id)
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return 0, err
	}
	_, err = tx.Exec(`DELETE FROM published_above WHERE seq_id <= ?`, next)
	return next, err
}
