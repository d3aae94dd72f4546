package journal

import (
	"database/sql"

	"github.com/debian/mailgw/bus"
)

// Legacy msg_ids. Since msg_ids are derived from the happening an event
// announces (docs/dedup.md), an event of a mail journaled by an older
// mailgw has a new msg_id, and the old one is in the journal. The
// envelope carries that old one as LegacyMsgID, and the journal drops
// the envelope when either is journaled. Only a journal with rows from
// before happenings needs the second lookup: the legacy table holds the
// highest seq_id journaled when this mailgw first opened the journal,
// 0 for a journal it created (or found empty), and Add and Seen look
// legacy msg_ids up only when it is above 0 (dupCheck, proven.go).

// migrateLegacyTx records the journal's last seq_id from before
// happenings, once: a journal that has the row keeps it.
func migrateLegacyTx(tx *sql.Tx) error {
	if _, err := tx.Exec(`CREATE TABLE IF NOT EXISTS legacy (
		id INTEGER PRIMARY KEY CHECK (id = 1),
		until_seq INTEGER NOT NULL)`); err != nil {
		return err
	}
	_, err := tx.Exec(`INSERT OR IGNORE INTO legacy (id, until_seq) SELECT 1, COALESCE(MAX(seq_id), 0) FROM envelopes`)
	return err
}

// migrateLegacy runs migrateLegacyTx on a journal that has no legacy row
// yet, and returns the row's until_seq.
func migrateLegacy(db *sql.DB) (int64, error) {
	return migrateRow(db, `SELECT until_seq FROM legacy WHERE id = 1`, migrateLegacyTx)
}

// migrateRow returns the number query reads from a one-row table,
// running migrate first on a journal that has no such row yet.
func migrateRow(db *sql.DB, query string, migrate func(*sql.Tx) error) (int64, error) {
	var n int64
	if err := db.QueryRow(query).Scan(&n); err == nil {
		return n, nil
	}
	if err := inTx(db, migrate); err != nil {
		return 0, err
	}
	err := db.QueryRow(query).Scan(&n)
	return n, err
}

// checksLegacy reports whether env's LegacyMsgID must be looked up.
func (j *Journal) checksLegacy(env *bus.Envelope) bool {
	return j.legacyUntil > 0 && env.LegacyMsgID != "" && env.LegacyMsgID != env.MsgID
}
