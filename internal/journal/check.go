package journal

import (
	"database/sql"
	"errors"
	"fmt"
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
