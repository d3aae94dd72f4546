// Command mailgw puts the mail that Debian's dak, debbugs and package
// tracker send on a fedmsg-compatible ZeroMQ bus. main only wires: the
// command tree is in root.go, each subcommand in its own cmd_*.go file,
// and all logic lives in the parsers, bus and internal packages.
package main

import (
	"context"
	"os"
)

func main() {
	os.Exit(execute(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
