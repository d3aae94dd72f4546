package main

import (
	"fmt"
	"os"
)

// cmdPublish runs "mailgw publish". Placeholder until its owner lands it.
func cmdPublish(args []string) int {
	fmt.Fprintln(os.Stderr, "mailgw publish: not built yet")
	return exitSoftware
}
