package journal

import (
	"database/sql"
	"strings"
)

// pkgChunk is how many package rows one statement inserts.
const pkgChunk = 32

// The statements Add runs for every batch, by index in writeQueries.
const (
	stInsert = iota
	stPkgOne
	stPkgChunk
	stHour
	stCount
	stKey
	stProven
	nStmts
)

var writeQueries = [nStmts]string{
	// ON CONFLICT: a taken msg_key (a msg_id journaled already, or rarely
	// another msg_id on the same key, msgkey.go) is found by the insert
	// itself, without a lookup statement of its own.
	stInsert: `INSERT INTO envelopes (seq_id, msg_id, msg_key, topic, timestamp, body, body_at, body_len, body_crc, topic_id, packages)
		VALUES (?, ?, ?, ?, ?, x'', ?, ?, ?, ?, ?) ON CONFLICT(msg_key) DO NOTHING`,
	stPkgOne: `INSERT OR IGNORE INTO env_packages (package_id, timestamp, seq_id, topic_id) VALUES (?, ?, ?, ?)`,
	stPkgChunk: `INSERT OR IGNORE INTO env_packages (package_id, timestamp, seq_id, topic_id) VALUES ` +
		strings.Repeat("(?, ?, ?, ?), ", pkgChunk-1) + "(?, ?, ?, ?)",
	stHour: `INSERT INTO topic_hours (topic_id, hour, n) VALUES (?, ?, ?)
		ON CONFLICT (topic_id, hour) DO UPDATE SET n = n + excluded.n`,
	stCount: `UPDATE topics SET n = n + ? WHERE id = ?`,
	// The msg_key lookup of another msg_id than an envelope's own
	// (dupCheck), and the count of proven envelopes (proven.go).
	stKey:    keyQuery,
	stProven: `UPDATE proven SET n = n + ? WHERE id = 1`,
}

// writeStmts are writeQueries prepared once on the database and taken
// into each transaction with Tx.Stmt, which reuses them on the writer's
// connection: prepared per call, SQLite parsing their text cost a
// twentieth of Add's CPU time. Before they are prepared (the migration at
// Open), a transaction prepares its own.
type writeStmts [nStmts]*sql.Stmt

func (w *writeStmts) prepare(db *sql.DB) error {
	for i, q := range writeQueries {
		st, err := db.Prepare(q)
		if err != nil {
			return err
		}
		w[i] = st
	}
	return nil
}

// stmt returns statement k for tx.
func (w *writeStmts) stmt(tx *sql.Tx, k int) (*sql.Stmt, error) {
	if w[k] != nil {
		return tx.Stmt(w[k]), nil
	}
	return tx.Prepare(writeQueries[k]) // closed with tx
}

func (w *writeStmts) close() {
	for _, st := range w {
		if st != nil {
			st.Close()
		}
	}
}
