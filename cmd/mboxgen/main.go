// Command mboxgen writes mbox archives of any size from the test mails, for
// replay tests and benchmarks:
//
//	go run ./cmd/mboxgen -n 100000 -o out.mbox [-seed 1] [-mails testdata/mails] [-gzip|-bzip2|-xz] [-dkim-key FILE]
//
// Mails are taken in turn from the .eml files of -mails (sorted by name);
// the first copy of each is written unchanged, later copies get a unique
// Message-ID and a varied Date so that every mail makes distinct events.
// The mbox is mboxrd-escaped. The output is the same for the same mails,
// -n and -seed. -gzip, -bzip2 and -xz pipe it through the system tool
// (xz runs with -T2 -1 for speed).
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"

	"github.com/debian/mailgw/internal/archive/archivetest"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "mboxgen:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("mboxgen", flag.ContinueOnError)
	n := fs.Int("n", 1000, "number of mails")
	out := fs.String("o", "", "output file (required; - for stdout)")
	dir := fs.String("mails", "testdata/mails", "directory of .eml files to draw from")
	seed := fs.Uint64("seed", 1, "seed for Message-IDs and dates")
	gz := fs.Bool("gzip", false, "compress with gzip")
	bz := fs.Bool("bzip2", false, "compress with bzip2")
	xz := fs.Bool("xz", false, "compress with xz -T2 -1")
	dkimKey := fs.String("dkim-key", "", "sign the mails that were DKIM-signed again with the PEM key in `FILE` (made when missing; see dkim.go)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("-o is required")
	}
	mails, err := loadMails(*dir)
	if err != nil {
		return err
	}
	var edit func([]byte) ([]byte, error)
	if *dkimKey != "" {
		key, err := loadOrMakeKey(*dkimKey)
		if err != nil {
			return err
		}
		edit = resigner(key)
	}
	var w io.Writer = os.Stdout
	if *out != "-" {
		f, err := os.Create(*out)
		if err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	var tool []string
	switch {
	case *gz:
		tool = []string{"gzip", "-c"}
	case *bz:
		tool = []string{"bzip2", "-c"}
	case *xz:
		tool = []string{"xz", "-T2", "-1", "-c"}
	}
	if tool == nil {
		return archivetest.GenerateWith(w, mails, *n, *seed, edit)
	}
	cmd := exec.Command(tool[0], tool[1:]...)
	cmd.Stdout, cmd.Stderr = w, os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", tool[0], err)
	}
	gerr := archivetest.GenerateWith(in, mails, *n, *seed, edit)
	in.Close()
	if err := cmd.Wait(); err != nil {
		return fmt.Errorf("%s: %w", tool[0], err)
	}
	return gerr
}

// loadMails reads the .eml files of dir in name order.
func loadMails(dir string) ([][]byte, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no .eml files in %s", dir)
	}
	sort.Strings(names)
	mails := make([][]byte, 0, len(names))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, err
		}
		mails = append(mails, b)
	}
	return mails, nil
}
