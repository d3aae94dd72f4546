package journal

import (
	"database/sql"
	"errors"
	"strings"

	"github.com/debian/mailgw/bus"
)

// The search indexes (search.go, stats.go; docs/web.md): what the web
// listener's history queries need beside the envelopes' rows, written in
// the transaction that adds or deletes the rows, so they are never out of
// step with them.
//
//   - topics and packages give each topic and package name a small
//     integer id, once and for all (never deleted, so a cached id stays
//     right); the indexes hold the ids: with the topic strings in them,
//     SQLite's key comparisons and the larger pages made Add take a
//     third more CPU time (BenchmarkJournalAddMark);
//   - envelopes_topic: the rows by topic_id and time, for topic and
//     category queries, and for queries by time (ByTime, and searches
//     without a topic, over every topic): it replaced the index by time,
//     so that Add maintains as many indexes as before;
//   - envelopes.packages: the event's source packages (EventPackages),
//     space-separated, and env_packages, one row per package and event,
//     by package_id and time, for package queries; env_packages is
//     filled beside Add, not by it (pkgindex.go);
//   - topic_hours and topics.n: how many rows each topic has per hour
//     (UTC, Unix time / 3600) and in all, for the totals of a query and
//     for /stats, without counting rows.
//
// A row without a topic_id is not indexed: every row of a journal from
// before the indexes, or one an older mailgw added since. They are
// indexed when the journal is opened (indexRows, reading their bodies for
// the packages), found by the partial index envelopes_unindexed, which
// costs Add nothing (its rows all have a topic_id).
const searchSchema = `
CREATE TABLE IF NOT EXISTS topics (
	id    INTEGER PRIMARY KEY,
	topic TEXT    NOT NULL UNIQUE,
	n     INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS packages (
	id   INTEGER PRIMARY KEY,
	name TEXT    NOT NULL UNIQUE
);
CREATE INDEX IF NOT EXISTS envelopes_topic ON envelopes(topic_id, timestamp);
CREATE TABLE IF NOT EXISTS env_packages (
	package_id INTEGER NOT NULL,
	timestamp  INTEGER NOT NULL,
	seq_id     INTEGER NOT NULL,
	topic_id   INTEGER NOT NULL,
	PRIMARY KEY (package_id, timestamp, seq_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS topic_hours (
	topic_id INTEGER NOT NULL,
	hour     INTEGER NOT NULL,
	n        INTEGER NOT NULL,
	PRIMARY KEY (topic_id, hour)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS package_index (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	through INTEGER NOT NULL
);
INSERT OR IGNORE INTO package_index (id, through) VALUES (1, 0);
CREATE INDEX IF NOT EXISTS envelopes_unindexed ON envelopes(seq_id) WHERE topic_id IS NULL;
DROP INDEX IF EXISTS envelopes_timestamp;
`

// dict is the committed ids of one of the name tables (topics,
// packages), cached by the writer (under Journal.mu).
type dict struct {
	table, col string
	ids        map[string]int64
}

// maxDict bounds a dict's cache; past it the cache starts afresh.
const maxDict = 1 << 18

func newDict(table, col string) *dict {
	return &dict{table: table, col: col, ids: make(map[string]int64)}
}

// indexer collects, inside one transaction, the index entries of the rows
// it is given, and writes them at the end (flush): the package rows
// pkgChunk at a time in one statement (one statement per row cost a
// seventh of Add's CPU time), the counts one statement per topic and
// hour. Ids it gives new names are pending until the transaction commits
// (commit).
type indexer struct {
	tx      *sql.Tx
	j       *Journal
	pkgs    []any // package_id, timestamp, seq_id, topic_id of each row
	hours   map[topicHour]int64
	counts  map[int64]int64
	pending map[*dict]map[string]int64
	removed bool // counts went down: empty buckets are dropped at flush
}

type topicHour struct{ topic, hour int64 }

func (j *Journal) newIndexer(tx *sql.Tx) *indexer {
	return &indexer{tx: tx, j: j, hours: make(map[topicHour]int64), counts: make(map[int64]int64),
		pending: make(map[*dict]map[string]int64)}
}

// id returns name's id in d, giving it one if it has none.
func (ix *indexer) id(d *dict, name string) (int64, error) {
	if id, ok := d.ids[name]; ok {
		return id, nil
	}
	if id, ok := ix.pending[d][name]; ok {
		return id, nil
	}
	var id int64
	err := ix.tx.QueryRow(`SELECT id FROM `+d.table+` WHERE `+d.col+` = ?`, name).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		err = ix.tx.QueryRow(`INSERT INTO `+d.table+` (`+d.col+`) VALUES (?) RETURNING id`, name).Scan(&id)
	}
	if err != nil {
		return 0, err
	}
	if ix.pending[d] == nil {
		ix.pending[d] = make(map[string]int64)
	}
	ix.pending[d][name] = id
	return id, nil
}

// topicID returns topic's id.
func (ix *indexer) topicID(topic string) (int64, error) { return ix.id(ix.j.topicIDs, topic) }

// commit makes the ids given in the committed transaction known to the
// writer's cache.
func (ix *indexer) commit() {
	for d, m := range ix.pending {
		if len(d.ids)+len(m) > maxDict {
			d.ids = make(map[string]int64)
		}
		for k, v := range m {
			d.ids[k] = v
		}
	}
}

// packagesColumn is the envelopes.packages value for pkgs: nil (NULL)
// when there is none.
func packagesColumn(pkgs []string) any {
	if len(pkgs) == 0 {
		return nil
	}
	return strings.Join(pkgs, " ")
}

// add counts the row seq, whose topic has the id topic, with timestamp
// ts.
func (ix *indexer) add(topic, ts int64) {
	ix.hours[topicHour{topic, hourOf(ts)}]++
	ix.counts[topic]++
}

