package main

import "github.com/spf13/cobra"

const journalLong = `Inspect and maintain the journal (state_dir/journal.sqlite and its bodies
file), which keeps every published envelope with its seq_id.`

// newJournalCmd is "mailgw journal": the journal's maintenance commands
// ("check", "backup", "prune"), each added here by its own constructor in
// its own file.
func newJournalCmd(g *globals) *cobra.Command {
	return newGroupCmd("journal", "check, back up and prune the journal", journalLong,
		newJournalCheckCmd(g), newJournalBackupCmd(g), newJournalPruneCmd(g))
}
