package main

// Exit codes shared by every subcommand; docs/man/mailgw.8 (EXIT STATUS)
// and docs/errors.md document them.
const (
	exitOK       = 0  // success
	exitFailure  = 1  // the command ran and the answer is "no" (verify: invalid)
	exitUsage    = 64 // EX_USAGE: bad flags or arguments
	exitDataErr  = 65 // EX_DATAERR: input that can never be processed
	exitSoftware = 70 // EX_SOFTWARE: internal error
	exitTempFail = 75 // EX_TEMPFAIL: try again later (MTA retries)
	exitConfig   = 78 // EX_CONFIG: configuration error (serve, tail, …; deliver uses 75)
)
