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
// legacy msg_ids up only when it is above 0.

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
	var until int64
	err := db.QueryRow(`SELECT until_seq FROM legacy WHERE id = 1`).Scan(&until)
	if err == nil {
		return until, nil
	}
	if err := inTx(db, migrateLegacyTx); err != nil {
		return 0, err
	}
	err = db.QueryRow(`SELECT until_seq FROM legacy WHERE id = 1`).Scan(&until)
	return until, err
}

// Seen reports whether env is journaled already: its msg_id, or, in a
// journal with rows from before happenings, its LegacyMsgID.
func (j *Journal) Seen(env *bus.Envelope) (bool, error) {
	has, err := j.Has(env.MsgID)
	if has || err != nil || !j.checksLegacy(env) {
		return has, err
	}
	return j.Has(env.LegacyMsgID)
}

// checksLegacy reports whether env's LegacyMsgID must be looked up.
func (j *Journal) checksLegacy(env *bus.Envelope) bool {
	return j.legacyUntil > 0 && env.LegacyMsgID != "" && env.LegacyMsgID != env.MsgID
}

// legacyLookup returns the msg_key lookup of Add's transaction tx for
// legacyDup, a statement prepared once per Add; nil in a journal with no
// rows from before happenings.
func (j *Journal) legacyLookup(tx *sql.Tx) (func(key int64) *sql.Row, error) {
	if j.legacyUntil == 0 {
		return nil, nil
	}
	st, err := tx.Prepare(keyQuery) // closed with tx
	if err != nil {
		return nil, err
	}
	return func(key int64) *sql.Row { return st.QueryRow(key) }, nil
}

// legacyDup reports, inside Add's transaction, whether env's
// LegacyMsgID is journaled. q is legacyLookup's.
func (j *Journal) legacyDup(q func(key int64) *sql.Row, env *bus.Envelope) (bool, error) {
	if q == nil || !j.checksLegacy(env) {
		return false, nil
	}
	seq, _, err := findMsgID(q, env.LegacyMsgID)
	return seq != 0, err
}
