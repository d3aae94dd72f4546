package journal

import (
	"bytes"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// Journal identity. The database and its bodies file are two halves of
// one journal and must never be mixed up or recreated one without the
// other: a new journal over an old bodies file would reuse its seq_ids
// and cut it at the new committed end. So a journal gets a random
// identity when it is created, kept in the database (journal_identity)
// and as the first line of the bodies file,
//
//	{"mailgw_journal":"<32 hex digits>"}
//
// (a JSON line like the bodies, which never use that key). Open refuses,
// with a *MismatchError, a database that is missing or empty beside a
// bodies file that holds something, a bodies file missing or shorter
// than the database says, and a bodies file whose identity is another
// journal's. Journals made before identities get one when opened; their
// bodies file has no identity line unless it was still empty, and is
// then checked by its size only.
const identitySchema = `
CREATE TABLE IF NOT EXISTS journal_identity (
	id            INTEGER PRIMARY KEY CHECK (id = 1),
	uuid          TEXT    NOT NULL,
	bodies_header INTEGER NOT NULL
);
`

// MismatchError says the two files of a journal do not belong together
// (or one is missing): serve must not start, and an operator must decide
// (docs/recovery.md).
type MismatchError struct {
	Journal, Bodies string
	Problem         string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("journal %s and its bodies file %s do not belong together: %s. "+
		"Nothing was changed. To recover: stop every mailgw process, then either restore both files "+
		"together from the same backup, or, to start a new journal and keep the old one for reading, "+
		"move both files (and %s-wal, %s-shm) aside; see docs/recovery.md",
		e.Journal, e.Bodies, e.Problem, e.Journal, e.Journal)
}

// identityLine is the bodies file's first line for identity id.
func identityLine(id string) []byte {
	return fmt.Appendf(nil, "{\"mailgw_journal\":%q}\n", id)
}

func newIdentity() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// createIdentityTx gives a new journal its identity; the bodies file,
// still to be written, starts with the identity line.
func createIdentityTx(tx *sql.Tx) error {
	id := newIdentity()
	if _, err := tx.Exec(identitySchema); err != nil {
		return err
	}
	// OR IGNORE: another process may have created the journal meanwhile.
	res, err := tx.Exec(`INSERT OR IGNORE INTO journal_identity (id, uuid, bodies_header) VALUES (1, ?, 1)`, id)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return err
	}
	_, err = tx.Exec(`UPDATE bodies_end SET size = ? WHERE id = 1 AND size = 0`, len(identityLine(id)))
	return err
}

// migrateIdentity gives a journal made before identities one. Its bodies
// file gets the identity line only while nothing was written to it.
func migrateIdentity(db *sql.DB, bodiesPath string) error {
	var n int
	const exists = `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'journal_identity'`
	if err := db.QueryRow(exists).Scan(&n); err != nil || n > 0 {
		return err
	}
	return inTx(db, func(tx *sql.Tx) error {
		if err := tx.QueryRow(exists).Scan(&n); err != nil || n > 0 {
			return err
		}
		var end int64
		if err := tx.QueryRow(`SELECT size FROM bodies_end WHERE id = 1`).Scan(&end); err != nil {
			return err
		}
		fi, err := os.Stat(bodiesPath)
		if end == 0 && (errors.Is(err, fs.ErrNotExist) || (err == nil && fi.Size() == 0)) {
			return createIdentityTx(tx)
		}
		if _, err := tx.Exec(identitySchema); err != nil {
			return err
		}
		_, err = tx.Exec(`INSERT INTO journal_identity (id, uuid, bodies_header) VALUES (1, ?, 0)`, newIdentity())
		return err
	})
}

// checkHalves is run by Open before it touches anything: a database that
// is missing or empty (0 bytes) beside a bodies file that is not empty
// would otherwise become a new journal over the old bodies.
func checkHalves(path string) error {
	bp := BodiesPath(path)
	bfi, err := os.Stat(bp)
	if err != nil || bfi.Size() == 0 {
		return nil
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &MismatchError{Journal: path, Bodies: bp, Problem: fmt.Sprintf("the journal is missing but the bodies file holds %d bytes", bfi.Size())}
	case err == nil && fi.Size() == 0:
		return &MismatchError{Journal: path, Bodies: bp, Problem: fmt.Sprintf("the journal is empty (0 bytes) but the bodies file holds %d bytes", bfi.Size())}
	}
	return nil
}

// checkBodies checks an open bodies file against the database: at least
// the committed end long, and starting with the journal's identity line
// when the journal has one there. With repair, a journal whose bodies
// file was lost before anything was written to it gets the identity line
// again.
func checkBodies(db *sql.DB, f *os.File, journalPath string, end int64, repair bool) error {
	bp := BodiesPath(journalPath)
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	var id string
	var header bool
	err = db.QueryRow(`SELECT uuid, bodies_header FROM journal_identity WHERE id = 1`).Scan(&id, &header)
	if err != nil {
		return err
	}
	line := identityLine(id)
	if repair && header && fi.Size() == 0 && end == int64(len(line)) {
		// Nothing journaled yet: (re)write the identity line.
		if _, err := f.WriteAt(line, 0); err != nil {
			return err
		}
		return f.Sync()
	}
	if header && fi.Size() >= int64(len(line)) {
		got := make([]byte, len(line))
		if _, err := f.ReadAt(got, 0); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		if !bytes.Equal(got, line) {
			return &MismatchError{Journal: journalPath, Bodies: bp,
				Problem: fmt.Sprintf("the bodies file belongs to another journal (it starts %q, this journal is %s)", firstLine(got), id)}
		}
	}
	if fi.Size() < end {
		problem := fmt.Sprintf("the bodies file has %d bytes but the journal names %d (it is damaged, emptied or from another copy)", fi.Size(), end)
		if fi.Size() == 0 {
			problem = fmt.Sprintf("the bodies file is missing or empty but the journal names %d bytes of it", end)
		}
		return &MismatchError{Journal: journalPath, Bodies: bp, Problem: problem}
	}
	return nil
}

func firstLine(b []byte) string {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	return string(b)
}
