package main

import (
	"fmt"
	"os"
)

// cmdKeygen runs "mailgw keygen". Placeholder until its owner lands it.
func cmdKeygen(args []string) int {
	fmt.Fprintln(os.Stderr, "mailgw keygen: not built yet")
	return exitSoftware
}
