package journal

import (
	"path/filepath"
	"testing"
)

func TestZZPageSize(t *testing.T) {
	j := open(t, filepath.Join(t.TempDir(), "j.sqlite"))
	var ps int
	j.db.QueryRow(`PRAGMA page_size`).Scan(&ps)
	var jm string
	j.db.QueryRow(`PRAGMA journal_mode`).Scan(&jm)
	t.Logf("page_size %d journal_mode %s", ps, jm)
}
