package journal

import (
	"database/sql"
	"errors"
	"fmt"
)

// The msg_id index. msg_ids are "<year>-<uuid>" with a random-looking
// uuid, so the envelopes of a batch land on random pages of any index on
// them, and a commit writes every page it touched to the WAL. With the
// 41-byte msg_ids as keys, that index was three times the size it is with
// 8-byte keys (245 pages against 85 after a replay of 74,171 events), and
// the smaller one makes a replay write 45 % fewer SQLite bytes
// (docs/benchmarks.md). So
// each row has msg_key, a 64-bit hash of its msg_id, and the unique index
// is on msg_key: the row of a msg_id is the first row, from
// msgKey(msg_id) on (key+1, key+2, … on the rare collision, a probe
// chain), whose msg_id is that one; a free key ends the chain. Pruning
// deletes a row only when the key after it is free (prune.go), so a chain
// never breaks.

// msgKey is the key a msg_id's probe chain starts at: FNV-1a (64 bits) of
// the msg_id. It is stored in every journal and must never change. Tests
// replace it to make keys collide.
var msgKey = fnv1a

func fnv1a(s string) int64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return int64(h)
}

// maxProbes bounds a probe chain; longer chains take 2^64/maxProbes
// rows in the same stretch of keys, which is not going to happen.
const maxProbes = 64

const keyQuery = `SELECT seq_id, msg_id FROM envelopes WHERE msg_key = ?`

// findMsgID returns the seq_id of msgID's row, 0 when it has none, and
// the key where the chain ended: msgID's key when found, else the first
// free key of the chain.
func findMsgID(q func(key int64) *sql.Row, msgID string) (seq, key int64, err error) {
	key = msgKey(msgID)
	for range maxProbes {
		var other string
		err := q(key).Scan(&seq, &other)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return 0, key, nil
		case err != nil:
			return 0, key, err
		case other == msgID:
			return seq, key, nil
		}
		key++
	}
	return 0, key, fmt.Errorf("msg_id %s: %d rows on the keys from its own on", msgID, maxProbes)
}

// migrateKeys gives the journal its msg_key column and unique index, and
// a key to every row that has none (all rows of a journal made before
// msg_key, or rows an older mailgw added since), and drops the old unique
// index on msg_id. It changes nothing in a journal that is up to date.
func migrateKeys(db *sql.DB) error {
	var col, old, unkeyed int
	err := db.QueryRow(`SELECT
		(SELECT COUNT(*) FROM pragma_table_info('envelopes') WHERE name = 'msg_key'),
		(SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'envelopes_msg_id')`).Scan(&col, &old)
	if err != nil {
		return err
	}
	if col > 0 {
		if err := db.QueryRow(`SELECT EXISTS (SELECT 1 FROM envelopes WHERE msg_key IS NULL)`).Scan(&unkeyed); err != nil {
			return err
		}
		if old == 0 && unkeyed == 0 {
			return nil
		}
	}
	if err := inTx(db, migrateKeysTx); err != nil {
		return fmt.Errorf("msg_key: %w", err)
	}
	return nil
}

// migrateKeysTx is migrateKeys' work, in tx.
func migrateKeysTx(tx *sql.Tx) error {
	var col int
	if err := tx.QueryRow(`SELECT COUNT(*) FROM pragma_table_info('envelopes') WHERE name = 'msg_key'`).Scan(&col); err != nil {
		return err
	}
	if col == 0 {
		if _, err := tx.Exec(`ALTER TABLE envelopes ADD COLUMN msg_key INTEGER`); err != nil {
			return err
		}
	}
	// Unique, but rows without a key (NULL) do not clash.
	if _, err := tx.Exec(`CREATE UNIQUE INDEX IF NOT EXISTS envelopes_msg_key ON envelopes(msg_key)`); err != nil {
		return err
	}
	for {
		n, err := keyRows(tx, 10000)
		if err != nil {
			return err
		}
		if n == 0 {
			break
		}
	}
	_, err := tx.Exec(`DROP INDEX IF EXISTS envelopes_msg_id`)
	return err
}

// keyRows gives up to limit rows without a key their key, and returns
// how many it did.
func keyRows(tx *sql.Tx, limit int) (int, error) {
	rows, err := tx.Query(`SELECT seq_id, msg_id FROM envelopes WHERE msg_key IS NULL ORDER BY seq_id LIMIT ?`, limit)
	if err != nil {
		return 0, err
	}
	type row struct {
		seq int64
		id  string
	}
	var todo []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.seq, &r.id); err != nil {
			rows.Close()
			return 0, err
		}
		todo = append(todo, r)
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}
	q := func(key int64) *sql.Row { return tx.QueryRow(keyQuery, key) }
	for _, r := range todo {
		seq, key, err := findMsgID(q, r.id)
		if err != nil {
			return 0, err
		}
		if seq != 0 {
			// The same msg_id twice, which the old unique index on
			// msg_id ruled out: refuse rather than guess.
			return 0, fmt.Errorf("msg_id %s is in rows %d and %d", r.id, seq, r.seq)
		}
		if _, err := tx.Exec(`UPDATE envelopes SET msg_key = ? WHERE seq_id = ?`, key, r.seq); err != nil {
			return 0, err
		}
	}
	return len(todo), nil
}
