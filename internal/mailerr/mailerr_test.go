package mailerr

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"github.com/emersion/go-smtp"
)

func TestMapping(t *testing.T) {
	cases := []struct {
		name     string
		err      error
		exit     int
		code     int
		enhanced smtp.EnhancedCode
	}{
		{"nil", nil, 0, 0, smtp.EnhancedCode{}},
		{"spool failed", SpoolFailed(fs.ErrPermission), 75, 451, smtp.EnhancedCode{4, 3, 0}},
		{"spool full wrapped", fmt.Errorf("deliver: %w", SpoolFull(errors.New("ENOSPC"))), 75, 452, smtp.EnhancedCode{4, 3, 1}},
		{"too big", TooBig(10), 75, 552, smtp.EnhancedCode{5, 3, 4}},
		{"not allowed", NotAllowed("recipient"), 75, 550, smtp.EnhancedCode{5, 7, 1}},
		{"shutting down", ShuttingDown(), 75, 421, smtp.EnhancedCode{4, 3, 2}},
		{"config", ConfigUnreadable(errors.New("x")), 75, 451, smtp.EnhancedCode{4, 3, 5}},
		{"plain error is temporary", errors.New("disk on fire"), 75, 451, smtp.EnhancedCode{4, 3, 0}},
		{"smtp error kept", fmt.Errorf("w: %w", &smtp.SMTPError{Code: 554, EnhancedCode: smtp.EnhancedCode{5, 6, 0}, Message: "m"}), 75, 554, smtp.EnhancedCode{5, 6, 0}},
	}
	for _, c := range cases {
		if got := ExitCode(c.err); got != c.exit {
			t.Errorf("%s: ExitCode = %d, want %d", c.name, got, c.exit)
		}
		se := SMTPError(c.err)
		if c.err == nil {
			if se != nil {
				t.Errorf("%s: SMTPError(nil) = %v", c.name, se)
			}
			continue
		}
		if se.Code != c.code || se.EnhancedCode != c.enhanced {
			t.Errorf("%s: SMTPError = %d %v, want %d %v", c.name, se.Code, se.EnhancedCode, c.code, c.enhanced)
		}
	}
}
