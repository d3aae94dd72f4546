package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Outlets are deliveries of the journal beside the ZeroMQ bus (the AMQP
// publisher, docs/amqp.md). Each has a watermark of its own in the
// outlets table: every envelope up to it was delivered (confirmed by the
// outlet's receiver), so an outlet that was down, or a process that
// crashed, resumes right after it. Outlets deliver in seq_id order, so
// one number per outlet is enough. Pruning never passes an outlet's
// watermark (DeliveredThrough): an envelope an outlet has not delivered
// keeps its body.
const outletsSchema = `
CREATE TABLE IF NOT EXISTS outlets (
	name   TEXT    PRIMARY KEY,
	seq_id INTEGER NOT NULL
) WITHOUT ROWID;
`

const outletsExists = `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'outlets'`

// migrateOutlets creates the outlets table of a journal made before it.
func migrateOutlets(db *sql.DB) error {
	var n int
	if err := db.QueryRow(outletsExists).Scan(&n); err != nil || n > 0 {
		return err
	}
	return inTx(db, migrateOutletsTx)
}

// migrateOutletsTx is migrateOutlets' work, in tx.
func migrateOutletsTx(tx *sql.Tx) error {
	_, err := tx.Exec(outletsSchema)
	return err
}

// DeliveredThrough is an SQL expression for the highest seq_id up to
// which every envelope was handed to the bus and delivered by every
// outlet: what may be pruned.
const DeliveredThrough = `MIN((SELECT seq_id FROM published_mark WHERE id = 1),
	COALESCE((SELECT MIN(seq_id) FROM outlets), 9223372036854775807))`

// OpenOutlet returns the watermark of the outlet called name, and makes
// the outlet if it has none: with the watermark at the journal's highest
// seq_id when atEnd (it delivers what is journaled from now on), else
// before the oldest envelope whose body is kept (it delivers the whole
// journal). created says it was made now.
func (j *Journal) OpenOutlet(name string, atEnd bool) (mark int64, created bool, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	tx, err := j.w.BeginTx(context.Background(), nil)
	if err != nil {
		return 0, false, fmt.Errorf("journal: %w", err)
	}
	defer tx.Rollback()
	err = tx.QueryRow(`SELECT seq_id FROM outlets WHERE name = ?`, name).Scan(&mark)
	if err == nil {
		return mark, false, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, false, fmt.Errorf("journal: %w", err)
	}
	// From the start means from the oldest body not pruned.
	q := `SELECT seq_id FROM pruned WHERE id = 1`
	if atEnd {
		q = `SELECT COALESCE(MAX(seq_id), 0) FROM envelopes`
	}
	if err := tx.QueryRow(q).Scan(&mark); err != nil {
		return 0, false, fmt.Errorf("journal: %w", err)
	}
	if _, err := tx.Exec(`INSERT INTO outlets (name, seq_id) VALUES (?, ?)`, name, mark); err != nil {
		return 0, false, fmt.Errorf("journal: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, false, fmt.Errorf("journal: %w", err)
	}
	return mark, true, nil
}

// DropOutlet forgets the outlet called name (it no longer holds pruning
// back) and returns the watermark it had; existed is false when there
// was none.
func (j *Journal) DropOutlet(name string) (mark int64, existed bool, err error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	err = j.w.QueryRowContext(context.Background(), `DELETE FROM outlets WHERE name = ? RETURNING seq_id`, name).Scan(&mark)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return 0, false, nil
	case err != nil:
		return 0, false, fmt.Errorf("journal: %w", err)
	}
	return mark, true, nil
}

// OutletMark returns the watermark of the outlet called name; an outlet
// that does not exist is an error.
func (j *Journal) OutletMark(name string) (int64, error) {
	var n int64
	err := j.db.QueryRow(`SELECT seq_id FROM outlets WHERE name = ?`, name).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("journal: no outlet %q", name)
	}
	if err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	return n, nil
}

// MarkOutlet moves the watermark of the outlet called name up to seq
// (never down). Like MarkPublished it commits without an fsync: a mark
// lost in a power cut only delivers a few envelopes again.
func (j *Journal) MarkOutlet(name string, seq int64) error {
	return j.lightTx(func(tx *sql.Tx) error {
		_, err := tx.Exec(`UPDATE outlets SET seq_id = ? WHERE name = ? AND seq_id < ?`, seq, name, seq)
		return err
	})
}

// After returns up to limit envelopes with a seq_id above seq, in seq_id
// order: what an outlet delivers next.
func (j *Journal) After(seq int64, limit int) ([]Entry, error) {
	return j.entries(`SELECT seq_id, msg_id, topic, timestamp, `+bodyCols+` FROM envelopes
		WHERE seq_id > ? ORDER BY seq_id LIMIT ?`, seq, limit)
}

// Added returns a channel that is closed when envelopes are next added
// (by this process): outlets wait on it instead of polling.
func (j *Journal) Added() <-chan struct{} {
	j.addedMu.Lock()
	defer j.addedMu.Unlock()
	if j.added == nil {
		j.added = make(chan struct{})
	}
	return j.added
}

// signalAdded wakes the waiters of Added.
func (j *Journal) signalAdded() {
	j.addedMu.Lock()
	if j.added != nil {
		close(j.added)
		j.added = nil
	}
	j.addedMu.Unlock()
}
