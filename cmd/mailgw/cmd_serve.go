package main

import (
	"fmt"
	"os"
)

// cmdServe runs "mailgw serve". Placeholder until its owner lands it.
func cmdServe(args []string) int {
	fmt.Fprintln(os.Stderr, "mailgw serve: not built yet")
	return exitSoftware
}
