package main

import (
	"fmt"
	"os"
)

// cmdParse runs "mailgw parse". Placeholder until its owner lands it.
func cmdParse(args []string) int {
	fmt.Fprintln(os.Stderr, "mailgw parse: not built yet")
	return exitSoftware
}
