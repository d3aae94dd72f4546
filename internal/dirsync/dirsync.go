// Package dirsync makes directory entries durable: after a file is
// created in, or renamed into, a directory, the file's own fsync is not
// enough for the entry to survive a crash; the directory must be synced
// too. The spool (Maildir renames, quarantine) and the journal (its
// bodies file) use it.
package dirsync

import "os"

// Sync fsyncs the directory dir.
func Sync(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
