// Package journal is mailgw's record of every envelope it publishes: an
// embedded SQLite database (modernc.org/sqlite, pure Go, WAL mode) that
// assigns each envelope its seq_id, drops envelopes whose msg_id it has
// already seen, keeps the signed canonical body for the replay endpoint
// (in an append-only file beside it, bodies.go), and remembers which envelopes are not yet handed to the bus, so that a
// crash between journal and publish republishes instead of losing
// (docs/flow.md, docs/replay.md).
//
// seq_id starts at 1 and grows by one per journaled envelope, without gaps,
// across restarts: it is assigned inside the insert transaction from the
// highest stored seq_id, and the row holding it is never deleted. Older
// rows lose their bodies, then their rows, when pruned (prune.go).
//
// What is published is a watermark, not a flag per row (published.go):
// publishers go in seq_id order, so marking a batch moves one number
// instead of rewriting every row, body included. A journal written with
// the older per-row flag is migrated when it is opened.
package journal

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// schema is applied at every Open; it only creates what is missing.
const schema = `
CREATE TABLE IF NOT EXISTS envelopes (
	seq_id    INTEGER PRIMARY KEY,
	msg_id    TEXT    NOT NULL,
	topic     TEXT    NOT NULL,
	timestamp INTEGER NOT NULL,
	body      BLOB    NOT NULL
);
`

// Journal is an open journal. It is safe for concurrent use; several
// processes (serve and replay) may open the same file.
type Journal struct {
	db   *sql.DB
	path string
	// w is the one connection this process writes through (Add and
	// MarkPublished), under mu. SQLite drops a connection's whole page
	// cache when another connection has committed since its last
	// transaction, so with writes spread over pooled connections every
	// Add started cold and read back the index pages it had just
	// written (a tenth of a replay's CPU time).
	w  *sql.Conn
	mu sync.Mutex // serialises writers of this process
	// has is prepared once: SQLite parsing the statement per call cost
	// about a third of Has (replay profile).
	has *sql.Stmt
	// mark reads the prune mark, which every replay query checks first
	// (prune.go); prepared once, like has.
	mark *sql.Stmt
	// bfile is the bodies file; buf is Add's buffer for a batch's
	// bodies, kept between calls (under mu).
	bfile *bodyFile
	buf   []byte
	// OnDamage, when set, is called for each damaged body a query
	// skipped (serve logs it); set it before queries run.
	OnDamage func(seqID int64, err error)
	damaged  atomic.Uint64
	// legacyUntil is the last seq_id journaled before happenings
	// (legacy.go); 0 when no legacy msg_id needs looking up.
	legacyUntil int64
	// proven is the count of proven envelopes journaled (proven.go), as
	// this process saw it last: at Open, or in its last Add.
	proven atomic.Int64
	// topicIDs and packageIDs cache the ids of the search indexes
	// (index.go), under mu.
	topicIDs, packageIDs *dict
	// st are Add's statements, prepared once (index.go).
	st writeStmts
	// added is closed by the next Add that adds envelopes (Added).
	addedMu sync.Mutex
	added   chan struct{}
}

// Entry is one journaled envelope.
type Entry struct {
	SeqID     int64
	MsgID     string
	Topic     string
	Timestamp int64
	// Body is the envelope as canonical JSON, seq_id included.
	Body []byte
}

