package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// The command tree. Every subcommand is built by one newXxxCmd function in
// its own cmd_xxx.go file and listed in subcommands; docs/HACKING.md
// ("Adding a subcommand or a flag") says how to add one. The man pages in
// docs/man/ and the shell completions in etc/completion/ are generated
// from this tree (gendocs_test.go), so they cannot drift from it.

// globals are the options every subcommand takes (persistent flags of the
// root command).
type globals struct {
	config string // --config FILE; "" means the built-in defaults
}

// subcommands are the top-level commands, in the order help lists them.
var subcommands = []func(*globals) *cobra.Command{
	newServeCmd,
	newDeliverCmd,
	newReplayCmd,
	newParseCmd,
	newTailCmd,
	newQueryCmd,
	newPublishCmd,
	newKeygenCmd,
	newVerifyCmd,
	newSpoolCmd,
	newJournalCmd,
	newVersionCmd,
}

const rootLong = `mailgw receives the mail that Debian's archive (dak), bug tracker (debbugs)
and package tracker send (from an MTA pipe, over SMTP or LMTP, or from
archives), parses it into structured events, wraps each in a fedmsg envelope
with the topic TOPIC_PREFIX.ENVIRONMENT.SERVICE.OBJECT.EVENT, signs it with
OpenPGP (fedmsg's gpg format) and publishes it on a ZeroMQ PUB socket. Every
envelope is kept in a journal with a gap-free seq_id; a replay endpoint
serves missed messages from it.

Mail is acknowledged (exit 0, SMTP 250) only after it is fsynced into the
spool; it leaves the spool only after its events are journaled, or moves to
quarantine with a reason an operator can read.

Options may come before or after arguments; "--" ends them. Run
'mailgw help COMMAND' or 'mailgw COMMAND --help' for a command's options.`

// newRootCmd builds the whole command tree.
func newRootCmd() *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:     "mailgw",
		Short:   "put Debian's dak, debbugs and package-tracker mail on a fedmsg bus",
		Long:    rootLong,
		Version: versionString(),
		// A bare "mailgw" is a usage error, not a request for help.
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return usageErrorf("a command is required")
		},
		SilenceErrors:     true,
		SilenceUsage:      true,
		DisableAutoGenTag: true,
		// "mailgw completion bash|zsh" works but is not advertised: the
		// package installs the generated files from etc/completion/.
		CompletionOptions: cobra.CompletionOptions{HiddenDefaultCmd: true},
	}
	root.SetVersionTemplate("{{.Version}}")
	// Defined here rather than by cobra so that it has no -v shorthand
	// and appears in the man page.
	root.Flags().Bool("version", false, "print the version, the VCS commit and the Go version, then exit")
	root.PersistentFlags().StringVar(&g.config, "config", "",
		"configuration `FILE` (TOML); without it the built-in defaults apply")
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{err}
	})
	for _, sub := range subcommands {
		root.AddCommand(sub(g))
	}
	root.SetHelpCommand(newHelpCmd(root))
	return root
}

// newHelpCmd is "mailgw help [COMMAND...]": cobra's help command, except
// that an unknown command is a usage error (exit 64), not a help page.
func newHelpCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "help [COMMAND...]",
		Short: "print the help of a command",
		Long:  "Print the help of mailgw or of one of its commands, the same as 'mailgw COMMAND --help'.\n\nExit status: 0; 64 for an unknown command.",
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := root.Find(args)
			if err != nil || len(rest) > 0 {
				return usageErrorf("unknown command %q", strings.Join(args, " "))
			}
			return cmd.Help()
		},
		ValidArgsFunction: func(c *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			cmd, _, err := root.Find(args)
			if err != nil {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var names []cobra.Completion
			for _, s := range cmd.Commands() {
				if s.IsAvailableCommand() && strings.HasPrefix(s.Name(), toComplete) {
					names = append(names, cobra.CompletionWithDesc(s.Name(), s.Short))
				}
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
	}
}

// execute runs the command line args (without the program name) and
// returns the process exit code. Help goes to stdout with exit 0; usage
// errors go to stderr with exit 64 (exitUsage).
func execute(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	c, err := root.ExecuteContextC(ctx)
	var code exitError
	if err == nil {
		return exitOK
	}
	if errors.As(err, &code) {
		return int(code)
	}
	// Everything else is cobra's or a command's complaint about the
	// command line: unknown command or flag, bad flag value, wrong
	// number of arguments.
	if c == nil {
		c = root
	}
	fmt.Fprintf(stderr, "%s: %v\nRun '%s --help' for usage.\n", c.CommandPath(), err, c.CommandPath())
	return exitUsage
}

// exitError carries a command's exit status out of cobra: RunE returns
// exitWith(code).
type exitError int

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// exitWith turns an exit code into RunE's result: nil for 0.
func exitWith(code int) error {
	if code == exitOK {
		return nil
	}
	return exitError(code)
}

// usageError is a command-line mistake: execute prints it with a hint
// and exits 64.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// usageErrorf returns a usageError with a formatted message.
func usageErrorf(format string, a ...any) error {
	return usageError{fmt.Errorf(format, a...)}
}

// Argument checks for cobra.Command.Args: each says what the command
// expects.

// noArgs rejects any argument.
func noArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("unexpected argument %q", args[0])
	}
	return nil
}

// minArgs wants at least n arguments, named what.
func minArgs(n int, what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) < n {
			return usageErrorf("want at least %d %s", n, what)
		}
		return nil
	}
}

// maxArgs wants at most n arguments, named what.
func maxArgs(n int, what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) > n {
			return usageErrorf("want at most %d %s, got %q", n, what, strings.Join(args, " "))
		}
		return nil
	}
}

// exactArgs wants exactly n arguments, named what.
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if len(args) != n {
			return usageErrorf("want %d %s, got %d", n, what, len(args))
		}
		return nil
	}
}

// newGroupCmd is a command that only holds subcommands ("spool",
// "journal"): run alone or with an unknown subcommand it is a usage error.
// It is hidden from help and the man pages until it has a subcommand.
func newGroupCmd(use, short, long string, subs ...*cobra.Command) *cobra.Command {
	c := &cobra.Command{
		Use:   use,
		Short: short,
		Long:  long,
		Args:  cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			return usageErrorf("a subcommand is required (%s)", strings.Join(subNames(c), ", "))
		},
	}
	c.AddCommand(subs...)
	c.Hidden = len(subs) == 0
	return c
}

// subNames lists c's visible subcommands.
func subNames(c *cobra.Command) []string {
	var names []string
	for _, s := range c.Commands() {
		if s.IsAvailableCommand() {
			names = append(names, s.Name())
		}
	}
	return names
}
