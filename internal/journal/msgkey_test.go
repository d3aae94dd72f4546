package journal

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/debian/mailgw/bus"
)

// TestMsgKeyCollisions makes every msg_id hash to one of three keys:
// distinct msg_ids all get rows (on probe chains), duplicates are still
// dropped, within a batch and across batches, and Has and ByMsgIDs find
// each msg_id's own row.
func TestMsgKeyCollisions(t *testing.T) {
	defer func(f func(string) int64) { msgKey = f }(msgKey)
	msgKey = func(id string) int64 { return int64(len(id) % 3) }
	j := open(t, filepath.Join(t.TempDir(), "j.sqlite"))
	var envs []*bus.Envelope
	for i := range 12 {
		envs = append(envs, env(fmt.Sprint(i*7), int64(i)))
	}
	envs = append(envs, env("0", 99)) // the first one again, same batch
	added, err := j.Add(envs)
	if err != nil || len(added) != 12 {
		t.Fatalf("Add: %d added, %v", len(added), err)
	}
	again, err := j.Add([]*bus.Envelope{env("7", 1), env("1000", 2), env("14", 3)})
	if err != nil || len(again) != 1 || again[0].MsgID != "2008-1000" || again[0].SeqID != 13 {
		t.Fatalf("second Add: %v, %v", again, err)
	}
	for i := range 12 {
		id := fmt.Sprint("2008-", i*7)
		if ok, err := j.Has(id); !ok || err != nil {
			t.Errorf("Has(%s) = %v, %v", id, ok, err)
		}
		bodies, err := j.ByMsgIDs([]string{id}, 10)
		if err != nil || len(bodies) != 1 {
			t.Fatalf("ByMsgIDs(%s): %d bodies, %v", id, len(bodies), err)
		}
		e, err := bus.ParseEnvelope(bodies[0])
		if err != nil || e.MsgID != id || e.SeqID != int64(i+1) {
			t.Errorf("ByMsgIDs(%s): %+v, %v", id, e, err)
		}
	}
	if ok, _ := j.Has("2008-nope"); ok {
		t.Error("Has of an unknown msg_id on a taken key")
	}
	var keys int
	j.db.QueryRow(`SELECT COUNT(DISTINCT msg_key) FROM envelopes`).Scan(&keys)
	if keys != 13 {
		t.Errorf("%d distinct keys for 13 rows", keys)
	}
}

// TestMsgKeyMigration: a journal without msg_key (made before it), and
// one whose newest rows an older mailgw added without a key, get a key on
// every row and lose the old unique index on msg_id when opened; dedup
// and look-ups work across old and new rows.
func TestMsgKeyMigration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "j.sqlite")
	j := open(t, path)
	addN(t, j, 0, 5)
	// As a journal of before msg_key: no column, the unique index on
	// msg_id (SQLite drops a column only without an index on it).
	j = reopenAfter(t, j, path, 5,
		`DROP INDEX envelopes_msg_key`,
		`ALTER TABLE envelopes DROP COLUMN msg_key`,
		`CREATE UNIQUE INDEX envelopes_msg_id ON envelopes(msg_id)`)
	addN(t, j, 5, 2) // seq 6, 7
	// An older mailgw added rows 6 and 7: no key, its index back.
	j = reopenAfter(t, j, path, 7,
		`UPDATE envelopes SET msg_key = NULL WHERE seq_id > 5`,
		`CREATE UNIQUE INDEX envelopes_msg_id ON envelopes(msg_id)`)
	if added, err := j.Add([]*bus.Envelope{env("1", 0), env("6", 0), env("7", 0)}); err != nil || len(added) != 1 || added[0].SeqID != 8 {
		t.Fatalf("Add after migration: %v, %v", added, err)
	}
}

// reopenAfter runs queries on j's database, reopens the journal at path
// (which migrates it) and checks that its n rows are keyed.
func reopenAfter(t *testing.T, j *Journal, path string, n int, queries ...string) *Journal {
	t.Helper()
	for _, q := range queries {
		if _, err := j.db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	j.Close()
	j = open(t, path)
	checkKeyed(t, j, n)
	return j
}

// checkKeyed checks that all n rows have their msg_key and that the old
// index is gone.
func checkKeyed(t *testing.T, j *Journal, n int) {
	t.Helper()
	var keyed, old int
	rows, err := j.db.Query(`SELECT msg_id, msg_key FROM envelopes`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var key *int64
		rows.Scan(&id, &key)
		if key != nil && *key == msgKey(id) {
			keyed++
		}
		if ok, err := j.Has(id); !ok || err != nil {
			t.Errorf("Has(%s) = %v, %v", id, ok, err)
		}
	}
	rows.Close()
	j.db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name = 'envelopes_msg_id'`).Scan(&old)
	if keyed != n || old != 0 {
		t.Errorf("%d of %d rows keyed, old index there: %v", keyed, n, old != 0)
	}
}
