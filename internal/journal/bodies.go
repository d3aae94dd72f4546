package journal

import (
	"database/sql"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/debian/mailgw/internal/dirsync"
)

// The envelopes' bodies live outside SQLite, in an append-only file next
// to the database: BodiesPath(journal), one canonical JSON body per line
// (canonical JSON has no raw newline), so the file is JSON lines that jq
// reads. Each row of envelopes names its body's offset, length and
// CRC-32C (body_at, body_len, body_crc). In SQLite every body was written
// twice, to the WAL and by the checkpoint, page by page with a checksum;
// moving them out took a third off the journal's CPU time in a replay of
// 50,000 mails (docs/benchmarks.md). Rows journaled before the file existed keep
// their body in the body column, and are read from there.
//
// Consistency: only a writer holding the SQLite write lock appends (Add
// runs in an immediate transaction), at the committed end recorded in
// bodies_end, and the bytes are on disk (fsync) before the transaction
// that names them commits. A crash between the two leaves bytes past the
// committed end that no row names; the next writer truncates them first.
// Readers only read what committed rows name.
const bodiesSchema = `
CREATE TABLE IF NOT EXISTS bodies_end (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	size INTEGER NOT NULL
);
INSERT OR IGNORE INTO bodies_end (id, size) VALUES (1, 0);
`

// BodiesPath returns the path of the bodies file of the journal at
// journalPath. Back it up (and restore it) together with the journal.
func BodiesPath(journalPath string) string { return journalPath + "-bodies" }

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// bodyFile is an open bodies file.
type bodyFile struct {
	f    *os.File
	path string
}

// openBodies opens (or creates) the bodies file of the journal at
// journalPath and checks that it holds at least the committed end that
// db records.
func openBodies(db *sql.DB, journalPath string) (*bodyFile, error) {
	path := BodiesPath(journalPath)
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	if errors.Is(statErr, os.ErrNotExist) {
		if err := dirsync.Sync(filepath.Dir(path)); err != nil {
			f.Close()
			return nil, err
		}
	}
	var end int64
	if err := db.QueryRow(`SELECT size FROM bodies_end WHERE id = 1`).Scan(&end); err != nil {
		f.Close()
		return nil, err
	}
	if err := checkBodies(db, f, journalPath, end, true); err != nil {
		f.Close()
		return nil, err
	}
	return &bodyFile{f: f, path: path}, nil
}

// write puts buf at end, the committed end, after dropping whatever an
// interrupted writer left past it, and syncs the data to disk.
func (b *bodyFile) write(end int64, buf []byte) error {
	if err := b.f.Truncate(end); err != nil {
		return fmt.Errorf("bodies file: %w", err)
	}
	if _, err := b.f.WriteAt(buf, end); err != nil {
		return fmt.Errorf("bodies file: %w", err)
	}
	if err := b.f.Sync(); err != nil {
		return fmt.Errorf("bodies file: %w", err)
	}
	return nil
}

// storedBody is a row's body as stored: inline (rows from before the
// bodies file) or a reference into the bodies file.
type storedBody struct {
	inline []byte
	at     sql.NullInt64
	n      sql.NullInt64
	crc    sql.NullInt64
}

// bodyCols are the columns that scan into a storedBody, in dest order.
const bodyCols = `body, body_at, body_len, body_crc`

func (s *storedBody) dest() []any { return []any{&s.inline, &s.at, &s.n, &s.crc} }

// errNoBody is load's error for a row whose body is pruned.
var errNoBody = errors.New("journal: envelope without body")

// loadRow is load for the row with seq_id seq: when the body cannot be
// read and seq is pruned (meanwhile: the row was read before a prune
// committed, its bytes after the hole was punched), the error is a
// *PrunedError, not damage.
func (j *Journal) loadRow(seq int64, s *storedBody) ([]byte, error) {
	b, err := j.bfile.load(s)
	if err != nil {
		if m, merr := j.Pruned(); merr == nil && seq <= m.Through {
			return nil, &PrunedError{Through: m.Through, Before: m.Before}
		}
	}
	return b, err
}

// load returns the body s describes, read from the bodies file and
// checked against its CRC when it is stored there.
func (b *bodyFile) load(s *storedBody) ([]byte, error) {
	if !s.at.Valid {
		if len(s.inline) == 0 {
			return nil, errNoBody // pruned (prune.go)
		}
		return s.inline, nil
	}
	at, n := s.at.Int64, s.n.Int64
	buf := make([]byte, n)
	if _, err := b.f.ReadAt(buf, at); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("journal: %s: body at offset %d (%d bytes): %w (%w)", b.path, at, n, err, ErrDamaged)
	}
	if int64(crc32.Checksum(buf, castagnoli)) != s.crc.Int64 {
		return nil, fmt.Errorf("journal: %s: body at offset %d (%d bytes) is damaged (CRC-32C mismatch): %w", b.path, at, n, ErrDamaged)
	}
	return buf, nil
}

// migrateBodies adds the bodies-file columns and table to a journal that
// lacks them (every journal made before the bodies file, and every new
// one: the envelopes table is created in its first form). It runs in an
// immediate transaction, so concurrent Opens migrate once.
func migrateBodies(db *sql.DB) error {
	var n int
	if err := db.QueryRow(bodiesColumn).Scan(&n); err != nil || n > 0 {
		return err
	}
	return inTx(db, migrateBodiesTx)
}

const bodiesColumn = `SELECT COUNT(*) FROM pragma_table_info('envelopes') WHERE name = 'body_at'`

// migrateBodiesTx is migrateBodies' work, in tx; it does nothing when
// the columns exist (added meanwhile by another process).
func migrateBodiesTx(tx *sql.Tx) error {
	var n int
	if err := tx.QueryRow(bodiesColumn).Scan(&n); err != nil || n > 0 {
		return err
	}
	for _, q := range []string{
		`ALTER TABLE envelopes ADD COLUMN body_at INTEGER`,
		`ALTER TABLE envelopes ADD COLUMN body_len INTEGER`,
		`ALTER TABLE envelopes ADD COLUMN body_crc INTEGER`,
		bodiesSchema,
	} {
		if _, err := tx.Exec(q); err != nil {
			return err
		}
	}
	return nil
}
