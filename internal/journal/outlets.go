package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
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

// Batch holds what ReadAfter read: Entries, whose bodies lie in one
// buffer that the next ReadAfter into the same Batch reuses. An outlet
// that is done with a batch before it reads the next (it hands each body
// to its client, which copies it out) allocates nothing per envelope.
type Batch struct {
	// Entries are the envelopes read, valid until the Batch is read into
	// again.
	Entries []Entry
	rows    []batchRow
	buf     []byte
}

// batchRow is a row of a batch before its body is read.
type batchRow struct {
	e  Entry
	sb storedBody
}

// maxBatchBuf bounds the body buffer a Batch keeps between reads.
const maxBatchBuf = 16 << 20

// ReadAfter is After into b: up to limit envelopes with a seq_id above
// seq, in seq_id order, in b.Entries. Bodies that follow each other in
// the bodies file (those of one Add, and of Adds in a row: all of them,
// but for pruned or legacy rows) are read with one read call instead of
// one per envelope, into b's buffer. In a replay with the AMQP outlet
// on, the outlet's reads of 30,240 bodies of 4.4 KB were 141 of the 412
// MB it allocated (docs/benchmarks.md, issue 17). A body that fails its
// check is read again alone, so that damage and pruning are reported as
// After reports them.
func (j *Journal) ReadAfter(seq int64, limit int, b *Batch) error {
	b.Entries, b.rows = b.Entries[:0], b.rows[:0]
	if cap(b.buf) > maxBatchBuf {
		b.buf = nil
	}
	rows, err := j.db.Query(`SELECT seq_id, msg_id, topic, timestamp, `+bodyCols+` FROM envelopes
		WHERE seq_id > ? ORDER BY seq_id LIMIT ?`, seq, limit)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	for rows.Next() {
		b.rows = append(b.rows, batchRow{})
		r := &b.rows[len(b.rows)-1]
		if err := rows.Scan(&r.e.SeqID, &r.e.MsgID, &r.e.Topic, &r.e.Timestamp, &r.sb.inline, &r.sb.at, &r.sb.n, &r.sb.crc); err != nil {
			rows.Close()
			return fmt.Errorf("journal: %w", err)
		}
	}
	err = rows.Err()
	rows.Close()
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	// The bodies file's span of each run of rows whose bodies follow
	// each other (each body is followed by a newline), read at once.
	b.buf = b.buf[:0]
	type span struct{ from, to, at int64 } // rows [from, to), file offset at
	var spans []span
	for i := range b.rows {
		sb := &b.rows[i].sb
		if !sb.at.Valid {
			continue
		}
		if n := len(spans); n > 0 && spans[n-1].to == int64(i) {
			prev := &b.rows[i-1].sb
			if prev.at.Valid && prev.at.Int64+prev.n.Int64+1 == sb.at.Int64 {
				spans[n-1].to++
				continue
			}
		}
		spans = append(spans, span{int64(i), int64(i) + 1, sb.at.Int64})
	}
	size := 0
	for _, sp := range spans {
		last := &b.rows[sp.to-1].sb
		size += int(last.at.Int64 + last.n.Int64 - sp.at)
	}
	b.buf = slices.Grow(b.buf, size)
	for _, sp := range spans {
		last := &b.rows[sp.to-1].sb
		n := last.at.Int64 + last.n.Int64 - sp.at
		start := len(b.buf)
		b.buf = b.buf[:start+int(n)]
		if _, err := j.bfile.f.ReadAt(b.buf[start:], sp.at); err != nil {
			// Short (a truncated file): each body is read alone below,
			// which says which ones are damaged.
			b.buf = b.buf[:start]
			for i := sp.from; i < sp.to; i++ {
				b.rows[i].e.Body = nil
			}
			continue
		}
		for i := sp.from; i < sp.to; i++ {
			sb := &b.rows[i].sb
			off := start + int(sb.at.Int64-sp.at)
			b.rows[i].e.Body = b.buf[off : off+int(sb.n.Int64) : off+int(sb.n.Int64)]
		}
	}
	for i := range b.rows {
		r := &b.rows[i]
		if r.sb.at.Valid && r.e.Body != nil && int64(crc32.Checksum(r.e.Body, castagnoli)) == r.sb.crc.Int64 {
			b.Entries = append(b.Entries, r.e)
			continue
		}
		// Inline, or not read whole, or failing its CRC (damaged, or
		// pruned meanwhile): as After reads it.
		body, err := j.loadRow(r.e.SeqID, &r.sb)
		if err != nil {
			if j.damagedBody(r.e.SeqID, err) {
				continue
			}
			return err
		}
		r.e.Body = body
		b.Entries = append(b.Entries, r.e)
	}
	return nil
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
