package main

import (
	"fmt"
	"os"
)

// cmdVerify runs "mailgw verify". Placeholder until its owner lands it.
func cmdVerify(args []string) int {
	fmt.Fprintln(os.Stderr, "mailgw verify: not built yet")
	return exitSoftware
}
