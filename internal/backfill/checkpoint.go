package backfill

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// checkpoint is the progress of one archive, stored as JSON in
// <CheckpointDir>/<key>.json. The key hashes the archive's absolute path,
// size and modification time, so a file that grows or is rewritten starts
// over (its msg_ids still keep the journal free of duplicates).
type checkpoint struct {
	Path  string    `json:"path"`
	Size  int64     `json:"size"`
	MTime time.Time `json:"mtime"`
	// Index is the last mail (archive.Mail.Index) whose events are
	// journaled or spooled, with every mail before it; -1 for none.
	Index  int   `json:"index"`
	Offset int64 `json:"offset"`
	// Done is set once the whole archive was replayed.
	Done    bool      `json:"done"`
	Updated time.Time `json:"updated"`

	file string // where it is stored; "" when checkpoints are off
}

// CheckpointFile returns the checkpoint file of the archive at path in
// dir.
func CheckpointFile(dir, path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%d", abs, fi.Size(), fi.ModTime().UnixNano()))
	return filepath.Join(dir, hex.EncodeToString(h[:12])+".json"), nil
}

// loadCheckpoint returns the archive's checkpoint, a fresh one when there
// is none (or Restart is set, or checkpoints are off).
func loadCheckpoint(o *Options, path string) (*checkpoint, error) {
	cp := &checkpoint{Index: -1}
	if o.CheckpointDir == "" || o.Mode == ModeDryRun {
		return cp, nil
	}
	abs, _ := filepath.Abs(path)
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, err
	}
	cp.Path, cp.Size, cp.MTime = abs, fi.Size(), fi.ModTime()
	file, err := CheckpointFile(o.CheckpointDir, path)
	if err != nil {
		return nil, err
	}
	cp.file = file
	if o.Restart {
		return cp, nil
	}
	data, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return cp, nil
	}
	if err != nil {
		return nil, fmt.Errorf("replay: checkpoint: %w", err)
	}
	var old checkpoint
	if err := json.Unmarshal(data, &old); err != nil {
		o.Logger.Warn("replay: unreadable checkpoint; starting over", "file", file, "err", err)
		return cp, nil
	}
	cp.Index, cp.Offset, cp.Done = old.Index, old.Offset, old.Done
	if cp.Index >= 0 && !cp.Done {
		o.Logger.Info("replay: resuming from checkpoint", "file", path, "after_mail", cp.Index, "offset", cp.Offset)
	}
	return cp, nil
}

// saveCheckpoint writes the checkpoint atomically (temp file, fsync,
// rename).
func (c *committer) saveCheckpoint() error {
	cp := c.cp
	if cp.file == "" {
		return nil
	}
	cp.Updated = c.o.Now().UTC()
	data, err := json.MarshalIndent(cp, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(cp.file), 0o750); err != nil {
		return fmt.Errorf("replay: checkpoint: %w", err)
	}
	tmp := cp.file + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("replay: checkpoint: %w", err)
	}
	_, err = f.Write(append(data, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, cp.file)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("replay: checkpoint: %w", err)
	}
	return nil
}
