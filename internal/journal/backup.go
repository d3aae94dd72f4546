package journal

import (
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	"github.com/debian/mailgw/internal/dirsync"
)

// BackupStats says what Backup copied.
type BackupStats struct {
	// Path is the copy's journal (BodiesPath(Path) its bodies file).
	Path string
	// LastSeq is the newest seq_id in the copy; Rows its envelopes.
	LastSeq, Rows int64
	// BodiesBytes is the bodies file's committed length in the copy, of
	// which CopiedBytes were copied (the rest is pruned: a hole).
	BodiesBytes, CopiedBytes int64
}

// Backup writes a consistent copy of the journal into dir (created if
// needed; a journal already there is refused), while other goroutines
// and processes go on journaling: the database is copied in one read
// transaction (SQLite's VACUUM INTO, which also compacts it), then the
// bodies file up to the committed end that copy names. Committed bodies
// never change, so every body the copy names is in the copied bodies
// file; bytes of a prune that ran meanwhile are zeros in it, so the same
// prune is then applied to the copy. The copy is restored by putting
// both files in place of the journal's (serve stopped).
func (j *Journal) Backup(dir string) (BackupStats, error) {
	st := BackupStats{Path: filepath.Join(dir, filepath.Base(j.path))}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return st, fmt.Errorf("journal backup: %w", err)
	}
	for _, p := range []string{st.Path, BodiesPath(st.Path)} {
		if _, err := os.Lstat(p); !errors.Is(err, fs.ErrNotExist) {
			return st, fmt.Errorf("journal backup: %s exists: back up into an empty directory", p)
		}
	}
	if _, err := j.db.Exec(`VACUUM INTO ?`, st.Path); err != nil {
		return st, fmt.Errorf("journal backup: copying the database: %w", err)
	}
	if backupSnapshotHook != nil {
		backupSnapshotHook()
	}
	var m PruneMark
	err := func() error {
		db, err := sql.Open("sqlite", "file:"+st.Path+"?_pragma=busy_timeout(10000)")
		if err != nil {
			return err
		}
		defer db.Close()
		if err := db.QueryRow(`SELECT size FROM bodies_end WHERE id = 1`).Scan(&st.BodiesBytes); err != nil {
			return err
		}
		m, err = scanMark(db.QueryRow(markQuery))
		return err
	}()
	if err == nil {
		st.CopiedBytes, err = j.bfile.copyTo(BodiesPath(st.Path), st.BodiesBytes, m.BodiesFrom, m.BodiesCut)
	}
	if err == nil {
		err = dirsync.Sync(dir)
	}
	if err != nil {
		return st, fmt.Errorf("journal backup: %w", err)
	}
	// A prune that committed before the bodies were copied may have
	// punched bytes the copy's rows still name: every such prune is in
	// the live mark read now.
	live, err := j.Pruned()
	if err != nil {
		return st, fmt.Errorf("journal backup: %w", err)
	}
	c, err := Open(st.Path)
	if err != nil {
		return st, fmt.Errorf("journal backup: reopening the copy: %w", err)
	}
	defer c.Close()
	if live.Through > m.Through {
		if err := c.pruneThrough(live.Through); err != nil {
			return st, fmt.Errorf("journal backup: applying a prune made meanwhile: %w", err)
		}
	}
	if st.LastSeq, err = c.LastSeq(); err == nil {
		st.Rows, err = c.Count()
	}
	if err != nil {
		return st, fmt.Errorf("journal backup: %w", err)
	}
	return st, c.Close()
}

// backupSnapshotHook, when set (by tests), runs between the copy of
// the database and that of the bodies file.
var backupSnapshotHook func()

// pruneThrough prunes every body up to seq_id through, as a prune of
// the journal this one was copied from did: those envelopes were
// published and delivered by every outlet there, so the watermarks move
// over them first.
func (j *Journal) pruneThrough(through int64) error {
	j.mu.Lock()
	err := inTx(j.w, func(tx *sql.Tx) error {
		var mark int64
		if err := tx.QueryRow(`SELECT seq_id FROM published_mark WHERE id = 1`).Scan(&mark); err != nil {
			return err
		}
		next, err := absorb(tx, max(mark, through))
		if err == nil {
			_, err = tx.Exec(`UPDATE published_mark SET seq_id = ? WHERE id = 1`, next)
		}
		if err == nil {
			_, err = tx.Exec(`UPDATE outlets SET seq_id = ? WHERE seq_id < ?`, through, through)
		}
		return err
	})
	j.mu.Unlock()
	for err == nil {
		var n int64
		if n, _, err = j.pruneBodies(math.MaxInt64, through); n < pruneBatch {
			break
		}
	}
	return err
}

// copyTo writes the first end bytes of the bodies file to a new file at
// path, leaving [from, cut) (pruned) a hole, and syncs it. It returns the
// bytes copied.
func (b *bodyFile) copyTo(path string, end, from, cut int64) (int64, error) {
	out, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o640)
	if err != nil {
		return 0, err
	}
	defer out.Close()
	ranges := [][2]int64{{0, end}}
	if from >= 0 {
		ranges = [][2]int64{{0, from}, {cut, end}}
	}
	var copied int64
	for _, r := range ranges {
		lo, hi := r[0], min(r[1], end)
		if hi <= lo {
			continue
		}
		n, err := io.Copy(io.NewOffsetWriter(out, lo), io.NewSectionReader(b.f, lo, hi-lo))
		copied += n
		if err != nil {
			return copied, err
		}
	}
	if err := out.Truncate(end); err != nil {
		return copied, err
	}
	if err := out.Sync(); err != nil {
		return copied, err
	}
	return copied, out.Close()
}
