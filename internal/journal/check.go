package journal

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// CheckFile looks for damage that would stop serve from opening or using
// the journal at path, without changing it: the database must be a
// readable SQLite file whose pages and indexes pass SQLite's quick_check,
// and its bodies file must hold every byte the database names. A missing
// journal passes (serve creates it). "serve --check-config" calls it.
func CheckFile(path string) error {
	fi, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("journal %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("journal %s: not a regular file", path)
	}
	// mode=ro: nothing is written, migrations and WAL checkpoints
	// included; a running serve may be writing at the same time.
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return fmt.Errorf("journal %s: %w", path, err)
	}
	defer db.Close()
	rows, err := db.Query(`PRAGMA quick_check`)
	if err != nil {
		return fmt.Errorf("journal %s: %w", path, err)
	}
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return fmt.Errorf("journal %s: %w", path, err)
		}
		if s != "ok" {
			problems = append(problems, s)
		}
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("journal %s: %w", path, err)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("journal %s: %w", path, err)
	}
	if len(problems) > 0 {
		if len(problems) > 5 {
			problems = append(problems[:5], fmt.Sprintf("and %d more", len(problems)-5))
		}
		return fmt.Errorf("journal %s is damaged: %s", path, strings.Join(problems, "; "))
	}
	// The bodies file holds at least the committed end (a journal from
	// before the bodies file has no bodies_end table and no file).
	var end int64
	err = db.QueryRow(`SELECT size FROM bodies_end WHERE id = 1`).Scan(&end)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return nil
		}
		return fmt.Errorf("journal %s: %w", path, err)
	}
	bp := BodiesPath(path)
	bfi, err := os.Stat(bp)
	switch {
	case err != nil && end > 0:
		return fmt.Errorf("journal %s names %d bytes of bodies but %w (back up and restore both files together)", path, end, err)
	case err == nil && bfi.Size() < end:
		return fmt.Errorf("bodies file %s has %d bytes but the journal names %d: "+
			"it is damaged or from another copy (back up and restore both files together)", bp, bfi.Size(), end)
	}
	return nil
}

// Report is what Check found in a journal.
type Report struct {
	// Integrity holds the messages of SQLite's integrity_check (none when
	// it says "ok"), and a query that failed on the damaged database.
	Integrity []string
	// Halves holds what is wrong between the database and its bodies
	// file (a *MismatchError's problem), if anything.
	Halves string
	// Rows is the number of envelopes checked.
	Rows int64
	// Damaged lists the seq_ids whose body fails its CRC-32C or cannot be
	// read whole, in seq_id order.
	Damaged []int64
}

// OK reports whether nothing is wrong.
func (r *Report) OK() bool { return len(r.Integrity) == 0 && r.Halves == "" && len(r.Damaged) == 0 }

// Check examines the journal at path without changing it: SQLite's
// integrity_check over the whole database (every page, index and
// constraint), the identity and size of the bodies file, and every
// body's CRC-32C. It reads everything, so it takes about as long as
// reading the bodies file once. An error means the check could not run
// (no journal there, or not readable).
func Check(path string) (*Report, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, fmt.Errorf("journal %s: %w", path, err)
	}
	defer db.Close()
	r := &Report{}
	rows, err := db.Query(`PRAGMA integrity_check`)
	if err != nil {
		r.Integrity = append(r.Integrity, err.Error())
		return r, nil
	}
	for rows.Next() {
		var msg string
		if err := rows.Scan(&msg); err == nil && msg != "ok" {
			r.Integrity = append(r.Integrity, msg)
		}
	}
	if err := rows.Err(); err != nil {
		r.Integrity = append(r.Integrity, err.Error())
	}
	rows.Close()

	f, err := os.Open(BodiesPath(path))
	if errors.Is(err, fs.ErrNotExist) {
		f, err = os.Open(os.DevNull) // checked as an empty bodies file
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var end int64
	if err := db.QueryRow(`SELECT size FROM bodies_end WHERE id = 1`).Scan(&end); err != nil {
		r.Integrity = append(r.Integrity, fmt.Sprintf("reading the bodies file's committed end: %v", err))
		return r, nil
	}
	var me *MismatchError
	if err := checkBodiesRO(db, f, path, end); errors.As(err, &me) {
		r.Halves = me.Problem
	} else if err != nil {
		r.Integrity = append(r.Integrity, err.Error())
	}

	bf := &bodyFile{f: f, path: BodiesPath(path)}
	q, err := db.Query(`SELECT seq_id, ` + bodyCols + ` FROM envelopes ORDER BY seq_id`)
	if err != nil {
		r.Integrity = append(r.Integrity, err.Error())
		return r, nil
	}
	defer q.Close()
	for q.Next() {
		var seq int64
		var sb storedBody
		if err := q.Scan(append([]any{&seq}, sb.dest()...)...); err != nil {
			r.Integrity = append(r.Integrity, fmt.Sprintf("reading row after seq_id %d: %v", seq, err))
			return r, nil
		}
		r.Rows++
		if _, err := bf.load(&sb); errors.Is(err, ErrDamaged) {
			r.Damaged = append(r.Damaged, seq)
		} else if err != nil && !errors.Is(err, errNoBody) { // pruned: no body to check
			return nil, err
		}
	}
	if err := q.Err(); err != nil {
		r.Integrity = append(r.Integrity, err.Error())
	}
	return r, nil
}

// checkBodiesRO is checkBodies for a journal opened read-only: it never
// writes the identity line.
func checkBodiesRO(db *sql.DB, f *os.File, path string, end int64) error {
	var n int
	const exists = `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'journal_identity'`
	if err := db.QueryRow(exists).Scan(&n); err != nil {
		return err
	}
	if n == 0 { // older than identities: the size alone
		fi, err := f.Stat()
		if err != nil {
			return err
		}
		if fi.Size() < end {
			return &MismatchError{Journal: path, Bodies: BodiesPath(path),
				Problem: fmt.Sprintf("the bodies file has %d bytes but the journal names %d", fi.Size(), end)}
		}
		return nil
	}
	return checkBodies(db, f, path, end, false)
}