// addPackages records the package index rows of the row seq.
func (ix *indexer) addPackages(seq, topic, ts int64, pkgs []string) error {
	for _, p := range pkgs {
		pid, err := ix.id(ix.j.packageIDs, p)
		if err != nil {
			return err
		}
		ix.pkgs = append(ix.pkgs, pid, ts, seq, topic)
	}
	return nil
}

// remove takes the entries of a deleted row out (pruneKeys); pkgs is its
// packages column, in the package index if seq is at most pkgThrough.
func (ix *indexer) remove(seq, topic, ts int64, pkgs sql.NullString, pkgThrough int64) error {
	for _, p := range strings.Fields(pkgs.String) {
		if seq > pkgThrough {
			break
		}
		pid, err := ix.id(ix.j.packageIDs, p)
		if err != nil {
			return err
		}
		if _, err := ix.tx.Exec(`DELETE FROM env_packages WHERE package_id = ? AND timestamp = ? AND seq_id = ?`, pid, ts, seq); err != nil {
			return err
		}
	}
	ix.hours[topicHour{topic, hourOf(ts)}]--
	ix.counts[topic]--
	ix.removed = true
	return nil
}

// flush writes the collected entries and counts.
func (ix *indexer) flush() error {
	exec := func(k int, args ...any) error {
		st, err := ix.j.st.stmt(ix.tx, k)
		if err == nil {
			_, err = st.Exec(args...)
		}
		return err
	}
	for len(ix.pkgs) > 0 {
		k, n := stPkgChunk, 4*pkgChunk
		if len(ix.pkgs) < n {
			k, n = stPkgOne, 4
		}
		if err := exec(k, ix.pkgs[:n]...); err != nil {
			return err
		}
		ix.pkgs = ix.pkgs[n:]
	}
	for k, n := range ix.hours {
		if n == 0 {
			continue
		}
		if err := exec(stHour, k.topic, k.hour, n); err != nil {
			return err
		}
	}
	for t, n := range ix.counts {
		if n == 0 {
			continue
		}
		if err := exec(stCount, n, t); err != nil {
			return err
		}
	}
	clear(ix.hours)
	clear(ix.counts)
	if ix.removed {
		if _, err := ix.tx.Exec(`DELETE FROM topic_hours WHERE n <= 0`); err != nil {
			return err
		}
	}
	return nil
}

// migrateSearchTx gives the journal its search indexes (searchSchema and
// the packages column); the rows are indexed by indexRows.
func migrateSearchTx(tx *sql.Tx) error {
	var col int
	if err := tx.QueryRow(`SELECT COUNT(*) FROM pragma_table_info('envelopes') WHERE name = 'topic_id'`).Scan(&col); err != nil {
		return err
	}
	if col == 0 {
		for _, q := range []string{`ALTER TABLE envelopes ADD COLUMN topic_id INTEGER`, `ALTER TABLE envelopes ADD COLUMN packages TEXT`} {
			if _, err := tx.Exec(q); err != nil {
				return err
			}
		}
	}
	_, err := tx.Exec(searchSchema)
	return err
}

// indexBatch bounds the rows indexRows reads at a time.
const indexBatch = 5000

// migrateSearch gives a journal the search indexes and indexes the rows
// without a topic_id: all of a journal made before the indexes (reading
// every body: about 10 s per million envelopes), or those an older mailgw
// added since. It runs in one immediate transaction, so concurrent Opens
// index once and a crash leaves nothing half done.
func (j *Journal) migrateSearch() error {
	var col int
	err := j.db.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'envelopes_unindexed'`).Scan(&col)
	if err != nil {
		return err
	}
	if col > 0 {
		var todo bool
		if err := j.db.QueryRow(`SELECT EXISTS (SELECT 1 FROM envelopes WHERE topic_id IS NULL)`).Scan(&todo); err != nil || !todo {
			return err
		}
	}
	var ix *indexer
	err = inTx(j.db, func(tx *sql.Tx) error {
		if err := migrateSearchTx(tx); err != nil {
			return err
		}
		ix = j.newIndexer(tx)
		return ix.indexRows()
	})
	if err == nil {
		ix.commit()
	}
	return err
}

// indexRows indexes every row without a topic_id.
func (ix *indexer) indexRows() error {
	tx, j := ix.tx, ix.j
	for {
		rows, err := tx.Query(`SELECT seq_id, topic, timestamp, `+bodyCols+` FROM envelopes WHERE topic_id IS NULL ORDER BY seq_id LIMIT ?`, indexBatch)
		if err != nil {
			return err
		}
		type row struct {
			seq, ts int64
			topic   string
			pkgs    []string
		}
		var batch []row
		for rows.Next() {
			var r row
			var sb storedBody
			if err := rows.Scan(append([]any{&r.seq, &r.topic, &r.ts}, sb.dest()...)...); err != nil {
				rows.Close()
				return err
			}
			// A pruned or unreadable body indexes no package: the row is
			// still found by topic and time.
			if b, err := j.bfile.load(&sb); err == nil {
				if env, err := bus.ParseEnvelope(b); err == nil {
					r.pkgs = EventPackages(env.Msg)
				}
			}
			batch = append(batch, r)
		}
		err = rows.Err()
		rows.Close()
		if err != nil || len(batch) == 0 {
			return err
		}
		for _, r := range batch {
			tid, err := ix.topicID(r.topic)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(`UPDATE envelopes SET topic_id = ?, packages = ? WHERE seq_id = ?`, tid, packagesColumn(r.pkgs), r.seq); err != nil {
				return err
			}
			ix.add(tid, r.ts)
		}
		if err := ix.flush(); err != nil {
			return err
		}
	}
}
