package main

import (
	"fmt"
	"os"
)

// cmdSpool runs "mailgw spool". Placeholder until its owner lands it.
func cmdSpool(args []string) int {
	fmt.Fprintln(os.Stderr, "mailgw spool: not built yet")
	return exitSoftware
}
