package journal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrNoHoles is matched by the error of a prune on a file system that
// cannot punch holes into files: the bodies are pruned from the journal
// but their bytes still take disk space.
var ErrNoHoles = errors.New("the file system cannot punch holes (fallocate PUNCH_HOLE); pruned bodies still take disk space")

// punch gives the bytes [from, cut) of the bodies file back to the file
// system without moving the bytes after them: fallocate(2) with
// PUNCH_HOLE|KEEP_SIZE, so the file keeps its length (and every stored
// offset stays valid) while the range reads as zeros and takes no blocks.
// Punching a range that is a hole already is cheap, so the whole pruned
// range is punched each time. Nothing is done for an empty range.
func (b *bodyFile) punch(from, cut int64) error {
	if from < 0 || cut <= from {
		return nil
	}
	err := unix.Fallocate(int(b.f.Fd()), unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, from, cut-from)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		return fmt.Errorf("bodies file %s: %w", b.path, ErrNoHoles)
	}
	if err != nil {
		return fmt.Errorf("bodies file %s: punching [%d, %d): %w", b.path, from, cut, err)
	}
	return nil
}

// allocated returns the bytes of disk the bodies file takes (its blocks,
// not its length), or -1 when it cannot be told.
func (b *bodyFile) allocated() int64 {
	fi, err := b.f.Stat()
	if err != nil {
		return -1
	}
	return blocks(fi)
}

// DiskUsage returns the bytes on disk (allocated blocks) of the
// journal's files, by name: "database", "wal" (SQLite's write-ahead log,
// 0 when absent) and "bodies" (sparse once pruned: its length is more).
func (j *Journal) DiskUsage() (map[string]int64, error) {
	out := map[string]int64{"bodies": j.bfile.allocated()}
	for name, p := range map[string]string{"database": j.path, "wal": j.path + "-wal"} {
		fi, err := os.Stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist) && name == "wal":
			out[name] = 0
		case err != nil:
			return nil, fmt.Errorf("journal: %w", err)
		default:
			out[name] = blocks(fi)
		}
	}
	if out["bodies"] < 0 {
		return nil, fmt.Errorf("journal: cannot stat %s", j.bfile.path)
	}
	return out, nil
}

// blocks returns the bytes fi's file takes on disk, or its length where
// the file system does not tell.
func blocks(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return fi.Size()
}
