package main

import (
	"fmt"
	"os"
)

// cmdDeliver runs "mailgw deliver". Placeholder until its owner lands it.
func cmdDeliver(args []string) int {
	fmt.Fprintln(os.Stderr, "mailgw deliver: not built yet")
	return exitSoftware
}
