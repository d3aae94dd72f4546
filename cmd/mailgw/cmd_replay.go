package main

import (
	"fmt"
	"os"
)

// cmdReplay runs "mailgw replay". Placeholder until its owner lands it.
func cmdReplay(args []string) int {
	fmt.Fprintln(os.Stderr, "mailgw replay: not built yet")
	return exitSoftware
}
