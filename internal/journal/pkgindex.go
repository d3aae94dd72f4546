package journal

import (
	"database/sql"
	"fmt"
	"strings"
)

// The package index (env_packages) is filled beside Add rather than by
// it: with a row per package and event written in Add's transaction, a
// replay of 50,000 mails (228,400 package rows for 75,600 events) took
// 12 % more CPU time, while the topic index and the counts cost next to
// nothing. Add only writes each row's packages column; IndexPackages,
// which the web listener calls after each batch it is told of, moves
// them into env_packages in large transactions and records how far it
// went in package_index.through. Queries by package read env_packages up
// to through and the packages column of the rows after it (the tail), so
// they are exact whether the index is up to date or not; a tail longer
// than the query's MaxScan is refused (CostError) until it is indexed.

// IndexPackages adds to the package index the packages of up to limit
// rows journaled after those it indexed last, in one transaction, and
// returns how many rows it indexed (0: the index is up to date).
func (j *Journal) IndexPackages(limit int) (int, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	var n int
	var ix *indexer
	err := inTx(j.w, func(tx *sql.Tx) error {
		var through int64
		if err := tx.QueryRow(`SELECT through FROM package_index WHERE id = 1`).Scan(&through); err != nil {
			return err
		}
		// A row without a topic_id (added by an older mailgw since the
		// journal was opened) ends the batch: it is indexed at the next
		// Open, and the package index waits for it.
		rows, err := tx.Query(`SELECT seq_id, timestamp, topic_id, packages FROM envelopes
			WHERE seq_id > ? ORDER BY seq_id LIMIT ?`, through, limit)
		if err != nil {
			return err
		}
		type row struct {
			seq, ts int64
			topic   sql.NullInt64
			pkgs    sql.NullString
		}
		var batch []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.seq, &r.ts, &r.topic, &r.pkgs); err != nil {
				rows.Close()
				return err
			}
			if !r.topic.Valid {
				break
			}
			batch = append(batch, r)
		}
		err = rows.Err()
		rows.Close()
		if err != nil || len(batch) == 0 {
			return err
		}
		ix = j.newIndexer(tx)
		for _, r := range batch {
			if err := ix.addPackages(r.seq, r.topic.Int64, r.ts, strings.Fields(r.pkgs.String)); err != nil {
				return err
			}
		}
		if err := ix.flush(); err != nil {
			return err
		}
		n = len(batch)
		_, err = tx.Exec(`UPDATE package_index SET through = ? WHERE id = 1`, batch[len(batch)-1].seq)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("journal: package index: %w", err)
	}
	if ix != nil {
		ix.commit()
	}
	return n, nil
}

// packageTail returns package_index.through and how many rows at most
// were journaled after it (the tail that queries by package read from the
// packages column).
func (j *Journal) packageTail() (through, behind int64, err error) {
	err = j.db.QueryRow(`SELECT through, (SELECT COALESCE(MAX(seq_id), 0) FROM envelopes) FROM package_index WHERE id = 1`).Scan(&through, &behind)
	return through, max(behind-through, 0), err
}

// PackageIndexBehind returns how many envelopes at most the package index
// has yet to take in (the web listener's metric).
func (j *Journal) PackageIndexBehind() (int64, error) {
	_, behind, err := j.packageTail()
	if err != nil {
		return 0, fmt.Errorf("journal: %w", err)
	}
	return behind, nil
}

// hasPackage is the SQL condition that the packages column col (of a row
// in the tail) names one of names, and its arguments.
func hasPackage(col string, names []string) (string, []any) {
	var b strings.Builder
	args := make([]any, len(names))
	b.WriteByte('(')
	for i, n := range names {
		if i > 0 {
			b.WriteString(" OR ")
		}
		b.WriteString("instr(' ' || COALESCE(" + col + ", '') || ' ', ?) > 0")
		args[i] = " " + strings.TrimPrefix(n, "src:") + " "
	}
	b.WriteByte(')')
	return b.String(), args
}
