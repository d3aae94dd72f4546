package journal

import (
	"database/sql"

	"github.com/debian/mailgw/bus"
)

// Proven msg_ids. The event of a mail the trust policy proved has a
// msg_id of its own (bus.Envelope.Proven; docs/dedup.md), so that a
// forged mail naming a real happening, journaled first, does not make
// the real one a duplicate. The event of an unproven mail carries that
// proven msg_id as ProvenMsgID, and the journal drops it when it is
// journaled: an unproven copy never comes after a proven one. The
// one-row table proven counts the proven envelopes ever journaled (Add
// adds to it in its transaction; pruning leaves it), and ProvenMsgIDs
// are looked up only when it is above 0: a gateway that proves nothing
// pays nothing.

// migrateProvenTx gives the journal its proven row, 0 in a journal that
// has none: no mailgw before proven msg_ids journaled one.
func migrateProvenTx(tx *sql.Tx) error {
	if _, err := tx.Exec(`CREATE TABLE IF NOT EXISTS proven (
		id INTEGER PRIMARY KEY CHECK (id = 1),
		n  INTEGER NOT NULL)`); err != nil {
		return err
	}
	_, err := tx.Exec(`INSERT OR IGNORE INTO proven (id, n) VALUES (1, 0)`)
	return err
}

// migrateProven runs migrateProvenTx on a journal that has no proven row
// yet, and returns the row's count.
func migrateProven(db *sql.DB) (int64, error) {
	return migrateRow(db, provenQuery, migrateProvenTx)
}

const provenQuery = `SELECT n FROM proven WHERE id = 1`

// checksProven reports whether env's ProvenMsgID must be looked up, in a
// journal holding proven envelopes.
func checksProven(proven int64, env *bus.Envelope) bool {
	return proven > 0 && env.ProvenMsgID != "" && env.ProvenMsgID != env.MsgID
}

// Seen reports whether env is journaled already: its msg_id, or, in a
// journal with rows from before happenings, its LegacyMsgID, or, in one
// holding proven envelopes, its ProvenMsgID. The count of proven
// envelopes is the one this process saw last (at Open, or its last
// Add): one journaled by another process since may be missed, which
// Add, counting inside its transaction, does not miss.
func (j *Journal) Seen(env *bus.Envelope) (bool, error) {
	has, err := j.Has(env.MsgID)
	if has || err != nil {
		return has, err
	}
	if j.checksLegacy(env) {
		if has, err = j.Has(env.LegacyMsgID); has || err != nil {
			return has, err
		}
	}
	if checksProven(j.proven.Load(), env) {
		return j.Has(env.ProvenMsgID)
	}
	return false, nil
}

// dupCheck finds, inside Add's transaction, the duplicates that another
// msg_id than an envelope's own makes: its LegacyMsgID (legacy.go) and
// its ProvenMsgID.
type dupCheck struct {
	j      *Journal
	proven int64 // the count of proven envelopes at the start of the transaction
	q      func(key int64) *sql.Row
}

// newDupCheck takes the msg_key lookup of dupCheck into tx, once per
// Add, when the journal has rows from before happenings or proven
// envelopes; proven is the count of the latter.
func (j *Journal) newDupCheck(tx *sql.Tx, proven int64) (*dupCheck, error) {
	d := &dupCheck{j: j, proven: proven}
	if j.legacyUntil == 0 && proven == 0 {
		return d, nil
	}
	st, err := j.st.stmt(tx, stKey)
	if err != nil {
		return nil, err
	}
	d.q = func(key int64) *sql.Row { return st.QueryRow(key) }
	return d, nil
}

// dup reports whether env's LegacyMsgID or ProvenMsgID is journaled.
func (d *dupCheck) dup(env *bus.Envelope) (bool, error) {
	if d.q == nil {
		return false, nil
	}
	if d.j.checksLegacy(env) {
		if found, err := d.has(env.LegacyMsgID); found || err != nil {
			return found, err
		}
	}
	if checksProven(d.proven, env) {
		return d.has(env.ProvenMsgID)
	}
	return false, nil
}

func (d *dupCheck) has(msgID string) (bool, error) {
	seq, _, err := findMsgID(d.q, msgID)
	return seq != 0, err
}

// countProven adds n to the count of proven envelopes, inside Add's
// transaction tx.
func (j *Journal) countProven(tx *sql.Tx, n int64) error {
	st, err := j.st.stmt(tx, stProven)
	if err == nil {
		_, err = st.Exec(n)
	}
	return err
}
