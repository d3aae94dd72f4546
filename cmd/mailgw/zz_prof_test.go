package main

import (
	"context"
	"os"
	"strings"
	"testing"
)

func TestZZProfReplay(t *testing.T) {
	args := os.Getenv("PROF_ARGS")
	if args == "" {
		t.Skip()
	}
	execute(context.Background(), strings.Fields(args), os.Stdin, os.Stdout, os.Stderr)
}
