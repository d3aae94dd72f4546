package main

import (
	"fmt"
	"os"
)

// cmdTail runs "mailgw tail". Placeholder until its owner lands it.
func cmdTail(args []string) int {
	fmt.Fprintln(os.Stderr, "mailgw tail: not built yet")
	return exitSoftware
}
