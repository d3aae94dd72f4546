// Command mailgw puts the mail that Debian's dak, debbugs and package
// tracker send on a fedmsg-compatible ZeroMQ bus. main only wires: each
// subcommand lives in its own cmd_*.go file, and all logic lives in the
// parsers, bus and internal packages.
package main

import (
	"fmt"
	"os"
	"sort"
)

// command is one subcommand: run gets the arguments after its name and
// returns the process exit code.
type command struct {
	run   func(args []string) int
	usage string
}

var commands = map[string]command{
	"serve":   {cmdServe, "the daemon: SMTP/LMTP listener, spool pickup, publisher, replay endpoint, metrics"},
	"deliver": {cmdDeliver, "MTA pipe target: spool one mail from stdin (exit 0 spooled, 75 retry later)"},
	"replay":  {cmdReplay, "backfill events from mbox, Maildir and debbugs .log archives"},
	"parse":   {cmdParse, "print the events a mail would produce; publishes nothing"},
	"tail":    {cmdTail, "subscribe to the bus, validate, filter and print messages"},
	"publish": {cmdPublish, "publish a message from the command line or stdin (fedmsg-logger)"},
	"keygen":  {cmdKeygen, "make an OpenPGP signing key"},
	"verify":  {cmdVerify, "verify a signed envelope against a keyring and policy"},
	"spool":   {cmdSpool, "list, show and re-queue spooled and quarantined mail"},
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: mailgw COMMAND [options]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-8s %s\n", n, commands[n].usage)
	}
	fmt.Fprintln(os.Stderr, "\nRun 'mailgw COMMAND -h' for a command's options. See mailgw(8).")
}

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(exitUsage)
	}
	name := os.Args[1]
	switch name {
	case "-h", "--help", "help":
		usage()
		os.Exit(0)
	case "version", "--version":
		fmt.Println("mailgw", version)
		os.Exit(0)
	}
	c, ok := commands[name]
	if !ok {
		fmt.Fprintf(os.Stderr, "mailgw: unknown command %q\n", name)
		usage()
		os.Exit(exitUsage)
	}
	os.Exit(c.run(os.Args[2:]))
}
