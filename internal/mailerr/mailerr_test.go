package mailerr

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"
)

func TestMapping(t *testing.T) {
	cases := []struct {
		name     string
		err      error
		exit     int
		code     int
		enhanced [3]int
		temp     bool
	}{
		{"spool failed", SpoolFailed(fs.ErrPermission), 75, 451, [3]int{4, 3, 0}, true},
		{"spool full wrapped", fmt.Errorf("deliver: %w", SpoolFull(errors.New("ENOSPC"))), 75, 452, [3]int{4, 3, 1}, true},
		{"too big", TooBig(10), 75, 552, [3]int{5, 3, 4}, false},
		{"not allowed", NotAllowed("recipient"), 75, 550, [3]int{5, 7, 1}, false},
		{"shutting down", ShuttingDown(), 75, 421, [3]int{4, 3, 2}, true},
		{"config", ConfigUnreadable(errors.New("x")), 75, 451, [3]int{4, 3, 5}, true},
		{"plain error is temporary", errors.New("disk on fire"), 75, 451, [3]int{4, 3, 0}, true},
	}
	for _, c := range cases {
		if got := ExitCode(c.err); got != c.exit {
			t.Errorf("%s: ExitCode = %d, want %d", c.name, got, c.exit)
		}
		r := Reply(c.err)
		if r.Code != c.code || r.Enhanced != c.enhanced || r.Temporary() != c.temp {
			t.Errorf("%s: Reply = %d %v (temporary %v), want %d %v (%v)", c.name, r.Code, r.Enhanced, r.Temporary(), c.code, c.enhanced, c.temp)
		}
	}
	if ExitCode(nil) != 0 || Reply(nil) != nil {
		t.Errorf("nil: ExitCode %d, Reply %v", ExitCode(nil), Reply(nil))
	}
}