// Open opens the journal at path, creating the file and its directory if
// needed.
func Open(path string) (*Journal, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	// synchronous(FULL): the spool file is removed once its events are
	// journaled, so a commit must survive a power cut.
	//
	// cache_size(-16384), 16 MiB per connection instead of 2 MiB, keeps
	// the msg_id index of a large journal in memory, so that dedup
	// lookups do not read pages from disk (replay of 100k mails), and
	// wal_autocheckpoint(2048) (32 MiB of WAL with pageSize pages instead
	// of 16 MiB) copies a page rewritten by several commits (index pages,
	// the published watermark) into the database once, not each time.
	dsn := "file:" + path + "?_txlock=immediate&_pragma=cache_size(-16384)&_pragma=wal_autocheckpoint(2048)" +
		"&_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)"
	if err := checkHalves(path); err != nil {
		return nil, err
	}
	if err := create(path); err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	if _, err := db.Exec(schema); err != nil {
		db.Close()
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	if err = migratePublished(db); err == nil {
		err = migrateBodies(db)
	}
	if err == nil {
		err = migrateKeys(db)
	}
	if err == nil {
		err = migratePruned(db)
	}
	var legacyUntil int64
	if err == nil {
		legacyUntil, err = migrateLegacy(db)
	}
	var proven int64
	if err == nil {
		proven, err = migrateProven(db)
	}
	if err == nil {
		err = migrateOutlets(db)
	}
	if err == nil {
		err = migrateIdentity(db, BodiesPath(path))
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	j := &Journal{db: db, path: path, legacyUntil: legacyUntil,
		topicIDs: newDict("topics", "topic"), packageIDs: newDict("packages", "name")}
	j.proven.Store(proven)
	if j.bfile, err = openBodies(db, path); err != nil {
		db.Close()
		var me *MismatchError
		if errors.As(err, &me) {
			return nil, err
		}
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	if err := j.migrateSearch(); err != nil {
		j.Close()
		return nil, fmt.Errorf("journal %s: search indexes: %w", path, err)
	}
	if j.w, err = db.Conn(context.Background()); err == nil {
		j.has, err = db.Prepare(keyQuery)
	}
	if err == nil {
		j.mark, err = db.Prepare(markQuery)
	}
	if err == nil {
		err = j.st.prepare(db)
	}
	if err != nil {
		j.Close()
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	return j, nil
}

// pageSize is the page size of a new journal. With the default 4 KiB, an
// envelope body (typically 3-6 KiB) spills into overflow pages and every
// page written costs two write calls in the WAL and two calls more at the
// checkpoint; in a replay those calls were a third of the journal's CPU
// time. 16 KiB pages hold a few envelopes each.
const pageSize = 16384

// create makes a missing (or empty) journal file with pageSize pages and
// its whole schema, in one transaction: statement by statement, a new
// journal cost a dozen fsyncs, a sizeable part of a short replay's start.
// It must happen before WAL mode is set, which fixes the page size: the
// driver applies the DSN's pragmas in name order, journal_mode before
// page_size. An existing journal keeps its page size. The file is made
// 0640, like the bodies file (SQLite gives its -wal and -shm files the
// same mode).
func create(path string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
		if err == nil {
			f.Close()
		} else if !errors.Is(err, fs.ErrExist) {
			return err
		}
	case err != nil:
		return err
	case fi.Size() > 0:
		return nil
	}
	db, err := sql.Open("sqlite", fmt.Sprintf("file:%s?_pragma=busy_timeout(10000)&_pragma=page_size(%d)&_txlock=immediate", path, pageSize))
	if err != nil {
		return err
	}
	err = createTx(db)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}

// createTx writes the schema of a new journal, with the migrations'
// tables and columns, in one transaction.
func createTx(db *sql.DB) error {
	return inTx(db, func(tx *sql.Tx) error {
		if _, err := tx.Exec(schema); err != nil {
			return err
		}
		for _, migrate := range []func(*sql.Tx) error{migratePublishedTx, migrateBodiesTx, migrateKeysTx, migratePrunedTx, migrateLegacyTx, migrateProvenTx, migrateOutletsTx, createIdentityTx, migrateSearchTx} {
			if err := migrate(tx); err != nil {
				return err
			}
		}
		return nil
	})
}

// beginner is *sql.DB or *sql.Conn (the writer connection).
type beginner interface {
	BeginTx(context.Context, *sql.TxOptions) (*sql.Tx, error)
}

// inTx runs f in a transaction of db (immediate: the journal's DSN says
// so), committed when f succeeds.
func inTx(db beginner, f func(*sql.Tx) error) error {
	tx, err := db.BeginTx(context.Background(), nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := f(tx); err != nil {
		return err
	}
	return tx.Commit()
}

// Close closes the database.
func (j *Journal) Close() error {
	for _, st := range []*sql.Stmt{j.has, j.mark} {
		if st != nil {
			st.Close()
		}
	}
	j.st.close()
	var err error
	if j.w != nil {
		err = j.w.Close()
	}
	if err2 := j.db.Close(); err == nil {
		err = err2
	}
	if j.bfile != nil {
		if err2 := j.bfile.f.Close(); err == nil {
			err = err2
		}
	}
	return err
}

// Has reports whether an envelope with msgID is journaled.
func (j *Journal) Has(msgID string) (bool, error) {
	seq, _, err := findMsgID(func(key int64) *sql.Row { return j.has.QueryRow(key) }, msgID)
	if err != nil {
		return false, fmt.Errorf("journal: %w", err)
	}
	return seq != 0, nil
}

// LastSeq returns the highest seq_id, 0 for an empty journal.
func (j *Journal) LastSeq() (int64, error) {
	var n int64
	err := j.db.QueryRow(`SELECT COALESCE(MAX(seq_id), 0) FROM envelopes`).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	return n, nil
}

// Count returns the number of journaled envelopes.
func (j *Journal) Count() (int64, error) {
	var n int64
	if err := j.db.QueryRow(`SELECT COUNT(*) FROM envelopes`).Scan(&n); err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	return n, nil
}

func (j *Journal) entries(q string, args ...any) ([]Entry, error) {
	rows, err := j.db.Query(q, args...)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		var e Entry
		var sb storedBody
		if err := rows.Scan(append([]any{&e.SeqID, &e.MsgID, &e.Topic, &e.Timestamp}, sb.dest()...)...); err != nil {
			return nil, fmt.Errorf("journal: %w", err)
		}
		if e.Body, err = j.loadRow(e.SeqID, &sb); err != nil {
			if j.damagedBody(e.SeqID, err) {
				continue
			}
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return out, nil
}
